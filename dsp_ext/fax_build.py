"""cffi (API mode) build of the fax terminal, `dsp_ext._fax`, linked to spandsp and libtiff.

A separate extension from `dsp_ext._dsp` so the DSP core does not depend on
spandsp. Sources: `fax_src/*.c`; the cdef is the `/* cdef-begin */ ... /* cdef-end */`
block of `fax_src/*.h`, as in build.py.

    python -m dsp_ext.fax_build      # build in place (tests do this when sources change)
"""
import os
import pathlib
import re
import sys

from cffi import FFI

SRC = pathlib.Path(__file__).resolve().parent / "fax_src"
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-D_DEFAULT_SOURCE"]


def sources() -> list[str]:
    return sorted(str(p.relative_to(SRC.parent.parent)) for p in SRC.glob("*.c"))


def cdef_text() -> str:
    blocks = []
    for header in sorted(SRC.glob("*.h")):
        blocks += re.findall(r"/\* cdef-begin \*/(.*?)/\* cdef-end \*/", header.read_text(), re.S)
    return "\n".join(blocks)


# spandsp's T.30 completion codes that Linebox acts on (values taken from its headers at build time).
T30_CODES = ["OK", "CEDTONE", "T0_EXPIRED", "T1_EXPIRED", "T3_EXPIRED", "HDLC_CARRIER", "CANNOT_TRAIN", "INCOMPATIBLE", "RX_INCAPABLE", "TX_INCAPABLE", "NORESSUPPORT", "NOSIZESUPPORT", "TX_BADDCS", "TX_PHBDEAD", "TX_NODIS", "TX_GOTDCN", "RX_NOCARRIER", "RX_NOFAX", "RX_T2EXPFAX", "RX_DCNDATA", "RX_DCNFAX", "FILEERROR", "NOPAGE", "BADTIFF", "BADPAGE", "BADTAG", "BADTIFFHDR", "NOMEM", "RETRYDCN", "CALLDROPPED"]


def codes_cdef() -> str:
    return "".join(f"#define T30_ERR_{name} ...\n" for name in T30_CODES)


ffibuilder = FFI()
ffibuilder.cdef(cdef_text() + codes_cdef())
ffibuilder.set_source(
    "dsp_ext._fax",
    "#include <tiffio.h>\n#include <spandsp.h>\n" + "".join(f'#include "{h.name}"\n' for h in sorted(SRC.glob("*.h"))),
    sources=sources(),
    include_dirs=[str(SRC)],
    extra_compile_args=CFLAGS,
    libraries=["spandsp", "tiff", "m"],
)

if __name__ == "__main__":
    os.chdir(SRC.parent.parent)
    ffibuilder.compile(verbose="-v" in sys.argv)
