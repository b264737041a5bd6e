"""Shared test set-up: keep the C extension in step with its sources."""
import fcntl
import importlib.machinery
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ensure_dsp_built() -> None:
    src = ROOT / "dsp_ext"
    inputs = list((src / "src").glob("*.[ch]")) + [src / "build.py"]
    if not inputs:
        return
    newest = max(p.stat().st_mtime for p in inputs)
    with open(ROOT / "dsp_ext" / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # The file `import dsp_ext._dsp` will load: the first suffix that exists.
        loaded = next((src / f"_dsp{sfx}" for sfx in importlib.machinery.EXTENSION_SUFFIXES
                       if (src / f"_dsp{sfx}").exists()), None)
        if loaded is not None and loaded.stat().st_mtime >= newest:
            return
        subprocess.run([sys.executable, "-m", "dsp_ext.build"], cwd=ROOT, check=True)


_ensure_dsp_built()


def _ensure_fax_built() -> None:
    """The fax terminal extension (dsp_ext/fax_src, linked to spandsp), rebuilt when its sources change."""
    src = ROOT / "dsp_ext"
    inputs = list((src / "fax_src").glob("*.[ch]")) + [src / "fax_build.py"]
    if not inputs:
        return
    newest = max(p.stat().st_mtime for p in inputs)
    with open(ROOT / "dsp_ext" / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        loaded = next((src / f"_fax{sfx}" for sfx in importlib.machinery.EXTENSION_SUFFIXES
                       if (src / f"_fax{sfx}").exists()), None)
        if loaded is not None and loaded.stat().st_mtime >= newest:
            return
        subprocess.run([sys.executable, "-m", "dsp_ext.fax_build"], cwd=ROOT, check=True)


_ensure_fax_built()
