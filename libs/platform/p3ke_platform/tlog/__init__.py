"""Transparency-log building blocks shared by the audit log and the witness, each a published standard.

* `merkle`: the RFC 6962 / RFC 9162 Merkle tree (hashes, inclusion and consistency proofs);
* `note`: C2SP `tlog-checkpoint` bodies in C2SP `signed-note`s, signed with Ed25519 (the log's key);
* `cosignature`: C2SP `tlog-cosignature` (`cosignature/v1`, Ed25519) lines, made and checked by witnesses;
* `witness_protocol`: the C2SP `tlog-witness` `add-checkpoint` request and its answers.

Pure code: keys come in as objects, no I/O.
"""
