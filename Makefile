# The two commands: `make run` and `make test`. Both create .venv and install everything first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is pinned to the release this workplace's machines carry on disk (see DEVELOPERS.md).
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: run test lint bench clean package package-test

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PINS)
	$(BIN)/pip install --quiet -e '.[dev,torchvision]' $(TORCH_PINS)
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dovecote gui

test: $(STAMP)
	$(BIN)/lint-imports
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# The installer for this platform, from its own lean environment: a CPU-only torch and no torchvision
# (see packaging/README.md). torch==2.13.0 is the CPU build this workplace's machines carry on disk;
# elsewhere: make package PACKAGE_TORCH="torch --index-url https://download.pytorch.org/whl/cpu"
PACKAGE_VENV := build/package-venv
PACKAGE_TORCH ?= torch==2.13.0

$(PACKAGE_VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/pip install --quiet --upgrade pip
	$(PACKAGE_VENV)/bin/pip install --quiet $(PACKAGE_TORCH)
	$(PACKAGE_VENV)/bin/pip install --quiet '.[packaging]'
	touch $@

package: $(PACKAGE_VENV)/.installed
	$(PACKAGE_VENV)/bin/python packaging/build.py

# Build, install and check the installer for real (minutes; see packaging/README.md): the installed
# --selftest and smoke test, the .desktop files, the Windows setup script compiled by makensis, the release
# workflow linted by actionlint. Not part of `make test`. On Debian as root it installs the tools it needs.
PACKAGE_TEST_TOOLS := makensis:nsis desktop-file-validate:desktop-file-utils

package-test: $(PACKAGE_VENV)/.installed
	@for tool in $(PACKAGE_TEST_TOOLS); do command -v $${tool%%:*} >/dev/null || missing="$$missing $${tool##*:}"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
		else echo "make package-test needs:$$missing" >&2; exit 1; fi; \
	fi
	$(PACKAGE_VENV)/bin/pip install --quiet '.[release-check]'
	$(PACKAGE_VENV)/bin/python packaging/package_test.py

clean:
	rm -rf $(VENV) build dist *.egg-info
