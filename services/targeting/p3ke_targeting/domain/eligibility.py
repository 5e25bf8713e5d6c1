"""Eligibility rules per program: declarative filters over Data P3KE, owned by the programs.

Pure: the rules come in as data (`EligibilityRules.model_validate`), a loader reads the file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from p3ke_schemas import ProgramCode

PRIORITY_COLUMNS = ("desil_kesejahteraan", "persentil")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgeRange(Strict):
    min: int = Field(ge=0, le=120)
    max: int = Field(ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min > self.max:
            raise ValueError(f"age min {self.min} is greater than max {self.max}")
        return self


class ProgramRule(Strict):
    summary: str = Field(min_length=1, max_length=500)
    age: AgeRange | None = None
    include: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    exclude: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class EligibilityRules(Strict):
    kind: Literal["eligibility-rules"]
    version: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
    priority: tuple[Literal["desil_kesejahteraan", "persentil"], ...] = PRIORITY_COLUMNS
    programs: dict[str, ProgramRule]
    vocabularies: dict[str, tuple[str, ...]]
    checksum: str = Field(default="", description="of the file the rules came from (set by the loader)")

    @model_validator(mode="after")
    def _consistent(self) -> EligibilityRules:
        problems = []
        codes = {p.value for p in ProgramCode}
        for code in self.programs:
            if code not in codes:
                problems.append(f"programs: '{code}' is not one of the programs of Art. 3 ({', '.join(codes)})")
        if not self.priority or self.priority[0] != "desil_kesejahteraan":
            problems.append("priority: must start with desil_kesejahteraan (desil 1 first, DOMAIN.md)")
        for code, rule in self.programs.items():
            for kind, filters in (("include", rule.include), ("exclude", rule.exclude)):
                for column, values in filters.items():
                    vocabulary = self.vocabularies.get(column)
                    where = f"programs.{code}.{kind}.{column}"
                    if vocabulary is None:
                        problems.append(f"{where}: no vocabulary for column '{column}' (add it under vocabularies)")
                        continue
                    if not values:
                        problems.append(f"{where}: empty list")
                    unknown = [v for v in values if v not in vocabulary]
                    if unknown:
                        problems.append(f"{where}: unknown value(s) {', '.join(map(repr, unknown))}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def rules_version(self) -> str:
        """The version as recorded with each extract: the declared version plus the file's checksum,
        so an edit without a version bump is still told apart."""
        return f"{self.version}+{self.checksum[:12]}" if self.checksum else self.version

    def rule_for(self, program: str) -> ProgramRule | None:
        return self.programs.get(program)

    @property
    def occupation_values(self) -> dict[str, str]:
        """Occupation category -> the column it is a value of (pekerjaan or status_pekerjaan)."""
        out = {v: "status_pekerjaan" for v in self.vocabularies.get("status_pekerjaan", ())}
        out.update({v: "pekerjaan" for v in self.vocabularies.get("pekerjaan", ())})
        return out
