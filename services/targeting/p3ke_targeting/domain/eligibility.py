"""Eligibility rules per program: declarative filters over Data P3KE, owned by the programs.

The rules file has the four programs of Art. 3 (and may have any program the parties added); a program added by
written approval or addendum without an entry here brings its own eligibility from the agreement
(`Policy.eligibility_for`), checked against this file's vocabularies when a request is decided (`added_rule`).

Pure: the rules come in as data (`EligibilityRules.model_validate`), a loader reads the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from p3ke_platform.agreement import Eligibility

PRIORITY_COLUMNS = ("desil_kesejahteraan", "persentil")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ProgramRule = Eligibility
"""One program's rule: the same model as a program's eligibility in the agreement (an addendum's program or a
written approval brings one), so the rules file and the agreement describe whom a program targets alike."""


class EligibilityRules(Strict):
    kind: Literal["eligibility-rules"]
    version: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
    priority: tuple[Literal["desil_kesejahteraan", "persentil"], ...] = PRIORITY_COLUMNS
    programs: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")], ProgramRule]
    vocabularies: dict[str, tuple[str, ...]]
    checksum: str = Field(default="", description="of the file the rules came from (set by the loader)")

    @model_validator(mode="after")
    def _consistent(self) -> EligibilityRules:
        problems = []
        if not self.priority or self.priority[0] != "desil_kesejahteraan":
            problems.append("priority: must start with desil_kesejahteraan (desil 1 first, DOMAIN.md)")
        for code, rule in self.programs.items():
            problems += self.problems_of(rule, f"programs.{code}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def rules_version(self) -> str:
        """The version as recorded with each extract: the declared version plus the file's checksum,
        so an edit without a version bump is still told apart."""
        return f"{self.version}+{self.checksum[:12]}" if self.checksum else self.version

    def problems_of(self, rule: ProgramRule, where: str) -> list[str]:
        """What in `rule` names a column or value outside the vocabularies (empty: usable)."""
        problems = []
        for kind, filters in (("include", rule.include), ("exclude", rule.exclude)):
            for column, values in filters.items():
                vocabulary = self.vocabularies.get(column)
                at = f"{where}.{kind}.{column}"
                if vocabulary is None:
                    problems.append(f"{at}: no vocabulary for column '{column}' (add it under vocabularies)")
                    continue
                if not values:
                    problems.append(f"{at}: empty list")
                unknown = [v for v in values if v not in vocabulary]
                if unknown:
                    problems.append(f"{at}: unknown value(s) {', '.join(map(repr, unknown))}")
        return problems

    def rule_for(self, program: str) -> ProgramRule | None:
        return self.programs.get(program)

    def added_rule(self, program: str, eligibility: Mapping[str, Any], source: str) -> ProgramRule:
        """A program the parties added (written approval or addendum) brings its eligibility as data in the
        rules file's shape; it is checked against this file's vocabularies when a request is decided.
        Raises ValueError with a reason a person can read (Indonesian first) when it cannot be used."""
        where = f"{source}.eligibility"
        try:
            rule = ProgramRule.model_validate(eligibility)
        except ValidationError as exc:
            problems = [f"{where}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)]
        else:
            problems = self.problems_of(rule, where)
        if problems:
            raise ValueError(f"aturan kelayakan program {program} dari {source} tidak dapat dipakai: kolom atau "
                             f"nilainya tidak dikenal oleh aturan kelayakan {self.rules_version} / the eligibility of "
                             f"program {program} from {source} cannot be used: {'; '.join(problems)} (rules "
                             f"{self.rules_version}; correct the approval or addendum, or add the value to the "
                             f"rules file's vocabularies)")
        return rule

    @property
    def occupation_values(self) -> dict[str, str]:
        """Occupation category -> the column it is a value of (pekerjaan or status_pekerjaan)."""
        out = {v: "status_pekerjaan" for v in self.vocabularies.get("status_pekerjaan", ())}
        out.update({v: "pekerjaan" for v in self.vocabularies.get("pekerjaan", ())})
        return out
