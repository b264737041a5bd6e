"""Documents to fax pages: PDF, PNG, JPEG or TIFF in, a G4 TIFF-F (1728 pixels wide, A4, 98 or
196 lines per inch, 1-bit) and page thumbnails out.

The untrusted file is never parsed in the engine's process: `render_document` starts
`firmware.fax.render_child` in its own process group with limits (address space, CPU time,
largest file it may write) and a wall-clock timeout, and the Debian tools that child runs
(poppler's pdftoppm, netpbm) inherit them. Whatever the file does (a malformed or encrypted
PDF, thousands of pages, a page miles wide, an image that lies about its size), the answer is
a `RenderError` with a sentence for the sender, and nothing of it is kept.

Never call this on the media tick or the engine's store thread: it takes up to `timeout_s`.
The fax service runs it on its render thread (outbox.py).
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RenderError", "RenderLimits", "Rendered", "render_document", "LPI_CHOICES"]

LPI_CHOICES = (98, 196)            # standard and fine
REPO = Path(__file__).resolve().parents[2]


class RenderError(ValueError):
    """The document cannot be faxed: the message says why and what to do."""


@dataclass(frozen=True)
class RenderLimits:
    max_pages: int = 50
    timeout_s: float = 90.0         # the whole render, every page
    memory_mb: int = 768            # address space of the child and of each tool it runs
    cpu_s: int = 90
    max_output_mb: int = 64         # largest file any of them may write


@dataclass(frozen=True)
class Rendered:
    pages: int
    lpi: int
    tiff: Path
    thumbnails: list[Path]


def _limit(limits: RenderLimits):
    def apply() -> None:                       # in the child, before it runs anything
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s))
        out = limits.max_output_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (out, out))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def render_document(src: str | os.PathLike, outdir: str | os.PathLike, lpi: int = 196,
                    limits: RenderLimits = RenderLimits()) -> Rendered:
    """Render `src` into `outdir` (created; `document.tif`, `page-001.png`, ...)."""
    if lpi not in LPI_CHOICES:
        raise RenderError(f"resolution {lpi} lines per inch: use 98 (standard) or 196 (fine)")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(REPO), "LC_ALL": "C", "HOME": str(out)}
    cmd = [sys.executable, "-m", "firmware.fax.render_child", os.fspath(src), str(out), str(lpi),
           str(limits.max_pages)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=env, cwd=str(out), preexec_fn=_limit(limits), start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise RenderError(f"Drawing this document took longer than {limits.timeout_s:.0f} s, so it was stopped. "
                          "It may be damaged or far too complex: print it to a simpler PDF and send that.") from None
    finally:
        _kill_group(proc)
    answer = _last_json(stdout)
    if answer is None:
        if proc.returncode and proc.returncode < 0:
            why = {signal.SIGXCPU: "took too much processor time", signal.SIGKILL: "was stopped",
                   signal.SIGSEGV: "crashed the document reader"}.get(-proc.returncode, "was stopped")
        else:
            why = "needed more memory or disk than a fax may take"
        raise RenderError(f"This document could not be drawn: it {why}. It may be damaged or far too complex; "
                          "print it to a simpler PDF and send that.")
    if "error" in answer:
        raise RenderError(str(answer["error"]))
    pages = int(answer["pages"])
    return Rendered(pages, lpi, out / "document.tif", [out / f"page-{i:03d}.png" for i in range(1, pages + 1)])


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    else:
        try:                                  # a tool the child started may still run in the group
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _last_json(stdout: bytes) -> dict | None:
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None
