"""HTTP shapes of the audit API (distinct from the tables and from the wire events)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from p3ke_audit.adapters.tree_store import StoredCheckpoint
from p3ke_audit.domain.entry import canonical_fields
from p3ke_audit.service_layer.proofs import Inclusion
from p3ke_platform.tlog.cosignature import Cosignature


def b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(bytes(value)).decode()


class Entry(BaseModel):
    seq: int
    leaf_index: int | None = Field(description="position in the Merkle tree (null: not in the tree)")
    leaf_hash: str | None = Field(description="base64 SHA-256(0x00 || canonical entry)")
    event_id: str
    event_type: str
    source: str
    service: str | None
    actor_org: str | None
    actor_subject: str | None
    actor_roles: list[str]
    action: str | None
    resource_type: str | None
    resource_id: str | None
    outcome: str | None
    program: str | None
    agreement_id: str | None
    record_count: int
    occurred_at: datetime
    recorded_at: datetime
    payload: dict[str, Any]
    key_id: str | None = Field(default=None, description="the id of the key that signed the event (its JWS `kid`; "
                               "null: an entry from before events were signed)")
    signature: str | None = Field(default=None, description="the event's detached JWS (`<protected>..<signature>`) "
                                  "over the entry's envelope and payload")
    bast_number: str | None = Field(default=None, description="the BAST of the handover concerned, if any")
    leaf: dict[str, Any] | None = Field(default=None, description="the entry exactly as its leaf covers it: "
                                        "leaf_hash = SHA-256(0x00 || RFC 8785 JCS of this object) for format 3 "
                                        "(`v`), and for formats 1 and 2 whose integers are within 2^53 (see the "
                                        "audit README); null: a damaged row with no canonical form")

    @classmethod
    def of(cls, row: dict[str, Any]) -> Entry:
        try:
            leaf: dict[str, Any] | None = canonical_fields(row)
        except (TypeError, ValueError):  # a damaged row: `p3ke audit verify` names it
            leaf = None
        return cls(**{**row, "payload": json.loads(row["payload"]), "leaf_hash": b64(row.get("leaf_hash")),
                      "actor_roles": (row.get("actor_roles") or "").split(), "leaf": leaf})


class CosignatureOut(BaseModel):
    witness: str = Field(description="the witness's name (its key name)")
    key_id: str = Field(description="hex of the witness's 4-byte cosignature/v1 key id")
    signed_at: datetime = Field(description="the time inside the cosignature")

    @classmethod
    def of(cls, c: Cosignature) -> CosignatureOut:
        return cls(witness=c.witness.name, key_id=c.witness.key_id.hex(), signed_at=c.signed_at)


class CheckpointOut(BaseModel):
    tree_size: int
    root_hash: str
    key_id: str
    issued_at: datetime
    note: str = Field(description="the C2SP signed note (tlog-checkpoint), verifiable with the public key")
    cosignatures: list[CosignatureOut] | None = Field(
        default=None, description="the configured witnesses' cosignatures of it, each verified (null: not looked "
        "up in this answer; `?format=note` carries the lines)")
    witnessed: bool | None = Field(
        default=None, description="cosigned by a quorum (P3KE_AUDIT_WITNESS_QUORUM, at least 1) of the configured "
        "witnesses (null: not looked up in this answer)")

    @classmethod
    def of(cls, cp: StoredCheckpoint, cosignatures: Sequence[Cosignature] | None = None,
           quorum: int = 0) -> CheckpointOut:
        """`cosignatures`: the verified ones, when looked up (then `witnessed` says whether `quorum` is met)."""
        return cls(tree_size=cp.tree_size, root_hash=b64(cp.root_hash) or "", key_id=cp.key_id,
                   issued_at=cp.issued_at, note=cp.note,
                   cosignatures=None if cosignatures is None else [CosignatureOut.of(c) for c in cosignatures],
                   witnessed=None if cosignatures is None else quorum >= 1 and len(cosignatures) >= quorum)


class InclusionOut(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    inclusion_proof: list[str] = Field(description="base64 hashes, RFC 9162 order (leaf's sibling first)")
    root_hash: str
    checkpoint: CheckpointOut | None = Field(description="the signed head of tree_size, if one was issued")
    entry: dict[str, Any] = Field(description="the canonical fields the leaf commits to")

    @classmethod
    def of(cls, inc: Inclusion) -> InclusionOut:
        return cls(leaf_index=inc.leaf_index, tree_size=inc.tree_size, leaf_hash=b64(inc.leaf_hash) or "",
                   inclusion_proof=[b64(h) or "" for h in inc.proof], root_hash=b64(inc.root) or "",
                   checkpoint=CheckpointOut.of(inc.checkpoint) if inc.checkpoint else None, entry=inc.entry)


class EntryWithProof(BaseModel):
    entry: Entry
    inclusion: InclusionOut | None
    not_yet_checkpointed: str | None = None


class ConsistencyOut(BaseModel):
    first: int
    second: int
    consistency_proof: list[str]


class PublicKeyOut(BaseModel):
    origin: str
    key_id: str
    verifier_key: str = Field(description="name+keyid+base64(0x01||key): the C2SP/sumdb verifier key")
    public_key_pem: str


class VerificationOut(BaseModel):
    started_at: datetime
    finished_at: datetime
    tree_size: int
    checkpoint_size: int | None
    ok: bool
    first_bad_leaf: int | None
    message: str


class IntegrityOut(BaseModel):
    tree_size: int
    latest_checkpoint: CheckpointOut | None
    last_verification: VerificationOut | None
    witnessed: bool = Field(default=False, description="the latest checkpoint is cosigned by a quorum of witnesses")
    latest_witnessed_size: int = Field(default=0, description="the largest checkpoint a quorum cosigned (0: none)")
    unwitnessed_entries: int = Field(default=0, description="entries after the latest witnessed checkpoint")


class WitnessOut(BaseModel):
    name: str
    vkey: str = Field(description="its cosignature/v1 verifier key")
    url: str = Field(description="its submission prefix (the log POSTs <url>/add-checkpoint)")
    status: str = Field(description="ok | unreachable | refused | behind | not-contacted (no attempt recorded yet)")
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    cosigned_size: int | None = Field(description="the largest checkpoint it cosigned for this log")
    witness_size: int | None = Field(description="the size it last said it knows")


class WitnessesOut(BaseModel):
    quorum: int = Field(description="cosignatures that make a checkpoint witnessed (0: witnessing not required)")
    tree_size: int
    latest_checkpoint_size: int | None
    latest_witnessed_size: int = Field(description="the largest checkpoint a quorum verifiably cosigned (0: none)")
    latest_witnessed_at: datetime | None = Field(description="when the last of its quorum cosigned it")
    latest_witnessed_by: list[str] = Field(description="the witnesses whose cosignatures of it verify")
    unwitnessed_entries: int = Field(description="tree size - latest witnessed size")
    witnesses: list[WitnessOut]


class SubjectQuery(BaseModel):
    """A data subject's trail (UU PDP Art. 32). The NIK travels in the body, never in a URL, and is
    turned into its keyed hash at once; it is neither stored nor logged."""

    nik: str = Field(min_length=16, max_length=16, pattern=r"^[0-9]{16}$")
    since: datetime | None = None
    until: datetime | None = None
    after: int = Field(default=0, ge=0, le=2**62)
    limit: int = Field(default=100, ge=1, le=100_000)


class BundleQuery(BaseModel):
    since: datetime
    until: datetime
    nik: str | None = Field(default=None, min_length=16, max_length=16, pattern=r"^[0-9]{16}$")
    actor_subject: str | None = None
    actor_org: str | None = None
    role: str | None = None
    action: str | None = None
    outcome: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    program: str | None = None
    limit: int = Field(default=1000, ge=1, le=100_000)
    consistency_from: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(
        default_factory=list, max_length=20, description="tree sizes of checkpoints you trust (saved earlier): the "
        "bundle carries a consistency proof from each (up to its checkpoint's size) for `verify-bundle "
        "--trusted-checkpoint`")


class SummaryRow(BaseModel):
    actor_org: str | None
    month: str
    outcome: str | None
    accesses: int
    records: int


class VolumeRow(BaseModel):
    actor_org: str | None
    actor_subject: str | None
    day: str
    accesses: int
    records: int


class Violations(BaseModel):
    since: datetime
    until: datetime
    refused: list[Entry] = Field(description="every refused attempt (outcome denied)")
    outside_agreement_validity: list[Entry] = Field(description=(
        "an allowed data action of the agreement while it was not in force (Art. 8): an extract selected, a BAST "
        "signature accepted, a package password released, a package downloaded, a planning query over the register. "
        "Feedback, reports, reading a BAST and compliance queries outlive the agreement (Art. 8(3)) and are not "
        "listed"))
    download_without_signed_bast: list[Entry] = Field(description="a package download before both parties signed "
                                                                   "its BAST (Art. 6(1))")
    purpose_outside_programs: list[Entry] = Field(description=(
        "an allowed access for a program the agreement did not cover at that moment (not among the programs of the "
        "terms in force that day, Art. 3 and addenda, nor covered by a written approval of party 1 valid that day, "
        "Art. 10(2)), or party 2's access naming no program"))
    unusual_volume: list[VolumeRow]
