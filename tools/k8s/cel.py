"""Reviewed Python translations of the CEL rules (x-kubernetes-validations) of the CRDs in deploy/k8s/crds.

The API server evaluates these rules on admission; offline, each rule text maps to a Python predicate
over the value the rule applies to (`self`). A rule that is not in CEL_RULES is reported as a problem
wherever it applies to a manifest, so a new rule in an updated CRD must be reviewed and translated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# CEL rules of the CRDs, translated and reviewed. `self == oldSelf` rules compare with the stored
# object on update and cannot apply to a manifest alone.
CEL_RULES: dict[str, Callable[[Any], bool] | None] = {
    "self == oldSelf": None,
    "!(has(self.imageCatalogRef) && has(self.imageName))": lambda s: (
        not ("imageCatalogRef" in s and "imageName" in s)
    ),
    "!has(self.builtinLocale) || self.localeProvider == 'builtin'": lambda s: (
        "builtinLocale" not in s or s.get("localeProvider") == "builtin"
    ),
    "!has(self.icuLocale) || self.localeProvider == 'icu'": lambda s: (
        "icuLocale" not in s or s.get("localeProvider") == "icu"
    ),
    "!has(self.icuRules) || self.localeProvider == 'icu'": lambda s: (
        "icuRules" not in s or s.get("localeProvider") == "icu"
    ),
    '(has(self.type) && self.type != "topology-label") || self.topologyKey != ""': lambda s: (
        ("type" in s and s["type"] != "topology-label") or s.get("topologyKey") not in (None, "")
    ),
    'has(self.type) == false || self.type != "environment-variable" || self.envVarName != ""': lambda s: (
        "type" not in s or s["type"] != "environment-variable" or s.get("envVarName") not in (None, "")
    ),
    "self.type == 'tls' || (!has(self.validityDays) && !has(self.renewalDays))": lambda s: (
        s["type"] == "tls" or ("validityDays" not in s and "renewalDays" not in s)
    ),
    "self.type != 'tls' || (has(self.renewalDays) == has(self.validityDays))": lambda s: (
        s["type"] != "tls" or (("renewalDays" in s) == ("validityDays" in s))
    ),
    "self.type != 'tls' || !has(self.renewalDays) || !has(self.validityDays) "
    "|| self.renewalDays < self.validityDays": lambda s: (
        s["type"] != "tls"
        or "renewalDays" not in s
        or "validityDays" not in s
        or s["renewalDays"] < s["validityDays"]
    ),
    "self.kind == 'ImageCatalog' || self.kind == 'ClusterImageCatalog'": lambda s: (
        s["kind"] in ("ImageCatalog", "ClusterImageCatalog")
    ),
    "self.apiGroup == 'postgresql.cnpg.io'": lambda s: s.get("apiGroup") == "postgresql.cnpg.io",
    "!(has(self.syncReplicaElectionConstraint) && self.syncReplicaElectionConstraint.enabled "
    "&& has(self.synchronous) && ((has(self.synchronous.podFailureDomainKeys) "
    "&& self.synchronous.podFailureDomainKeys.size() > 0) || (has(self.synchronous.nodeFailureDomainKeys) "
    "&& self.synchronous.nodeFailureDomainKeys.size() > 0)))": lambda s: (
        not (
            s.get("syncReplicaElectionConstraint", {}).get("enabled")
            and (
                s.get("synchronous", {}).get("podFailureDomainKeys")
                or s.get("synchronous", {}).get("nodeFailureDomainKeys")
            )
        )
    ),
    "self.dataDurability!='preferred' || ((!has(self.standbyNamesPre) || self.standbyNamesPre.size()==0) "
    "&& (!has(self.standbyNamesPost) || self.standbyNamesPost.size()==0))": lambda s: (
        s.get("dataDurability") != "preferred"
        or (not s.get("standbyNamesPre") and not s.get("standbyNamesPost"))
    ),
    "!(has(self.podFailureDomainKeys) && self.podFailureDomainKeys.size() > 0 "
    "&& has(self.nodeFailureDomainKeys) && self.nodeFailureDomainKeys.size() > 0)": lambda s: (
        not (s.get("podFailureDomainKeys") and s.get("nodeFailureDomainKeys"))
    ),
    "self > 0": lambda s: s > 0,
    "self.type != 'jmxPrometheusExporter' || has(self.valueFrom)": lambda s: (
        s["type"] != "jmxPrometheusExporter" or "valueFrom" in s
    ),
    "self.type != 'strimziMetricsReporter'": lambda s: s["type"] != "strimziMetricsReporter",
}


def all_cel_rules(schema: Any) -> set[str]:
    """The text of every CEL rule anywhere in an openAPIV3Schema (or any part of one)."""
    if isinstance(schema, dict):
        found = {r["rule"] for r in schema.get("x-kubernetes-validations", [])}
        return found.union(*(all_cel_rules(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(all_cel_rules(v) for v in schema))
    return set()


def cel_problems(schema: dict[str, Any], value: Any, path: str) -> list[str]:
    """Evaluate the CEL rules of `schema` on `value` and, recursively, on the values its properties describe.

    `path` names `value` in the problems ("" for a whole document). A rule without a translation in
    CEL_RULES is itself a problem; a rule translated as None (it needs the stored object) is skipped.
    """
    problems = []
    for rule in schema.get("x-kubernetes-validations", []):
        if rule["rule"] not in CEL_RULES:
            problems.append(
                f"{path}: CEL rule not translated, review it and add it to CEL_RULES: {rule['rule']}"
            )
            continue
        check = CEL_RULES[rule["rule"]]
        if check is not None and not check(value):
            problems.append(f"{path}: {rule.get('message', rule['rule'])}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in props:
                problems += cel_problems(props[key], sub, f"{path}.{key}")
            elif isinstance(extra, dict):
                problems += cel_problems(extra, sub, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problems += cel_problems(schema["items"], item, f"{path}[{i}]")
    return problems
