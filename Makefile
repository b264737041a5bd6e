# The two commands a new user needs (see README; on a bare Debian without make, ./linebox.sh
# installs make and calls these):
#   make run [PORT=8080] [DATA=data]   install what Linebox needs, then run it (simulated board when no HAT)
#   make test [PYTEST_ARGS=...] [JOBS=n] install what the tests need, then run the whole suite
VENV   ?= .venv
DATA   ?= data
PORT   ?= 8080
PYTEST_ARGS ?= tests
# pytest-xdist workers for `make test`: one per core, at most 4; JOBS=0 runs the suite in one process.
# Tests that must not run beside each other share an xdist_group (tests/conftest.py), hence loadgroup.
JOBS   ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; [ $$n -lt 2 ] && n=0; echo $$n)
# Python dependencies are pinned: every install takes the versions the suite was run with.
PIP_PINS := -c constraints.txt
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_RUN  := gcc make python3-venv python3-dev libffi-dev libasound2-dev libspandsp-dev libtiff-dev \
            espeak-ng sox libsox-fmt-mp3 alsa-utils poppler-utils netpbm
# The tests' own: the browser; sshd (the SSH-keys page); an aarch64 cross compiler, its ASan/UBSan
# runtimes and qemu-user (the NEON copies under the sanitizers); FAT tools (the boot slot's rewrite).
APT_TEST := chromium openssh-server gcc-aarch64-linux-gnu libasan8-arm64-cross libubsan1-arm64-cross qemu-user \
            dosfstools mtools

.PHONY: run test bench lint system-deps system-deps-test clean

run: $(VENV)/.installed
	$(VENV)/bin/linebox run --data $(DATA) --port $(PORT)

test: $(VENV)/.installed-test
	@$(PY) -m pytest -n $(JOBS) --dist loadgroup $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

bench: $(VENV)/.installed-test
	$(PY) -m bench

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

# apt: install only what is missing, so a second run costs nothing.
system-deps:
	@missing=$$(for p in $(APT_RUN); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

system-deps-test: system-deps
	@missing=$$(for p in $(APT_TEST); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

# The venv and its build tools (once per venv).
$(VENV)/.tools: constraints.txt | system-deps
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_PINS) --upgrade setuptools wheel cffi
	@touch $@

# The extension is compiled when the tree is installed into the venv (editable too): a changed C
# source installs again, so `make test` never runs an extension older than its sources.
C_SOURCES := $(wildcard dsp_ext/src/*.[ch] dsp_ext/tick_src/*.[ch] dsp_ext/fax_src/*.[ch] dsp_ext/*build.py)

$(VENV)/.installed: setup.py constraints.txt $(C_SOURCES) $(VENV)/.tools | system-deps
	$(PY) -m pip install -q $(PIP_PINS) -e '.[hw]'
	@touch $@

# Linebox with the test packages in one install: the C extension is built once (a fresh clone for
# CI went through `.installed` first and built it twice). It includes `.installed`'s packages.
$(VENV)/.installed-test: setup.py constraints.txt $(C_SOURCES) $(VENV)/.tools | system-deps system-deps-test
	$(PY) -m pip install -q $(PIP_PINS) -e '.[hw,test]'
	@touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build *.egg-info dsp_ext/_dsp*.so dsp_ext/_dsp.c dsp_ext/_dsp.o

# The flashable SD image (issue 14): long, CPU-heavy, needs the Debian mirror and qemu-user;
# not part of `make test` (tests/image checks the recipe cheaply). See image/README.md "Image".
.PHONY: image image-root image-test image-boot-test
image:
	nice -n 10 sh image/build.sh

# Only the root file system, by the same recipe (ROOT_ONLY=1: no kernel, boot slot or card image);
# what the suite's smoke test (tests/image/test_root_smoke.py) builds and runs under qemu-user.
image-root:
	nice -n 10 env ROOT_ONLY=1 sh image/build.sh

# The image recipe's cheap checks (layout, reproducible file systems, SBOM, scripts parse, slots).
image-test: $(VENV)/.installed-test
	$(PY) -m pytest tests/image tests/update/test_slot_cmdline.py

# Boots build/image's card under qemu-system-aarch64 (minutes; not part of `make test`).
image-boot-test: $(VENV)/.installed-test
	sh image/boot-test.sh
