"""The cooperation agreement (PKS) as configuration, and the one policy that applies it.

Why here: every service must refuse the same requests for the same reasons, so the terms are data
(versioned YAML, changed only by addendum, Art. 14) and the decision is one pure function.

    agreement = load_agreement(settings.agreement_dir)      # at start-up, once
    policy = Policy(agreement)
    decision = policy.decide("kemnaker", ["program-officer"], "request-extract",
                             "padat_karya", ["nik", "nama"], at=now)
"""

from .loader import BUNDLED_DIR, AgreementConfigError, load_agreement, load_record
from .model import (
    ACTIONS,
    DATA_ACTIONS,
    DISCLOSURE_ACTIONS,
    Action,
    Addendum,
    Agreement,
    DisclosureConsent,
    Program,
    TerminationNotice,
    Terms,
    WrittenApproval,
)
from .policy import WIB, Decision, Policy, Rule, agreement_day

__all__ = [
    "ACTIONS",
    "BUNDLED_DIR",
    "DATA_ACTIONS",
    "DISCLOSURE_ACTIONS",
    "WIB",
    "Action",
    "Addendum",
    "Agreement",
    "AgreementConfigError",
    "Decision",
    "DisclosureConsent",
    "Policy",
    "Program",
    "Rule",
    "TerminationNotice",
    "Terms",
    "WrittenApproval",
    "agreement_day",
    "load_agreement",
    "load_record",
]
