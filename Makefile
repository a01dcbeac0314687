# consul-sim: every install step lives here, so a fresh clone needs only Python 3.11 and pip.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser pyconsul screenshot test lint format demo bench fuzz conformance clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) browser pyconsul

# py-consul's own test suite (tests/integration/test_py_consul_suite.py runs it against
# `consul-sim agent`): its sdist, pinned by version and sha256, unpacked in a git-ignored cache.
PYCONSUL_VERSION := 1.8.0
PYCONSUL_SHA256 := ed9ab0adb335d33ea84f7622f372411f8e288bb09aee5e7632264d28d285a52c
PYCONSUL_CACHE := .cache/py-consul
PYCONSUL_SDIST := $(PYCONSUL_CACHE)/py_consul-$(PYCONSUL_VERSION).tar.gz
PYCONSUL_DIR := $(PYCONSUL_CACHE)/py_consul-$(PYCONSUL_VERSION)

pyconsul: $(PYCONSUL_DIR)/tests/conftest.py

$(PYCONSUL_DIR)/tests/conftest.py: $(STAMP)
	mkdir -p $(PYCONSUL_CACHE)
	test -f $(PYCONSUL_SDIST) || $(BIN)/python -m pip download --quiet --no-deps \
		--no-binary :all: --dest $(PYCONSUL_CACHE) py-consul==$(PYCONSUL_VERSION)
	echo "$(PYCONSUL_SHA256)  $(PYCONSUL_SDIST)" | sha256sum --check --quiet - \
		|| (rm -f $(PYCONSUL_SDIST); exit 1)
	rm -rf $(PYCONSUL_DIR)
	tar -xzf $(PYCONSUL_SDIST) -C $(PYCONSUL_CACHE)
	touch $@

# The dashboard's browser test (tests/browser) drives Debian's Chromium through Playwright;
# Playwright's own browser download (`playwright install`) does not work here.
browser:
	test -x $(CHROMIUM) || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

test: install
	$(BIN)/python -m pytest -q

screenshot: install
	$(BIN)/python -m tests.browser.screenshot docs/dashboard.png

lint: install
	$(BIN)/ruff check consul_sim tests benchmarks scenarios
	$(BIN)/ruff format --check consul_sim tests benchmarks scenarios
	$(BIN)/mypy

format: install
	$(BIN)/ruff format consul_sim tests benchmarks scenarios
	$(BIN)/ruff check --fix consul_sim tests benchmarks scenarios

# make demo PORTS="9500 9501" (or PORTS=... in the environment) moves the two clusters.
PORTS ?= 8500 8501
DEMO ?= peering-page

demo: install
	$(BIN)/consul-sim scenario run -serve -ports "$(PORTS)" $(DEMO)

bench: install
	$(BIN)/python benchmarks/run.py

fuzz: install
	HYPOTHESIS_PROFILE=deep $(BIN)/python -m pytest -q tests/stateful tests/unit tests/fuzz

# HashiCorp's Go client's own tests against consul-sim (conformance/go/run.sh says how).
# run.sh makes throwaway client certificates with the openssl binary.
conformance: install
	command -v openssl >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y openssl)
	conformance/go/run.sh

clean:
	rm -rf $(VENV) .cache build *.egg-info .mypy_cache .ruff_cache
