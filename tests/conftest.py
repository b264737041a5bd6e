"""Shared test set-up: keep the C extension in step with its sources."""
import fcntl
import importlib.machinery
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ensure_extensions_built() -> None:
    """Rebuild the DSP and fax extensions when their sources are newer than the built files.

    Built exactly as `pip install -e .` builds them (setuptools' build_ext with the cffi modules of
    setup.py, abi3 file names), so the tests and the benchmarks load the code that ships, never a copy
    built another way. A copy with another suffix (an old `python -m dsp_ext.build`) would be imported
    first and is removed.
    """
    src = ROOT / "dsp_ext"
    inputs = [p for pattern in ("src/*.[ch]", "fax_src/*.[ch]", "build.py", "fax_build.py")
              for p in src.glob(pattern)] + [ROOT / "setup.py"]
    newest = max(p.stat().st_mtime for p in inputs)
    with open(src / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in ("_dsp", "_fax"):
            for sfx in importlib.machinery.EXTENSION_SUFFIXES:
                if sfx != ".abi3.so" and (src / f"{name}{sfx}").exists():
                    (src / f"{name}{sfx}").unlink()
        built = [src / f"{name}.abi3.so" for name in ("_dsp", "_fax")]
        if all(p.exists() and p.stat().st_mtime >= newest for p in built):
            return
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)


_ensure_extensions_built()
