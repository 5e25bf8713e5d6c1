"""`p3ke audit map-subject-refs FILE` and `p3ke audit subject-keys`: the log's subject index across rotations of the
subject hash key (P3KE_SUBJECT_HASH_KEYS; p3ke_platform.subject_keys).

`map-subject-refs` reads a pairs file made by `p3ke subject-keys pairs` from NIKs (e.g. the current snapshot) by a
party that holds them, and keeps the pairs whose old reference the index knows: afterwards a lookup under the new
key also finds the entries indexed under the old one, even once the old key has left the ring. The entries and
their index stay as recorded. `subject-keys` shows, per key the index names, how many references only that key can
find: a key may leave the ring when that number is 0 (or their entries are past retention).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from p3ke_platform import console

if TYPE_CHECKING:
    from p3ke_audit.service_layer.context import AuditContext


def register(sub: Any, context: Callable[[], AuditContext]) -> None:
    """Add `map-subject-refs` and `subject-keys`; `context` builds the audit context from the environment."""
    mapping = sub.add_parser("map-subject-refs", help="map old subject references to new ones (subject key "
                             "rotation), from a pairs file of `p3ke subject-keys pairs`",
                             description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mapping.add_argument("pairs", type=Path, help="the pairs file ('-' for stdin)")
    console.add_output_options(mapping, json_help="print {\"pairs_read\", \"mapped\", \"already\", \"keys\"}",
                               progress=False)
    mapping.set_defaults(func=partial(_guarded, "map-subject-refs", _map, context=context))
    status = sub.add_parser("subject-keys", help="per subject hash key: references indexed, and how many only it "
                            "can find (whether it may leave P3KE_SUBJECT_HASH_KEYS)")
    console.add_output_options(status, json_help="print {\"ring\", \"keys\"}", progress=False)
    status.set_defaults(func=partial(_guarded, "subject-keys", _status, context=context))


def _guarded(name: str, body: Callable[..., int], args: argparse.Namespace, context: Callable[[], AuditContext]) -> int:
    return console.guard(f"p3ke audit {name}", args, lambda: body(args, context()))


def _map(args: argparse.Namespace, ctx: AuditContext) -> int:
    from p3ke_audit.service_layer import subject_index
    from p3ke_platform.subject_keys import KeyRingError, read_pairs

    ring = ctx.settings.subject_key_ring
    try:
        with (sys.stdin if str(args.pairs) == "-" else args.pairs.open(encoding="ascii")) as fh:
            header, pairs = read_pairs(fh)
            if ring.get(header.new_key_id) is None:
                raise console.CommandError(
                    f"kunci baru {header.new_key_id} tidak ada di P3KE_SUBJECT_HASH_KEYS ({', '.join(ring.ids)}); "
                    f"pasangan ini tidak akan pernah dicari / the new key {header.new_key_id} is not in "
                    f"P3KE_SUBJECT_HASH_KEYS ({', '.join(ring.ids)}); these pairs would never be looked up",
                    code=console.EXIT_USAGE)
            with ctx.sessions() as session, session.begin():
                result = subject_index.map_refs(session, pairs, old_key_id=header.old_key_id,
                                                new_key_id=header.new_key_id, at=datetime.now(UTC))
                keys = subject_index.coverage(session, ring)
    except KeyRingError as exc:
        raise console.CommandError(f"{args.pairs}: {exc}", code=console.EXIT_USAGE) from None
    except UnicodeDecodeError:
        raise console.CommandError(f"{args.pairs}: bukan berkas pasangan (teks ASCII) / not a pairs file "
                                   "(ASCII text)", code=console.EXIT_USAGE) from None
    finally:
        ctx.engine.dispose()
    out = {"pairs_read": result.pairs_read, "mapped": result.mapped, "already": result.already,
           "keys": [vars(k) for k in keys]}
    console.emit(out, args.json, lambda r: [
        f"{r['pairs_read']} pasangan dibaca, {r['mapped']} dipetakan, {r['already']} sudah ada / pairs read, "
        "mapped, already mapped", *_coverage_lines(r["keys"])])
    return 0


def _status(args: argparse.Namespace, ctx: AuditContext) -> int:
    from p3ke_audit.service_layer import subject_index

    ring = ctx.settings.subject_key_ring
    try:
        with ctx.sessions() as session:
            keys = subject_index.coverage(session, ring)
    finally:
        ctx.engine.dispose()
    out = {"ring": list(ring.ids), "keys": [vars(k) for k in keys]}
    console.emit(out, args.json, lambda r: [f"cincin kunci / key ring: {', '.join(r['ring'])}",
                                            *_coverage_lines(r["keys"])])
    return 0


def _coverage_lines(keys: list[dict[str, Any]]) -> list[str]:
    rows = [(k["key_id"], k["refs"], k["unmapped"], "ya / yes" if k["in_ring"] else "TIDAK / NO") for k in keys]
    return console.table(rows, ["kunci / key", "referensi / refs", "hanya kunci ini / only this key",
                                "di cincin / in ring"]).splitlines() if rows else ["(indeks kosong / empty index)"]
