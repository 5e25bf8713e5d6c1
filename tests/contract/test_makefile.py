"""Every `make` target a README names has a recipe (none is silently empty), and the set-up is make's own."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", *sorted((ROOT / "services").glob("*/README.md")), ROOT / "bench" / "README.md"]
NAMED = re.compile(r"(?:`|^)make ([a-z][a-z-]*)", re.MULTILINE)


def _named_targets() -> list[str]:
    return sorted({m for path in READMES if path.exists() for m in NAMED.findall(path.read_text())})


def _dry_run(target: str) -> str:
    done = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, f"make -n {target}: {done.stderr}"
    return done.stdout


def test_the_readme_names_the_two_commands_and_the_others() -> None:
    assert {"run", "test", "lint", "bench-events", "help"} <= set(_named_targets())


@pytest.mark.parametrize("target", _named_targets())
def test_each_named_target_does_something(target: str) -> None:
    out = _dry_run(target)
    assert "Nothing to be done" not in out and "is up to date" not in out, f"make {target}: {out}"
    assert out.strip(), f"make {target} has no recipe"


def test_bench_events_runs_the_events_benchmark() -> None:
    assert "python -m bench events" in _dry_run("bench-events")


@pytest.mark.parametrize(("target", "profile"), [("run", "run"), ("test", "test"), ("test-fast", "test"),
                                                  ("lint", "python")])
def test_the_commands_bootstrap_the_machine_first(target: str, profile: str) -> None:
    """System packages, uv (and kustomize for tests) come before anything that needs them."""
    lines = _dry_run(target).splitlines()
    bootstrap = [i for i, line in enumerate(lines) if line.startswith("tools/bootstrap.sh ")]
    assert bootstrap, lines
    assert f"tools/bootstrap.sh {profile}" in lines
    uses_uv = [i for i, line in enumerate(lines) if "uv " in line]
    assert min(bootstrap) < min(uses_uv)


def test_ci_runs_only_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == "make test"
    assert not any("install" in c and "make" not in c for c in commands), commands


def test_missing_system_packages_are_named_with_the_command_when_not_root(tmp_path: Path) -> None:
    """Without root or sudo, the installer names what is missing and how to install it, and fails."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "id", "ls", "python3", "env"):  # everything else (java, 7z, …) is missing
        real = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        if real:
            (bin_dir / tool).symlink_to(real)
    (bin_dir / "id").unlink()
    (bin_dir / "id").write_text("#!/bin/bash\necho 1000\n")
    (bin_dir / "id").chmod(0o755)
    done = subprocess.run([str(bin_dir / "bash"), str(ROOT / "tools" / "install-system-packages.sh"), "run"],
                          env={"PATH": str(bin_dir), "HOME": str(tmp_path)}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "p7zip-full" in done.stderr and "openjdk-17-jre-headless" in done.stderr
    assert "sudo apt-get install -y --no-install-recommends" in done.stderr
    assert "installing" not in done.stdout
