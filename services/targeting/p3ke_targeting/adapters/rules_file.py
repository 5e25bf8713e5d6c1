"""Read the eligibility rules file; a bad file stops start-up with a message naming it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import ValidationError

from p3ke_platform.settings import ConfigurationError
from p3ke_targeting.domain.eligibility import EligibilityRules


def load_rules(path: Path) -> EligibilityRules:
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"P3KE_TARGETING_RULES_FILE: cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"P3KE_TARGETING_RULES_FILE: {path} is not a YAML mapping")
    try:
        return EligibilityRules.model_validate({**data, "checksum": hashlib.sha256(raw).hexdigest()})
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])) or 'rules'}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise ConfigurationError(f"P3KE_TARGETING_RULES_FILE: {path}:\n  " + "\n  ".join(lines)) from None
