"""`p3ke bast ...`: what a signatory runs on their own machine, and the local development CA.

    p3ke bast sign BAST.pdf --party 2 --key my.key.pem --cert my.cert.pem -o signed.pdf
    p3ke bast sign BAST.pdf --party 1 --pkcs12 my.p12 --passphrase-env MY_P12_PASSPHRASE
    p3ke bast dev-ca [--out DIR]        # development only: a CA + a certificate per signatory
    p3ke bast revoke CERT [--reason R]  # development only: the dev CA revokes a certificate (its CRL)
    p3ke bast mapping-entry CERT --signatory ID   # the signatory-certificates.yaml entry of a certificate
    p3ke delivery rekey-subject-refs --pairs PAIRS [--dry-run]   # subject hash key rotation (service_layer/rekey.py)

Both print a short human summary on stdout, or one JSON document with --json; errors go to stderr
(and, with --json, as {"error": {...}} on stdout) with exit code 2 (see p3ke_platform.console).
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path
from typing import Any

from p3ke_delivery.adapters.dev_ca import REVOCATION_REASONS
from p3ke_platform import console
from p3ke_platform.subject_keys_cli import add_rekey_options, rekey_command


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
    console.add_output_options(sign, json_help="print the output file, its SHA-256 and size as JSON",
                               progress=False)
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
    console.add_output_options(dev, json_help="print the files written (CA, keys, certificates, mapping) as JSON",
                               progress=False)
    dev.set_defaults(func=run_dev_ca)

    revoke = sub.add_parser("revoke", help="DEVELOPMENT ONLY: revoke a certificate of the development CA",
                            description="Add a certificate issued by the development CA to the CA's revocation "
                            "list (ca.crl, next to ca.pem). The delivery service reads that list for every "
                            "signature it checks, so signatures with the certificate are refused from now on. "
                            "Refused when P3KE_ENV=production (a real CA revokes its own certificates).")
    revoke.add_argument("cert", type=Path, help="the certificate to revoke (PEM or DER), e.g. <dev-ca>/<id>.cert.pem")
    revoke.add_argument("--ca-dir", type=Path, help="the development CA's directory (default: <P3KE_DATA_DIR>/dev-ca)")
    revoke.add_argument("--data-dir", type=Path, help="P3KE_DATA_DIR to use for the default --ca-dir")
    revoke.add_argument("--reason", default="unspecified", choices=sorted(REVOCATION_REASONS),
                        help="the CRL reason code (default unspecified)")
    console.add_output_options(revoke, json_help="print the revoked serial, the time and the CRL as JSON",
                               progress=False)
    revoke.set_defaults(func=run_revoke)

    entry = sub.add_parser("mapping-entry", help="print the signatory-certificates.yaml entry of a certificate",
                           description="Print the entry that maps a certificate to a signatory of the agreement "
                           "in P3KE_DELIVERY_SIGNATORY_CERTIFICATES: issuer and serial number, the SHA-256 pin, "
                           "and the subject for the reader (services/delivery/README.md).")
    entry.add_argument("cert", type=Path, help="the signatory's certificate (PEM or DER)")
    entry.add_argument("--signatory", required=True, help="the signatory id in the agreement configuration")
    console.add_output_options(entry, json_help="print the entry as JSON", progress=False)
    entry.set_defaults(func=run_mapping_entry)

    delivery = subparsers.add_parser("delivery", help="delivery operations: rekey-subject-refs (subject key "
                                     "rotation)", description="Operator commands of the delivery service.")
    ops = delivery.add_subparsers(dest="delivery_command", required=True, metavar="COMMAND")
    rekey = ops.add_parser("rekey-subject-refs", help="re-key the handovers' subject-reference files to a new subject "
                           "hash key, from a pairs file of `p3ke subject-keys pairs`",
                           description="Rewrite every handover's subject-refs.txt kept under the pairs' old key under "
                           "their new key (per file: written aside, flushed, renamed; the handover's subject_key_id "
                           "updated). Run it with the delivery service's settings (P3KE_DATABASE_URL, its storage "
                           "directory, P3KE_SUBJECT_HASH_KEYS holding the new key). A file with references the pairs "
                           "lack is refused and left unchanged (exit 1): compute the pairs from a snapshot that holds "
                           "those people.")
    add_rekey_options(rekey)
    rekey.set_defaults(func=run_rekey_subject_refs)


def run_rekey_subject_refs(args: argparse.Namespace) -> int:
    from p3ke_delivery.config import DeliverySettings
    from p3ke_delivery.service_layer.rekey import rekey_subject_refs

    return rekey_command("delivery", DeliverySettings, "p3ke delivery rekey-subject-refs", args, rekey_subject_refs)


def run_sign(args: argparse.Namespace) -> int:
    from p3ke_delivery.adapters.signing import SigningError, load_signer, sign_bast

    as_json = bool(getattr(args, "json", False))
    passphrase = None
    if args.passphrase_env:
        value = os.environ.get(args.passphrase_env)
        if value is None:
            return console.fail("p3ke bast sign", f"environment variable {args.passphrase_env} is not set",
                                as_json=as_json, code=2)
        passphrase = value.encode()
    output = args.output or args.input.with_name(f"{args.input.stem}-ttd-pihak-{args.party}.pdf")
    try:
        signer = load_signer(key=args.key, cert=args.cert, chain=args.chain, pkcs12=args.pkcs12,
                             passphrase=passphrase)
        signed = sign_bast(args.input.read_bytes(), signer, party=args.party, reason=args.reason,
                           location=args.location)
        output.write_bytes(signed)
    except (SigningError, OSError, ValueError) as exc:
        return console.fail("p3ke bast sign", str(exc), as_json=as_json, code=2)
    result = {"output": str(output), "party": args.party, "sha256": hashlib.sha256(signed).hexdigest(),
              "bytes": len(signed), "input": str(args.input)}
    console.emit(result, as_json, lambda r: [
        f"signed: {r['output']}",
        f"sha256: {r['sha256']}",
        f"next: upload it (POST /v1/handovers/<id>/signatures, Content-Type application/pdf) as party {r['party']}'s "
        "signatory"])
    return 0


def run_dev_ca(args: argparse.Namespace) -> int:
    from p3ke_delivery.adapters.dev_ca import DEV_MARK, SignatoryInfo, write_dev_ca
    from p3ke_delivery.config import DeliverySettings
    from p3ke_platform.agreement import load_agreement
    from p3ke_platform.settings import load_settings

    as_json = bool(getattr(args, "json", False))
    overrides: dict[str, Any] = {"data_dir": args.data_dir} if args.data_dir else {}
    settings = load_settings(DeliverySettings, **overrides)
    if settings.env == "production":
        return console.fail("p3ke bast dev-ca", "refused: P3KE_ENV is production; use the e-signature CA's "
                            "certificates", as_json=as_json, code=2)
    out = args.out or settings.dev_ca_dir
    if (out / "ca.pem").exists() and not args.force:
        return console.fail("p3ke bast dev-ca", f"{out} already holds a development CA; --force replaces it "
                            "(signatures made with the old certificates then no longer verify)",
                            as_json=as_json, code=2)
    agreement = load_agreement(settings.agreement_dir, settings.agreement_include_examples)
    seen: dict[str, SignatoryInfo] = {}
    for _, terms in agreement.timeline():
        for s in terms.signatories:
            seen.setdefault(s.id, SignatoryInfo(s.id, s.party, s.org, s.name, s.position, s.acting_for))
    written = write_dev_ca(out, list(seen.values()), days=args.days)
    result: dict[str, Any] = {
        "development_only": True, "notice": DEV_MARK, "dir": str(out), "ca": str(written["ca"]),
        "mapping": str(written["mapping"]), "crl": str(written["crl"]), "passphrase": "p3ke-dev",
        "signatories": {sid: {"party": info.party, "org": info.org, "key": str(out / (sid + ".key.pem")),
                              "cert": str(written[sid]), "pkcs12": str(out / (sid + ".p12"))}
                        for sid, info in seen.items()},
        "environment": ({"P3KE_DELIVERY_TRUST_ANCHORS": str(written["ca"]),
                         "P3KE_DELIVERY_SIGNATORY_CERTIFICATES": str(written["mapping"]),
                         "P3KE_DELIVERY_CRL_FILES": str(written["crl"])} if args.out else {}),
    }
    console.emit(result, as_json, _dev_ca_summary)
    return 0


def _dev_ca_summary(r: Any) -> list[str]:
    lines = [r["notice"], f"development CA: {r['ca']}"]
    for sid, f in r["signatories"].items():
        lines.append(f"  {sid} (party {f['party']}): {f['key']} + {f['cert']} (or {f['pkcs12']}, "
                     f"passphrase {r['passphrase']})")
    lines.append(f"mapping: {r['mapping']}")
    lines.append(f"revocation list: {r['crl']} (`p3ke bast revoke <cert>` adds to it)")
    if r["environment"]:
        lines.append("point the service at it: " + " ".join(f"{k}={v}" for k, v in r["environment"].items()))
    return lines


def _dev_settings(args: argparse.Namespace) -> Any:
    from p3ke_delivery.config import DeliverySettings
    from p3ke_platform.settings import load_settings

    overrides: dict[str, Any] = {"data_dir": args.data_dir} if args.data_dir else {}
    return load_settings(DeliverySettings, **overrides)


def run_revoke(args: argparse.Namespace) -> int:
    from cryptography import x509

    from p3ke_delivery.adapters.certificates import load_certificate
    from p3ke_delivery.adapters.dev_ca import DevCaError, revoke
    from p3ke_platform.settings import ConfigurationError

    as_json = bool(getattr(args, "json", False))
    try:
        settings = _dev_settings(args)
    except ConfigurationError as exc:
        return console.fail("p3ke bast revoke", str(exc), as_json=as_json, code=2)
    if settings.env == "production":
        return console.fail("p3ke bast revoke", "refused: P3KE_ENV is production; the e-signature CA revokes its "
                            "own certificates", as_json=as_json, code=2)
    ca_dir = args.ca_dir or settings.dev_ca_dir
    try:
        cert = x509.load_der_x509_certificate(load_certificate(args.cert).dump())
        done = revoke(ca_dir, cert, reason=args.reason)
    except (DevCaError, OSError, ValueError) as exc:
        return console.fail("p3ke bast revoke", str(exc), as_json=as_json, code=2)
    result = {"development_only": True, "serial": done.serial, "revoked_at": done.revoked_at.isoformat(),
              "reason": done.reason, "crl": str(done.crl), "already_revoked": done.already,
              "certificate": str(args.cert)}
    console.emit(result, as_json, lambda r: [
        ("already revoked" if r["already_revoked"] else "revoked") + f": serial {r['serial']} at {r['revoked_at']} "
        f"({r['reason']})", f"revocation list: {r['crl']}",
        "signatures with this certificate are refused from now on"])
    return 0


def run_mapping_entry(args: argparse.Namespace) -> int:
    import yaml

    from p3ke_delivery.adapters.certificates import facts_of_file, mapping_entry

    as_json = bool(getattr(args, "json", False))
    try:
        entry = mapping_entry(args.signatory, facts_of_file(args.cert))
    except (OSError, ValueError) as exc:
        return console.fail("p3ke bast mapping-entry", str(exc), as_json=as_json, code=2)
    console.emit(entry, as_json, lambda e: yaml.safe_dump([e], sort_keys=False, allow_unicode=True).splitlines())
    return 0
