"""The terms themselves (issue 17): which exact files are in force, and when an addendum may change the end.

- Every file is hashed as read; every decision names the digest of the files (`terms_sha256`), so editing a
  term under the same version label is visible. The digest is what coreutils compute over the same files.
- Under a manifest (`sha256sum` format, what production requires) a changed, unlisted or missing file stops
  loading, naming the file and both hashes, Indonesian first. The manifest deployed with the Kubernetes
  manifests accepts the signed PKS.
- Art. 8(2): an extension or an earlier end needs written notice 30 calendar days before the end; no addendum
  revives a lapsed PKS; the reading of the last day of the term is one explicit setting.
- `p3ke agreement show` prints the files, their hashes and the digest; `p3ke agreement manifest` prints what
  `sha256sum` prints.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from p3ke_platform.agreement import BUNDLED_DIR, AgreementConfigError, Policy, Rule, load_agreement
from p3ke_platform.agreement.cli import main
from p3ke_platform.agreement.model import term_last_day
from p3ke_platform.settings import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
PKS = BUNDLED_DIR / "pks-p3ke-2023.yaml"
EXAMPLE_ADDENDUM = BUNDLED_DIR / "example-addendum-extension.yaml"
OFFICER = ("kemnaker", ["program-officer"])
PURPOSE = "seleksi_calon_peserta"


def pks_dir(tmp_path: Path, text: str | None = None, **records: str) -> Path:
    """A directory as an operator deploys it: the signed PKS (or `text` instead) and the given records."""
    directory = tmp_path / "agreement"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PKS.name).write_text(text if text is not None else PKS.read_text(encoding="utf-8"),
                                      encoding="utf-8")
    for name, body in records.items():
        (directory / f"{name}.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return directory


def sha256sum(directory: Path) -> str:
    """What coreutils print for the directory's YAML files (the tool an operator would use)."""
    names = sorted(p.name for p in directory.glob("*.yaml"))
    return subprocess.run(["sha256sum", *names], cwd=directory, capture_output=True, text=True, check=True).stdout


def extend(signed_on: str = "2025-01-20", effective_from: str = "2025-03-01", last_day: str = "2027-02-28",
           extra: str = "") -> str:
    """An addendum extending the PKS (signed in time by default)."""
    return f"""
        kind: addendum
        schema_version: 1
        id: add-extension
        agreement_id: pks-p3ke-2023
        number: ADD-1/TEST
        title: extension by two years
        signed_on: {signed_on}
        effective_from: {effective_from}
        {extra}
        changes:
          last_day: {last_day}
    """


def request(policy: Policy, at: date) -> Rule:
    decision = policy.decide(*OFFICER, "request-extract", "padat_karya", ["nik"], at=at, purpose=PURPOSE)
    return Rule(decision.rule)


# --- hashes: every decision names the exact files ------------------------------------------------

def test_every_decision_names_the_digest_of_the_exact_files(tmp_path: Path) -> None:
    agreement = load_agreement(include_examples=True)
    loaded = {f.name: f for f in agreement.sources}
    assert set(loaded) == {p.name for p in BUNDLED_DIR.glob("*.yaml")}
    for path in BUNDLED_DIR.glob("*.yaml"):
        assert loaded[path.name].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded[PKS.name].record_id == "pks-p3ke-2023"
    # the digest is coreutils' `sha256sum *.yaml | LC_ALL=C sort | sha256sum` over the same files
    listing = sha256sum(BUNDLED_DIR)
    ordered = subprocess.run(["sort"], input=listing, capture_output=True, text=True, check=True,
                             env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}).stdout
    outside = subprocess.run(["sha256sum"], input=ordered, capture_output=True, text=True, check=True).stdout
    assert agreement.digest == outside.split()[0]

    policy = Policy(agreement)
    allowed = policy.decide(*OFFICER, "request-extract", "padat_karya", ["nik"], at=date(2026, 1, 5),
                            purpose=PURPOSE)
    denied = policy.decide(*OFFICER, "request-extract", "padat_karya", ["alamat"], at=date(2026, 1, 5),
                           purpose=PURPOSE)
    assert allowed.allowed and not denied.allowed
    assert allowed.terms_sha256 == denied.terms_sha256 == agreement.digest
    assert json.loads(allowed.model_dump_json())["terms_sha256"] == agreement.digest


def test_an_edited_term_keeps_its_label_but_not_its_digest(tmp_path: Path) -> None:
    """The issue's finding: the end moved to 2029 turned refusals into ALLOW under the same version label."""
    signed = Policy(load_agreement(pks_dir(tmp_path)))
    edited_text = PKS.read_text(encoding="utf-8").replace("term_years: 2", "term_years: 6")
    edited = Policy(load_agreement(pks_dir(tmp_path / "edited", edited_text)))
    at = date(2026, 11, 26)
    assert request(signed, at) == Rule.EXPIRED and request(edited, at) == Rule.ALLOWED
    before, after = (p.decide(*OFFICER, "request-extract", "padat_karya", ["nik"], at=at, purpose=PURPOSE)
                     for p in (signed, edited))
    assert before.terms_version == after.terms_version == "pks-p3ke-2023"
    assert before.terms_sha256 != after.terms_sha256  # the audit trail shows the change
    assert before.terms_sha256 == load_agreement().digest  # the bundled PKS, byte for byte


# --- the manifest ---------------------------------------------------------------------------------

def test_under_a_manifest_a_tampered_file_is_refused_naming_both_hashes(tmp_path: Path) -> None:
    directory = pks_dir(tmp_path, consent="""
        kind: disclosure-consent
        schema_version: 1
        id: consent-1
        agreement_id: pks-p3ke-2023
        document: B-1/TEST
        dated: 2024-11-01
        granted_by: kemenkopmk
        granted_to: kemnaker
        valid_from: 2024-11-01
    """)
    manifest = tmp_path / "agreement.sha256"
    manifest.write_text(sha256sum(directory))
    good = load_agreement(directory, manifest=manifest)
    assert {f.name for f in good.sources} == {PKS.name, "consent.yaml"}

    pks = directory / PKS.name
    listed = hashlib.sha256(pks.read_bytes()).hexdigest()
    pks.write_text(pks.read_text(encoding="utf-8").replace("term_years: 2", "term_years: 6"), encoding="utf-8")
    now = hashlib.sha256(pks.read_bytes()).hexdigest()
    with pytest.raises(AgreementConfigError) as refused:
        load_agreement(directory, manifest=manifest)
    message = str(refused.value)
    assert message.startswith(f"{pks}: isi berkas ketentuan perjanjian berbeda dari manifest {manifest}")
    assert f"SHA-256 berkas {now}, manifest mencatat {listed}" in message
    assert f"the file's SHA-256 is {now}, the manifest lists {listed}" in message
    assert message.index("isi berkas") < message.index("the agreement terms file differs")
    assert isinstance(refused.value, ConfigurationError)  # a service prints it and stops start-up


def test_under_a_manifest_an_unlisted_or_missing_file_is_refused(tmp_path: Path) -> None:
    directory = pks_dir(tmp_path)
    manifest = tmp_path / "agreement.sha256"
    manifest.write_text(sha256sum(directory))
    shutil.copy(EXAMPLE_ADDENDUM, directory / EXAMPLE_ADDENDUM.name)  # skipped as an example, but not listed
    with pytest.raises(AgreementConfigError, match=r"example-addendum-extension\.yaml: berkas ketentuan perjanjian "
                                                   r"tidak tercantum dalam manifest .*SHA-256 berkas: [0-9a-f]{64}"):
        load_agreement(directory, manifest=manifest)
    (directory / EXAMPLE_ADDENDUM.name).unlink()
    (directory / PKS.name).unlink()
    shutil.copy(PKS, directory / "renamed.yaml")
    with pytest.raises(AgreementConfigError) as refused:
        load_agreement(directory, manifest=manifest)
    message = str(refused.value)
    assert "renamed.yaml: berkas ketentuan perjanjian tidak tercantum" in message
    assert f"berkas {PKS.name} (SHA-256 " in message and "tercantum dalam manifest tetapi tidak ada" in message
    # an extra file given by name is held to the manifest too
    with pytest.raises(AgreementConfigError, match="not listed in the manifest"):
        load_agreement(pks_dir(tmp_path / "again"), manifest=manifest, files=[EXAMPLE_ADDENDUM])


@pytest.mark.parametrize(("text", "expected"), [
    ("", "manifest kosong / the manifest lists no file"),
    ("# only a comment\n", "the manifest lists no file"),
    ("not-a-hash  pks-p3ke-2023.yaml\n", r":1: baris manifest harus berbentuk"),
    (f"{'a' * 64}  x.yaml\n{'b' * 64}  x.yaml\n", r":2: x\.yaml tercantum dua kali"),
])
def test_a_malformed_manifest_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "m.sha256").write_text(text)
    with pytest.raises(AgreementConfigError, match=expected):
        load_agreement(pks_dir(tmp_path), manifest=tmp_path / "m.sha256")
    with pytest.raises(AgreementConfigError, match="manifest berkas perjanjian tidak terbaca"):
        load_agreement(pks_dir(tmp_path), manifest=tmp_path / "missing.sha256")


def test_the_manifest_deployed_to_kubernetes_accepts_the_signed_pks(tmp_path: Path) -> None:
    deployed = ROOT / "deploy/k8s/base/agreement.sha256"
    config = (ROOT / "deploy/k8s/base/config.env").read_text()
    assert "P3KE_AGREEMENT_MANIFEST=/etc/p3ke/trust/agreement.sha256" in config
    agreement = load_agreement(pks_dir(tmp_path), manifest=deployed)
    assert agreement.digest == load_agreement().digest
    with pytest.raises(AgreementConfigError, match="berbeda dari manifest"):
        load_agreement(pks_dir(tmp_path / "edited", PKS.read_text().replace("reading: anniversary",
                                                                            "reading: strict")), manifest=deployed)


# --- Art. 8(2): notice 30 days before the end; no revival of a lapsed PKS -------------------------

def test_the_bundled_example_extension_was_noticed_in_time() -> None:
    extended = Policy(load_agreement(include_examples=True))
    [addendum] = extended.agreement.addenda
    assert addendum.signed_on <= date(2025, 1, 29)  # 30 days before 2025-02-28
    assert request(extended, date(2026, 6, 1)) == Rule.ALLOWED


def test_an_extension_signed_eight_days_before_the_end_is_refused(tmp_path: Path) -> None:
    """The bundled example as it was (signed 2025-02-20), and two days before the end as in the issue."""
    for signed_on in ("2025-02-20", "2025-02-26"):
        directory = pks_dir(tmp_path / signed_on, add=extend(signed_on=signed_on))
        with pytest.raises(AgreementConfigError) as refused:
            load_agreement(directory)
        message = str(refused.value)
        assert message.startswith(f"{directory / 'add.yaml'}: signed_on: Pasal 8 ayat (2): perpanjangan wajib "
                                  f"diberitahukan secara tertulis paling lambat 30 hari kalender")
        assert "berakhirnya jangka waktu pada 2025-02-28, jadi paling lambat 2025-01-29" in message
        assert f"pemberitahuan tertanggal {signed_on} terlambat" in message
        assert (f"Art. 8(2): an extension needs written notice at least 30 calendar days before the term ends on "
                f"2025-02-28, so on 2025-01-29 at the latest; notice dated {signed_on} is too late") in message
    # the last day that is still in time
    assert load_agreement(pks_dir(tmp_path / "ok", add=extend(signed_on="2025-01-29"))).addenda


def test_an_earlier_written_notice_makes_a_late_signing_lawful(tmp_path: Path) -> None:
    noticed = extend(signed_on="2025-02-26",
                     extra="notice_date: 2025-01-10\n        notice_document: B-9/DEP.1/KEMENKO/PMK/01/2025")
    policy = Policy(load_agreement(pks_dir(tmp_path, add=noticed)))
    assert request(policy, date(2026, 6, 1)) == Rule.ALLOWED
    late = extend(signed_on="2025-02-26",
                  extra="notice_date: 2025-02-01\n        notice_document: B-9/DEP.1/KEMENKO/PMK/02/2025")
    with pytest.raises(AgreementConfigError, match=r"add\.yaml: notice_date: Pasal 8 ayat \(2\).*"
                                                   r"pemberitahuan tertanggal 2025-02-01 terlambat"):
        load_agreement(pks_dir(tmp_path / "late", add=late))
    half = extend(extra="notice_date: 2025-01-10")
    with pytest.raises(AgreementConfigError, match="notice_date and notice_document: give both"):
        load_agreement(pks_dir(tmp_path / "half", add=half))


def test_an_addendum_signed_after_the_end_does_not_revive_the_pks(tmp_path: Path) -> None:
    directory = pks_dir(tmp_path, add=extend(signed_on="2025-04-01", effective_from="2025-04-01"))
    with pytest.raises(AgreementConfigError) as refused:
        load_agreement(directory)
    message = str(refused.value)
    assert message.startswith(f"{directory / 'add.yaml'}: signed_on: Pasal 8: perjanjian PKS ")
    assert "telah berakhir pada 2025-02-28 (hari terakhir berlaku), sebelum adendum ini ditandatangani pada " \
           "2025-04-01" in message
    assert "buatlah perjanjian kerja sama baru" in message
    assert "a lapsed agreement cannot be revived by an addendum, make a new cooperation agreement" in message
    assert "must be signed by 2025-02-28 at the latest, with written notice by 2025-01-29" in message
    # an addendum of any kind: the agreement it would amend is gone
    fields = """
        kind: addendum
        schema_version: 1
        id: add-fields
        agreement_id: pks-p3ke-2023
        number: ADD-2/TEST
        title: fields
        signed_on: 2025-06-01
        effective_from: 2025-06-01
        changes:
          program_fields: {padat_karya: [nik, nama]}
    """
    with pytest.raises(AgreementConfigError, match="perjanjian yang telah berakhir tidak dapat dihidupkan"):
        load_agreement(pks_dir(tmp_path / "fields", add=fields))


def test_an_extension_that_leaves_a_lapse_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AgreementConfigError, match=r"effective_from: Pasal 8: perpanjangan berlaku paling lambat "
                                                   r"2025-03-01"):
        load_agreement(pks_dir(tmp_path, add=extend(effective_from="2025-04-01")))


def test_a_termination_notice_after_the_end_is_refused(tmp_path: Path) -> None:
    notice = """
        kind: termination-notice
        schema_version: 1
        id: notice-late
        agreement_id: pks-p3ke-2023
        document: B-2/TEST
        given_by: kemnaker
        notice_date: 2025-03-10
        last_day: 2025-04-30
    """
    with pytest.raises(AgreementConfigError, match=r"notice\.yaml: notice_date: Pasal 8 ayat \(2\): perjanjian "
                                                   r"telah berakhir pada 2025-02-28"):
        load_agreement(pks_dir(tmp_path, notice=notice))


# --- the reading of the last day ------------------------------------------------------------------

def test_the_reading_of_the_last_day_is_one_explicit_setting(tmp_path: Path) -> None:
    anniversary = Policy(load_agreement(pks_dir(tmp_path)))
    strict_text = PKS.read_text(encoding="utf-8").replace("reading: anniversary", "reading: strict")
    strict = Policy(load_agreement(pks_dir(tmp_path / "strict", strict_text)))
    assert anniversary.terms_at(date(2024, 1, 1)).validity.last_day == date(2025, 2, 28)
    assert strict.terms_at(date(2024, 1, 1)).validity.last_day == date(2025, 2, 27)
    assert request(anniversary, date(2025, 2, 28)) == Rule.ALLOWED
    assert request(strict, date(2025, 2, 28)) == Rule.EXPIRED
    assert request(strict, date(2025, 2, 27)) == Rule.ALLOWED
    # under the strict reading the example extension (from 2025-03-01) would leave 28 February lapsed
    with pytest.raises(AgreementConfigError, match="perpanjangan berlaku paling lambat 2025-02-28"):
        load_agreement(pks_dir(tmp_path / "strict", strict_text), files=[EXAMPLE_ADDENDUM])
    assert term_last_day(date(2024, 2, 29), 1, "anniversary") == date(2025, 2, 28)
    assert term_last_day(date(2024, 2, 29), 1, "strict") == date(2025, 2, 27)


@pytest.mark.parametrize(("change", "expected"), [
    (("  reading: anniversary\n", ""), r"validity: reading: wajib diisi bersama term_years, pilih 'anniversary' "
                                       r"\(2025-02-28\) or 'strict' \(2025-02-27\)"),
    (("  reading: anniversary\n", "  reading: anniversary\n  last_day: 2029-02-28\n"),
     r"last_day 2029-02-28 tidak sesuai dengan 2 tahun sejak 2023-02-28 menurut pembacaan 'anniversary' "
     r"\(2025-02-28\)"),
    (("  reading: anniversary\n", "  reading: yearly\n"), r"validity\.reading: Input should be 'anniversary' or "
                                                         r"'strict'"),
])
def test_a_reading_that_is_missing_or_disagrees_is_refused(tmp_path: Path, change: tuple[str, str],
                                                           expected: str) -> None:
    text = PKS.read_text(encoding="utf-8")
    assert change[0] in text
    with pytest.raises(AgreementConfigError, match=expected):
        load_agreement(pks_dir(tmp_path, text.replace(*change)))
    # written beside the reading, a last_day that agrees with it is accepted
    agreeing = text.replace("  reading: anniversary\n", "  reading: anniversary\n  last_day: 2025-02-28\n")
    assert load_agreement(pks_dir(tmp_path / "ok", agreeing)).base.validity.last_day == date(2025, 2, 28)


# --- the command line -----------------------------------------------------------------------------

@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P3KE_AGREEMENT_DIR", raising=False)
    monkeypatch.delenv("P3KE_AGREEMENT_MANIFEST", raising=False)


@pytest.mark.usefixtures("no_env")
def test_show_prints_the_files_their_hashes_and_the_digest(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    agreement = load_agreement(include_examples=True)
    assert main(["agreement", "show", "--at", "2026-11-26", "--include-examples", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["terms_sha256"] == agreement.digest and shown["manifest"] is None
    assert {(f["file"], f["sha256"]) for f in shown["files"]} == {
        (p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in BUNDLED_DIR.glob("*.yaml")}
    directory = pks_dir(tmp_path)
    manifest = tmp_path / "agreement.sha256"
    manifest.write_text(sha256sum(directory))
    assert main(["agreement", "show", "--dir", str(directory), "--manifest", str(manifest)]) == 0
    text = capsys.readouterr().out
    assert f"terms_sha256: {load_agreement().digest}" in text
    assert f"sha256: {hashlib.sha256(PKS.read_bytes()).hexdigest()}" in text and f"manifest: {manifest}" in text
    (directory / PKS.name).write_text(PKS.read_text().replace("term_years: 2", "term_years: 3"))
    assert main(["agreement", "show", "--dir", str(directory), "--manifest", str(manifest)]) == 2
    assert "berbeda dari manifest" in capsys.readouterr().err


@pytest.mark.usefixtures("no_env")
def test_manifest_prints_what_sha256sum_prints_and_it_verifies(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    directory = pks_dir(tmp_path, add=extend())
    assert main(["agreement", "manifest", "--dir", str(directory)]) == 0
    out = capsys.readouterr()
    assert out.out == sha256sum(directory)
    assert "2 file(s), terms pks-p3ke-2023" in out.err
    (tmp_path / "m.sha256").write_text(out.out)
    check = subprocess.run(["sha256sum", "-c", str(tmp_path / "m.sha256")], cwd=directory, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert load_agreement(directory, manifest=tmp_path / "m.sha256").addenda
    broken = pks_dir(tmp_path / "broken", add=extend(signed_on="2025-02-26"))
    assert main(["agreement", "manifest", "--dir", str(broken)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "Pasal 8 ayat (2)" in out.err


def test_manifest_as_a_process(tmp_path: Path) -> None:
    directory = pks_dir(tmp_path)
    argv = [sys.executable, "-m", "p3ke_platform.agreement.cli", "agreement", "manifest", "--dir", str(directory)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "P3KE_ENV": "test"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == sha256sum(directory)
