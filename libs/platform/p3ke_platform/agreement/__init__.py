"""The cooperation agreement (PKS) as configuration, and the one policy that applies it.

Why here: every service must refuse the same requests for the same reasons, so the terms are data
(versioned YAML, changed only by addendum, Art. 14) and the decision is one pure function.

    agreement = load_agreement(settings.agreement_dir,      # at start-up, once; production: under the
                               manifest=settings.agreement_manifest)  # operator's list of SHA-256
    policy = Policy(agreement)
    decision = policy.decide("kemnaker", ["program-officer"], "request-extract",
                             "padat_karya", ["nik", "nama"], at=now, purpose="seleksi_calon_peserta")
    decision.terms_sha256                                     # the digest of the exact files: audit it
"""

from .loader import BUNDLED_DIR, AgreementConfigError, load_agreement, load_record, read_manifest, record_files
from .model import (
    ACTIONS,
    DATA_ACTIONS,
    DISCLOSURE_ACTIONS,
    PURPOSE_ACTIONS,
    Action,
    Addendum,
    AgeRange,
    Agreement,
    DisclosureConsent,
    Eligibility,
    Program,
    Purpose,
    Reading,
    SourceFile,
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
    "PURPOSE_ACTIONS",
    "WIB",
    "Action",
    "Addendum",
    "AgeRange",
    "Agreement",
    "AgreementConfigError",
    "Decision",
    "DisclosureConsent",
    "Eligibility",
    "Policy",
    "Program",
    "Purpose",
    "Reading",
    "Rule",
    "SourceFile",
    "TerminationNotice",
    "Terms",
    "WrittenApproval",
    "agreement_day",
    "load_agreement",
    "load_record",
    "read_manifest",
    "record_files",
]
