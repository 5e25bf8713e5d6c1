"""`p3ke keys`: the key-encryption keys (KEK) that wrap every artefact's data key (p3ke_platform.envelope).

  p3ke keys new-kek --id k2                   print a new ring entry `k2:<base64>` for the Secret
  p3ke keys rotate-kek --service delivery     re-wrap every live data key under the ring's current KEK

Rotation, in production (P3KE_KEK_FILE is a mounted Secret): add the new entry *first* in the Secret (the old one
stays after it), restart the service, run `rotate-kek`; it reports which KEKs no live data key uses any more;
remove those from the Secret (and from the Secret's history). Wrapped keys left in backups, WAL and dead rows were
wrapped under the removed KEK, so data keys destroyed before the rotation can no longer be opened anywhere. Run it
on a schedule (e.g. monthly) and after disposals. In development (the ring in <data_dir>/keys/kek-ring),
`--generate` adds the new KEK and `--retire` removes the unused ones from that file.
"""

from __future__ import annotations

import argparse
from typing import Any

from p3ke_platform import console


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="key-encryption keys of data keys: a new entry, rotation",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = keys.add_subparsers(dest="keys_action", required=True, metavar="{new-kek,rotate-kek}")
    new = actions.add_parser("new-kek", help="print a new KEK ring entry `<id>:<base64>`")
    new.add_argument("--id", required=True, help="the new KEK's id (lower-case letters, digits, '-'), e.g. k2")
    new.set_defaults(func=lambda args: console.guard("p3ke keys new-kek", args, lambda: _new(args)))
    rotate = actions.add_parser("rotate-kek", help="re-wrap a service's live data keys under the current KEK")
    rotate.add_argument("--service", required=True, help="the service whose database holds the data keys")
    rotate.add_argument("--generate", action="store_true",
                        help="development ring only: add a new KEK first in <data_dir>/keys/kek-ring")
    rotate.add_argument("--retire", action="store_true",
                        help="development ring only: remove the KEKs no live data key uses from that file")
    console.add_output_options(rotate, json_help="print {\"rewrapped\", \"from\", \"live_by_kek\", \"current\", "
                               "\"unused\", \"retired\"}", progress=False)
    rotate.set_defaults(func=lambda args: console.guard("p3ke keys rotate-kek", args, lambda: _rotate(args)))


def _new(args: argparse.Namespace) -> int:
    from p3ke_platform.envelope import new_kek_entry

    print(new_kek_entry(args.id))
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from p3ke_platform.db import make_engine, new_metadata, session_factory, transaction
    from p3ke_platform.envelope import DataKeyStore, data_keys_table, load_kek_ring, new_kek_entry, replace_secret
    from p3ke_platform.launcher import service_specs
    from p3ke_platform.service_context import utc_now
    from p3ke_platform.settings import load_settings

    specs = service_specs()
    if args.service not in specs:
        raise console.CommandError(f"layanan tidak dikenal / unknown service {args.service!r}; one of "
                                   f"{', '.join(specs)}", code=console.EXIT_USAGE)
    settings = load_settings(specs[args.service].settings_class, service=args.service)
    ring = load_kek_ring(settings)
    if (args.generate or args.retire) and not ring.development:
        raise console.CommandError("--generate/--retire hanya untuk cincin pengembangan; di produksi ubah Secret / "
                                   "only for the development ring; in production change the Secret "
                                   "(P3KE_KEK_FILE)", code=console.EXIT_USAGE)
    if args.generate and ring.source is not None:
        numbers = [int(k[3:]) for k in ring.ids if k.startswith("dev") and k[3:].isdigit()]
        entries = [new_kek_entry(f"dev{max(numbers, default=0) + 1}")]
        entries += [line for line in ring.source.read_text(encoding="ascii").splitlines() if line.strip()]
        replace_secret(ring.source, "\n".join(entries) + "\n")
        ring = load_kek_ring(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        if not inspect(engine).has_table("data_keys"):
            raise console.CommandError(f"{args.service} tidak menyimpan kunci data / keeps no data keys (no "
                                       f"data_keys table; run `p3ke migrate`?)", code=console.EXIT_USAGE)
        store = DataKeyStore(data_keys_table(new_metadata()), ring)
        with transaction(session_factory(engine)) as session:
            done = store.rewrap_all(session, utc_now())
    finally:
        engine.dispose()
    retired: list[str] = []
    if args.retire and ring.source is not None and done.unused:
        retired = list(done.unused)
        kept = [line for line in ring.source.read_text(encoding="ascii").splitlines()
                if line.strip() and line.split(":", 1)[0].strip() not in retired]
        replace_secret(ring.source, "\n".join(kept) + "\n")
    result = {"rewrapped": done.rewrapped, "from": done.from_keks, "live_by_kek": done.live_by_kek,
              "current": done.current, "unused": done.unused, "retired": retired}
    console.emit(result, args.json, _human)
    return 0


def _human(r: Any) -> list[str]:
    lines = [f"{r['rewrapped']} kunci data dibungkus ulang di bawah / data keys re-wrapped under KEK {r['current']}",
             "kunci data hidup per KEK / live data keys per KEK: "
             + ", ".join(f"{k}={n}" for k, n in r["live_by_kek"].items())]
    if r["retired"]:
        lines.append(f"dilepas dari cincin pengembangan / removed from the development ring: {', '.join(r['retired'])}")
    elif r["unused"]:
        lines.append(f"tidak dipakai lagi; hapus dari Secret P3KE_KEK_FILE / no longer used; remove from the "
                     f"P3KE_KEK_FILE Secret: {', '.join(r['unused'])}")
    return lines
