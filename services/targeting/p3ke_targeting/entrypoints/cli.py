"""`p3ke targeting ...`: operator commands of the targeting service.

    p3ke targeting rekey-ledgers --pairs PAIRS [--dry-run] [--json]

`rekey-ledgers` rewrites the recipient ledgers kept under the old subject hash key of a pairs file
(`p3ke subject-keys pairs`) under its new key, and records the new key id per extract
(`service_layer/rekey.py`). Run it with the targeting service's settings (P3KE_DATABASE_URL, P3KE_DATA_DIR,
P3KE_SUBJECT_HASH_KEYS holding the new key), where the ledgers are. A ledger with references the pairs do not hold is
refused and left as it is (exit 1): compute the pairs from a snapshot that holds those people.
"""

from __future__ import annotations

import argparse
from typing import Any

from p3ke_platform.subject_keys_cli import add_rekey_options, rekey_command


def register(subparsers: Any) -> None:
    targeting = subparsers.add_parser("targeting", help="targeting operations: rekey-ledgers (subject key rotation)",
                                      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = targeting.add_subparsers(dest="targeting_command", required=True, metavar="COMMAND")
    rekey = sub.add_parser("rekey-ledgers", help="re-key the recipient ledgers to a new subject hash key, from a "
                           "pairs file of `p3ke subject-keys pairs`",
                           description="Rewrite every recipient ledger kept under the pairs' old key under their new "
                           "key (per file: written aside, flushed, renamed; the extract's ledger_key_id updated). A "
                           "ledger with references the pairs lack is refused and left unchanged (exit 1).")
    add_rekey_options(rekey)
    rekey.set_defaults(func=run_rekey_ledgers)


def run_rekey_ledgers(args: argparse.Namespace) -> int:
    from p3ke_targeting.config import TargetingSettings
    from p3ke_targeting.service_layer.rekey import rekey_ledgers

    return rekey_command("targeting", TargetingSettings, "p3ke targeting rekey-ledgers", args, rekey_ledgers)
