"""What `pip install .` ships: found by trying Linebox as a new user (every `make run` printed a page
of setuptools "Package would be ignored" warnings) and by checking the built package: the shipped
board files (board/boards/*.toml) were left out, so an installed `linebox hw probe` knew no board."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_OUTPUTS = (".o", ".so", ".pyc")     # compiler leftovers, not sources
DATA_DIRS = ("board/boards", "board/overlays", "webui/templates", "webui/static", "dsp_ext/src")


def test_build_ships_every_data_file_without_warnings(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "-d", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "would be ignored" not in out.stdout + out.stderr
    for folder in DATA_DIRS:
        shipped = {p.name for p in (ROOT / folder).iterdir() if p.is_file() and p.suffix not in BUILD_OUTPUTS}
        assert shipped, folder
        built = {p.name for p in (tmp_path / folder).glob("*")} if (tmp_path / folder).is_dir() else set()
        assert shipped <= built, f"{folder}: not shipped: {sorted(shipped - built)}"
