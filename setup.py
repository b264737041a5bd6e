"""Linebox: builds the cffi DSP core from dsp_ext/ and installs the `linebox` command."""
from setuptools import Extension, find_namespace_packages, setup

SHIPPED = ["firmware", "drivers", "dsp_ext", "webui", "board"]


def shipped_packages() -> list[str]:
    # Searched inside the shipped folders only: a search from the top would walk build/ too,
    # which after `make image` holds whole arm64 root file systems (it took over 20 minutes).
    return [*SHIPPED, *(f"{top}.{p}" for top in SHIPPED
                        for p in find_namespace_packages(where=top, exclude=["__pycache__", "*.__pycache__"]))]


setup(
    name="linebox",
    version="0.1.0",
    description="Small-office PBX firmware for a Raspberry Pi with analog FXS/FXO HATs",
    python_requires=">=3.11",
    # Namespace discovery: the data folders (webui/static, webui/templates, board/boards, ...)
    # are packages too, so setuptools ships them without a page of "Package would be
    # ignored" warnings in every `make run`.
    packages=shipped_packages(),
    include_package_data=True,
    package_data={
        "webui": ["templates/*.html", "static/*"],
        "board": ["boards/*.toml", "overlays/*", "*.md"],    # the shipped board files live in boards/
        "dsp_ext": ["src/*.c", "src/*.h", "fax_src/*.c", "fax_src/*.h", "tick_src/*.c"],
    },
    setup_requires=["cffi>=1.15"],
    cffi_modules=["dsp_ext/build.py:ffibuilder", "dsp_ext/fax_build.py:ffibuilder"],
    # the media tick's C calls without releasing the interpreter lock (cffi always releases it)
    ext_modules=[Extension("dsp_ext._tick", ["dsp_ext/tick_src/tickmod.c"], include_dirs=["dsp_ext/src"],
                           extra_compile_args=["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"])],
    install_requires=[
        "cffi>=1.15",
        "numpy>=1.24",
        "fastapi>=0.110",
        "pydantic>=2.5",
        "uvicorn>=0.27",
        "jinja2>=3.1",
        "python-multipart>=0.0.9",
        "tinydb>=4.8",
        "argon2-cffi>=23.1",
        "pyserial>=3.5",
        "XlsxWriter>=3.0",          # reports: XLSX export (pure Python, no dependencies)
        "phonenumbers>=8.13",       # customers: caller numbers normalised to E.164 for the screen pop
    ],
    extras_require={
        # Hardware access: only meaningful on the Pi, but installable anywhere so
        # the drivers are exercised against emulators and ALSA's file/null PCMs.
        "hw": ["spidev>=3.6", "pyalsaaudio>=0.10", "gpiod>=2.1"],
        "test": ["pytest>=8", "httpx>=0.27", "httpx2>=2.16", "playwright>=1.40", "aiosmtpd>=1.4", "ruff>=0.4", "import-linter>=2.0",
                 "schemathesis", "hypothesis>=6",
                 "pytest-xdist>=3.5",       # `make test` runs the suite on every core (-n, --dist loadgroup)
                 "pytest-timeout>=2.3"],    # no test can hang the suite: a per-test limit (pyproject.toml)
    },
    entry_points={"console_scripts": ["linebox=firmware.cli:console_main"]},
)
