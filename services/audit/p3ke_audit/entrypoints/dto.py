"""HTTP shapes of the audit API (distinct from the tables and from the wire events)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from p3ke_audit.adapters.tree_store import StoredCheckpoint
from p3ke_audit.service_layer.proofs import Inclusion


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

    @classmethod
    def of(cls, row: dict[str, Any]) -> Entry:
        return cls(**{**row, "payload": json.loads(row["payload"]), "leaf_hash": b64(row.get("leaf_hash")),
                      "actor_roles": (row.get("actor_roles") or "").split()})


class CheckpointOut(BaseModel):
    tree_size: int
    root_hash: str
    key_id: str
    issued_at: datetime
    note: str = Field(description="the C2SP signed note (tlog-checkpoint), verifiable with the public key")

    @classmethod
    def of(cls, cp: StoredCheckpoint) -> CheckpointOut:
        return cls(tree_size=cp.tree_size, root_hash=b64(cp.root_hash) or "", key_id=cp.key_id,
                   issued_at=cp.issued_at, note=cp.note)


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
    refused: list[Entry]
    outside_agreement_validity: list[Entry]
    download_without_signed_bast: list[Entry]
    purpose_outside_programs: list[Entry]
    unusual_volume: list[VolumeRow]
