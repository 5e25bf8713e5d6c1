"""Signing a BAST on the signatory's own machine (`p3ke bast sign`): a PAdES signature in the party's
own signature field, written as an incremental update, so every earlier byte (the BAST as issued,
the other party's signature) stays exactly as it was.

The private key never leaves the signatory's machine; only the signed PDF is uploaded.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

from p3ke_delivery.domain.bahasa import WIB, waktu
from p3ke_delivery.domain.model import PARTY_NAMES, SIGNATURE_FIELDS

STAMP_TEXT = "Ditandatangani secara elektronik oleh:\n%(signer)s\nWaktu: %(waktu)s"
"""The text of the signature's visible stamp; `waktu` is the signing time in Jakarta time (`12 Juni 2026 pukul
14.05 WIB`), not pyHanko's `ts` (the machine's local zone, UTC on a server)."""


class SigningError(ValueError):
    """The document or the key material cannot be used to sign; the message says why."""


def load_signer(*, key: Path | None = None, cert: Path | None = None, chain: list[Path] | None = None,
                pkcs12: Path | None = None, passphrase: bytes | None = None) -> object:
    """A pyHanko signer from PEM/DER key + certificate files, or from a PKCS#12 (.p12/.pfx) file."""
    from pyhanko.sign import signers

    if pkcs12 is not None:
        signer = signers.SimpleSigner.load_pkcs12(str(pkcs12), ca_chain_files=[str(c) for c in chain or []],
                                                  passphrase=passphrase)
    elif key is not None and cert is not None:
        signer = signers.SimpleSigner.load(str(key), str(cert), ca_chain_files=[str(c) for c in chain or []],
                                           key_passphrase=passphrase)
    else:
        raise SigningError("give --key and --cert, or --pkcs12")
    if signer is None:
        raise SigningError("could not load the key and certificate (wrong passphrase or file format?)")
    return signer


def sign_bast(pdf: bytes, signer: object, *, party: int, reason: str | None = None,
              location: str | None = None) -> bytes:
    """Return `pdf` with `signer`'s PAdES signature in the field of `party`, appended incrementally."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import TextStampStyle

    field = SIGNATURE_FIELDS[party]
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError) as exc:
        raise SigningError(f"not a readable PDF: {exc}") from None
    present = {name: filled for name, filled, _ in _fields(writer)}
    if field not in present:
        raise SigningError(f"this PDF has no signature field {field} for {PARTY_NAMES[party]}; is it a BAST "
                           f"issued by the delivery service?")
    if present[field]:
        raise SigningError(f"{PARTY_NAMES[party]} has already signed this BAST (field {field} is filled)")
    meta = signers.PdfSignatureMetadata(
        field_name=field, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
        reason=reason or f"Persetujuan Berita Acara Serah Terima Data P3KE sebagai {PARTY_NAMES[party]}",
        location=location)
    style = TextStampStyle(stamp_text=STAMP_TEXT, border_width=1, timestamp_format="%Y-%m-%d %H:%M:%S %Z")
    pdf_signer = signers.PdfSigner(meta, signer=signer, stamp_style=style)  # type: ignore[arg-type]
    out = io.BytesIO()
    pdf_signer.sign_pdf(writer, existing_fields_only=True, output=out,
                        appearance_text_params={"waktu": waktu(datetime.now(WIB))})
    return out.getvalue()


def _fields(writer: object) -> list[tuple[str, bool, object]]:
    from pyhanko.sign.fields import enumerate_sig_fields

    return [(name, value is not None, ref) for name, value, ref in enumerate_sig_fields(writer)]  # type: ignore[arg-type]
