"""cffi (API mode) build of the C DSP core.

Every `src/*.c` file is compiled into one extension, `dsp_ext._dsp`. Each header
declares what Python may call between the markers `/* cdef-begin */` and
`/* cdef-end */`; those blocks, concatenated, are the cdef. So adding a C module
means adding a .c/.h pair, nothing here.

    python -m dsp_ext.build      # build in place (tests do this when sources change)
"""
import os
import pathlib
import re
import sys

from cffi import FFI

SRC = pathlib.Path(__file__).resolve().parent / "src"
# -fno-wrapv undoes the -fwrapv that setuptools puts on every extension's command line:
# with it gcc does not vectorise the echo canceller's tap loop (dsp_ext/src/echo_taps.c).
CFLAGS = ["-std=c99", "-O3", "-fno-wrapv", "-Wall", "-Wextra", "-Werror", "-ffast-math", "-fno-finite-math-only"]
if os.uname().machine in ("x86_64", "AMD64"):
    CFLAGS += ["-msse4.2"]      # AVX2 / AVX-512 copies of the hot loop are picked at run time
elif os.uname().machine in ("aarch64", "arm64"):
    CFLAGS += ["-mcpu=native"] if os.environ.get("LINEBOX_NATIVE") else []   # NEON is in the aarch64 baseline


def sources() -> list[str]:
    return sorted(str(p.relative_to(SRC.parent.parent)) for p in SRC.glob("*.c"))


def cdef_text() -> str:
    blocks = []
    for header in sorted(SRC.glob("*.h")):
        blocks += re.findall(r"/\* cdef-begin \*/(.*?)/\* cdef-end \*/", header.read_text(), re.S)
    return "\n".join(blocks)


def includes() -> str:
    return "".join(f'#include "{h.name}"\n' for h in sorted(SRC.glob("*.h")))


ffibuilder = FFI()
ffibuilder.cdef(cdef_text())
ffibuilder.set_source(
    "dsp_ext._dsp",
    includes(),
    sources=sources(),
    include_dirs=[str(SRC)],
    # setuptools rebuilds an object only when its .c is newer; a changed header (dtmf_filter_copy.h
    # is all of the DTMF filter code) must rebuild too
    depends=[str(h) for h in sorted(SRC.glob("*.h"))],
    extra_compile_args=CFLAGS,
    libraries=["m"],
)

if __name__ == "__main__":
    os.chdir(SRC.parent.parent)
    ffibuilder.compile(verbose="-v" in sys.argv)
