"""The outside policy checker, checkov, over the rendered production overlay.

Before issue 15 it reported exactly three kinds of finding on `kustomize build deploy/k8s/overlays/prod`:
secrets as environment variables, images without a digest, and the image pull policy. These are the checks
run here (POLICY_CHECKS); each must pass on every resource, and each must have run on some resource (a
check id checkov no longer knows would otherwise pass silently).

    python -m tools.k8s.policy            # or: make k8s-policy
    python -m tools.k8s.policy dev        # another overlay

checkov is pinned and installed by tools/k8s/install.sh into a virtual environment of its own (its many
dependencies stay out of the workspace); MissingPrerequisiteError says how when it is missing. It runs
offline (--skip-download).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from tools.k8s.manifests import INSTALL_SCRIPT, K8S, MissingPrerequisiteError, _tools_bin, kustomize

POLICY_CHECKS = {
    "CKV_K8S_35": "secrets as files, not environment variables",
    "CKV_K8S_43": "images pinned by digest",
    "CKV_K8S_15": "image pull policy Always",
}


def _pinned_checkov_version() -> str:
    match = re.search(r'^CHECKOV_VERSION="([^"]+)"', INSTALL_SCRIPT.read_text(), re.MULTILINE)
    assert match, f"{INSTALL_SCRIPT} has no CHECKOV_VERSION line"
    return match.group(1)


@functools.cache
def checkov() -> str:
    """The path of the pinned checkov; MissingPrerequisiteError when it is not installed or another version."""
    binary = _tools_bin() / "checkov"
    how = "`make test` installs it (tools/k8s/install.sh)"
    if not binary.exists():
        raise MissingPrerequisiteError(f"checkov is not installed at {binary}: {how}")
    wanted = _pinned_checkov_version()
    got = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if got != wanted:
        raise MissingPrerequisiteError(f"{binary} is checkov {got!r}, the pinned version is {wanted}: {how}")
    return str(binary)


def run_checkov(documents: str, checks: tuple[str, ...] = tuple(POLICY_CHECKS)) -> tuple[list[dict], list[dict]]:
    """checkov's (failed, passed) results of `checks` over Kubernetes YAML `documents`."""
    with tempfile.TemporaryDirectory(prefix="p3ke-policy-") as tmp:
        manifest = Path(tmp) / "rendered.yaml"
        manifest.write_text(documents)
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
        proc = subprocess.run(
            [checkov(), "--file", str(manifest), "--framework", "kubernetes", "--check", ",".join(checks),
             "--output", "json", "--compact", "--soft-fail", "--skip-download"],
            capture_output=True, text=True, check=False, cwd=tmp, env=env, timeout=600,
        )
    if proc.returncode != 0:
        raise AssertionError(f"checkov failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout or "[]")
    reports = out if isinstance(out, list) else [out]
    failed, passed = [], []
    for report in reports:
        results = report.get("results", {})
        failed += results.get("failed_checks", [])
        passed += results.get("passed_checks", [])
    return failed, passed


def findings(documents: str) -> list[str]:
    """What checkov reports against POLICY_CHECKS (empty = fine), plus a check that ran on nothing."""
    failed, passed = run_checkov(documents)
    problems = [f"{f['check_id']} {f['resource']}: {f['check_name']}" for f in failed]
    ran = {r["check_id"] for r in failed + passed}
    problems += [f"{check} ({what}) ran on no resource" for check, what in POLICY_CHECKS.items() if check not in ran]
    return sorted(problems)


def render_overlay(overlay: str = "prod") -> str:
    """`kustomize build deploy/k8s/overlays/<overlay>` as YAML text."""
    proc = subprocess.run([kustomize(), "build", str(K8S / "overlays" / overlay)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise AssertionError(f"kustomize build {overlay} failed:\n{proc.stderr}")
    return proc.stdout


def main(argv: list[str]) -> int:
    overlay = argv[0] if argv else "prod"
    try:
        rendered = render_overlay(overlay)
        problems = findings(rendered)
    except MissingPrerequisiteError as exc:
        print(f"k8s-policy: {exc}", file=sys.stderr)
        return 2
    count = sum(1 for d in yaml.safe_load_all(rendered) if d)
    checks = ", ".join(f"{k} ({v})" for k, v in POLICY_CHECKS.items())
    for problem in problems:
        print(problem)
    print(f"checkov {_pinned_checkov_version()} over overlays/{overlay} ({count} resources): {checks}: "
          f"{len(problems)} finding(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
