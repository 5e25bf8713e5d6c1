"""Random identifiers that never look like personal data.

Why: the log and audit redaction masks any run of digits that could be a NIK, so a random hex id that
happens to be all digits (about 1 in 1,900 for 16 hex characters) would be masked in the audit log and no
longer findable there. `random_id` draws again until the token holds no run of 8 digits or more.
"""

from __future__ import annotations

import re
import secrets

_DIGIT_RUN = re.compile(r"\d{8}")


def random_id(prefix: str, length: int = 16) -> str:
    """`<prefix>-<length hex characters>`, with no run of 8 or more digits in it."""
    while True:
        token = secrets.token_hex((length + 1) // 2)[:length]
        if not _DIGIT_RUN.search(token):
            return f"{prefix}-{token}"
