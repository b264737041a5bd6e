"""The layering written as import-linter contracts (pyproject.toml, [tool.importlinter]) holds:
the web reaches the engine only through the engine API; drivers and the DSP core import
nothing from the PBX or the web. A violation fails here with lint-imports' own report."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    exe = Path(sys.executable).parent / "lint-imports"
    cmd = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    out = subprocess.run([*cmd, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-4000:]
    assert "BROKEN" not in report
    assert report.count("KEPT") >= 2, report[-2000:]
