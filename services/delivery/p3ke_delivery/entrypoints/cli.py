"""`p3ke bast ...`: what a signatory runs on their own machine, and the local development CA.

    p3ke bast sign BAST.pdf --party 2 --key my.key.pem --cert my.cert.pem -o signed.pdf
    p3ke bast sign BAST.pdf --party 1 --pkcs12 my.p12 --passphrase-env MY_P12_PASSPHRASE
    p3ke bast dev-ca [--out DIR]        # development only: a CA + a certificate per signatory
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    bast = subparsers.add_parser("bast", help="sign a BAST (signatories); development certificates",
                                 description="Work with BAST documents (Berita Acara Serah Terima).")
    sub = bast.add_subparsers(dest="bast_command", required=True, metavar="COMMAND")

    sign = sub.add_parser("sign", help="sign a BAST PDF with your own key (PAdES, incremental update)",
                          description="Add your PAdES signature to your party's field of a BAST downloaded from "
                          "the delivery service (GET /v1/handovers/<id>/bast), then upload the output "
                          "(POST /v1/handovers/<id>/signatures). Your key never leaves this machine.")
    sign.add_argument("input", type=Path, help="the BAST PDF as downloaded (unsigned or signed by the other party)")
    sign.add_argument("--party", type=int, choices=(1, 2), required=True,
                      help="1 = PIHAK KESATU (Kemenko PMK), 2 = PIHAK KEDUA (Kemnaker)")
    sign.add_argument("--key", type=Path, help="your private key (PEM or DER)")
    sign.add_argument("--cert", type=Path, help="your certificate (PEM or DER)")
    sign.add_argument("--chain", type=Path, action="append", default=[],
                      help="intermediate/CA certificate to embed (repeatable)")
    sign.add_argument("--pkcs12", type=Path, help="your key and certificate as PKCS#12 (.p12/.pfx) instead")
    sign.add_argument("--passphrase-env", metavar="VAR",
                      help="environment variable holding the key's or PKCS#12 passphrase")
    sign.add_argument("-o", "--output", type=Path, help="where to write the signed PDF "
                      "(default: <input>-ttd-pihak-<party>.pdf)")
    sign.add_argument("--reason", help="reason shown in PDF readers")
    sign.add_argument("--location", help="place of signing shown in PDF readers, e.g. Jakarta")
    sign.set_defaults(func=run_sign)

    dev = sub.add_parser("dev-ca", help="DEVELOPMENT ONLY: a CA and a certificate for each signatory",
                         description="Write a throwaway certificate authority, a key + certificate (+ .p12, "
                         "passphrase p3ke-dev) for every signatory in the agreement configuration, and "
                         "the signatory-certificates.yaml mapping the delivery service reads. Refused when "
                         "P3KE_ENV=production; the service never trusts it in production.")
    dev.add_argument("--out", type=Path, help="directory (default: <P3KE_DATA_DIR>/dev-ca, which the local "
                     "delivery service trusts by default)")
    dev.add_argument("--data-dir", type=Path, help="P3KE_DATA_DIR to use for the default --out")
    dev.add_argument("--days", type=int, default=365, help="certificate lifetime (default 365)")
    dev.add_argument("--force", action="store_true", help="replace an existing development CA")
    dev.set_defaults(func=run_dev_ca)


def run_sign(args: argparse.Namespace) -> int:
    from p3ke_delivery.adapters.signing import SigningError, load_signer, sign_bast

    passphrase = None
    if args.passphrase_env:
        value = os.environ.get(args.passphrase_env)
        if value is None:
            print(f"p3ke bast sign: environment variable {args.passphrase_env} is not set", file=sys.stderr)
            return 2
        passphrase = value.encode()
    output = args.output or args.input.with_name(f"{args.input.stem}-ttd-pihak-{args.party}.pdf")
    try:
        signer = load_signer(key=args.key, cert=args.cert, chain=args.chain, pkcs12=args.pkcs12,
                             passphrase=passphrase)
        signed = sign_bast(args.input.read_bytes(), signer, party=args.party, reason=args.reason,
                           location=args.location)
    except (SigningError, OSError, ValueError) as exc:
        print(f"p3ke bast sign: {exc}", file=sys.stderr)
        return 2
    output.write_bytes(signed)
    print(f"signed: {output}")
    print(f"sha256: {hashlib.sha256(signed).hexdigest()}")
    return 0


def run_dev_ca(args: argparse.Namespace) -> int:
    from p3ke_delivery.adapters.dev_ca import DEV_MARK, SignatoryInfo, write_dev_ca
    from p3ke_delivery.config import DeliverySettings
    from p3ke_platform.agreement import load_agreement
    from p3ke_platform.settings import load_settings

    overrides: dict[str, Any] = {"data_dir": args.data_dir} if args.data_dir else {}
    settings = load_settings(DeliverySettings, **overrides)
    if settings.env == "production":
        print("p3ke bast dev-ca: refused: P3KE_ENV is production; use the e-signature CA's certificates",
              file=sys.stderr)
        return 2
    out = args.out or settings.dev_ca_dir
    if (out / "ca.pem").exists() and not args.force:
        print(f"p3ke bast dev-ca: {out} already holds a development CA; --force replaces it (signatures "
              f"made with the old certificates then no longer verify)", file=sys.stderr)
        return 2
    agreement = load_agreement(settings.agreement_dir, settings.agreement_include_examples)
    seen: dict[str, SignatoryInfo] = {}
    for _, terms in agreement.timeline():
        for s in terms.signatories:
            seen.setdefault(s.id, SignatoryInfo(s.id, s.party, s.org, s.name, s.position, s.acting_for))
    written = write_dev_ca(out, list(seen.values()), days=args.days)
    print(f"{DEV_MARK}\ndevelopment CA: {written['ca']}")
    for sid in seen:
        print(f"  {sid}: {out / (sid + '.key.pem')} + {written[sid]} (or {out / (sid + '.p12')}, "
              f"passphrase p3ke-dev)")
    print(f"mapping: {written['mapping']}")
    if args.out:
        print(f"point the service at it: P3KE_DELIVERY_TRUST_ANCHORS={written['ca']} "
              f"P3KE_DELIVERY_SIGNATORY_CERTIFICATES={written['mapping']}")
    return 0
