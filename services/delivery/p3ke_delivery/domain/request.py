"""What the request behind a handover asked, as extract-prepared reported it: who asked (verified by
targeting) and by which path, whom the request named to receive the package, why (the justification and the
purpose code), the criteria and the fields. The BAST shows it in Indonesian; the package password and download
links are bound to it.

Pure Python: no I/O. Account ids and the justification only; nothing of a data subject.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from p3ke_delivery.domain.bahasa import tanggal
from p3ke_schemas import Actor, ExtractCriteria

PATHS = {
    "api": "API layanan targeting P3KE (diajukan oleh akun pemohon yang masuk dengan tokennya)",
    "platform": "platform kementerian (event extract-requested di Kafka)",
}
SEX = {"L": "laki-laki", "P": "perempuan"}


@dataclass(frozen=True)
class AskedFor:
    requester: Actor | None = None
    recipient: Actor | None = None
    path: str | None = None
    justification: str | None = None
    purpose: str | None = None
    criteria: ExtractCriteria | None = None
    fields: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> AskedFor:
        """From a handover row (columns `requester` ... `requested_fields`, JSON where structured)."""
        def actor(value: Any) -> Actor | None:
            return Actor.model_validate_json(value) if value else None

        return cls(requester=actor(row.get("requester")), recipient=actor(row.get("recipient")),
                   path=row.get("request_path"), justification=row.get("justification"),
                   purpose=row.get("purpose"),
                   criteria=ExtractCriteria.model_validate_json(row["criteria"]) if row.get("criteria") else None,
                   fields=tuple(json.loads(row["requested_fields"])) if row.get("requested_fields") else ())

    @property
    def bound(self) -> bool:
        """Whether the release is bound to named accounts (handovers opened before extract-prepared
        carried the requester are not: the agreement's policy alone decides for them)."""
        return self.requester is not None

    def may_receive(self, org: str, subject: str) -> bool:
        """The requester, or the recipient the request named, is the account `org`/`subject`."""
        return any(a is not None and a.org == org and a.subject == subject for a in (self.requester, self.recipient))


def akun(actor: Actor) -> str:
    """`officer-1 (kemnaker; peran program-officer)`; a service account says so."""
    roles = ", ".join(actor.roles) or "tanpa peran"
    kind = "akun layanan " if actor.service_account else ""
    return f"{kind}{actor.subject} ({actor.org}; peran {roles})"


def rentang(numbers: Iterable[int]) -> str:
    """`1–2, 4`: sorted, runs of consecutive numbers joined by an en dash."""
    values = sorted(set(numbers))
    runs: list[list[int]] = []
    for n in values:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def kriteria(criteria: ExtractCriteria, region_name: Callable[[str], str]) -> str:
    """The criteria in Indonesian words, e.g. `Desil 1–2; wilayah 3201 (Kabupaten Bogor); usia 18–60 tahun
    pada 1 Desember 2026; jenis kelamin: perempuan; tanpa penerima ekstrak sebelumnya untuk program ini`."""
    parts = [f"Desil {rentang(criteria.deciles)}" if criteria.deciles else "tanpa desil"]
    if criteria.region_codes:
        parts.append("wilayah " + ", ".join(f"{c} ({region_name(c)})" if region_name(c) != c else c
                                            for c in criteria.region_codes))
    else:
        parts.append("seluruh wilayah")
    low, high = criteria.age_min, criteria.age_max
    if low is not None or high is not None:
        if low is not None and high is not None:
            ages = f"usia {low}–{high} tahun"
        elif low is not None:
            ages = f"usia sekurang-kurangnya {low} tahun"
        else:
            ages = f"usia paling tinggi {high} tahun"
        if criteria.reference_date is not None:
            ages += f" pada {tanggal(criteria.reference_date)}"
        parts.append(ages)
    if criteria.sex:
        parts.append(f"jenis kelamin: {SEX.get(criteria.sex, criteria.sex)}")
    if criteria.occupation_categories:
        parts.append("pekerjaan: " + ", ".join(criteria.occupation_categories))
    if criteria.education_categories:
        parts.append("pendidikan: " + ", ".join(criteria.education_categories))
    parts.append("tanpa penerima ekstrak sebelumnya untuk program ini" if criteria.exclude_already_delivered
                 else "termasuk penerima ekstrak sebelumnya untuk program ini")
    return "; ".join(parts)
