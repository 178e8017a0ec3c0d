# evrelease: two commands on a fresh machine (Python 3.11 and nothing else).
#   make run    set up, migrate, seed the demo, start web + worker + beat (embedded defaults)
#   make test   set up and run the whole suite (real PostgreSQL/Redis when they answer)
#   make lint   ruff, mypy and the layer contract (import-linter)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench schema lock clean validation-report

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# uv, pinned and bootstrapped by pip into the venv, installs the locked tree in seconds
# (several times faster than pip); where uv cannot be had or fails, pip installs the same lock.
UV_VERSION := 0.13.8
PIP_INSTALL := $(BIN)/python -m pip install --quiet --upgrade pip && \
	$(BIN)/python -m pip install --quiet -c requirements-dev.lock -e ".[dev]"
UV_INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python -c requirements-dev.lock -e ".[dev]"

$(STAMP): $(BIN)/python pyproject.toml requirements-dev.lock
	@if $(BIN)/python -m pip install -qq --disable-pip-version-check uv==$(UV_VERSION); then \
	  echo "installing the locked dependencies with uv $(UV_VERSION)"; \
	  $(UV_INSTALL) || { echo "uv failed: installing with pip instead"; $(PIP_INSTALL); }; \
	else \
	  echo "uv $(UV_VERSION) could not be installed: installing with pip"; $(PIP_INSTALL); \
	fi
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m services.launcher run

test: $(STAMP)
	$(BIN)/python -m services.launcher test $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check services qc releases tests
	@# The django-stubs plugin imports the settings: a URL to parse, no server to start.
	DATABASE_URL=$${DATABASE_URL:-postgres://mypy@127.0.0.1:1/mypy} $(BIN)/mypy services qc releases
	$(BIN)/lint-imports

# The suite, then its requirements-traceability matrix (HTML and PDF), even when tests
# fail: the report shows them failed and the target exits non-zero.
VALIDATION := var/validation
validation-report: $(STAMP)
	@mkdir -p $(VALIDATION) && rm -f $(VALIDATION)/results.json
	@status=0; \
	$(BIN)/python -m services.launcher test --validation-json=$(VALIDATION)/results.json $(PYTEST_ARGS) || status=$$?; \
	$(BIN)/python -m tests.validation.report $(VALIDATION)/results.json \
	  --html $(VALIDATION)/validation-report.html --pdf $(VALIDATION)/validation-report.pdf \
	  || { code=$$?; [ $$status -ne 0 ] || status=$$code; }; \
	exit $$status

bench: $(STAMP)
	$(BIN)/python -m services.launcher bench $(BENCH)

schema: $(STAMP)
	$(BIN)/python manage.py spectacular --file openapi.yaml --validate

clean:
	rm -rf $(VENV) var staticfiles

# Re-pin the dependency tree after changing pyproject.toml: requirements.lock holds
# what the image needs, requirements-dev.lock adds the test and lint tools.
lock: $(STAMP)
	rm -rf var/lock-venv && $(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/python -m pip install --quiet -c requirements-dev.lock .
	echo "# Runtime dependencies, pinned (what the image installs). Regenerate: make lock" > requirements.lock
	var/lock-venv/bin/python -m pip freeze --exclude evrelease >> requirements.lock
	echo "# Runtime + development dependencies, pinned (make test, make lint, CI). Regenerate: make lock" > requirements-dev.lock
	$(BIN)/python -m pip freeze --exclude evrelease --exclude uv --exclude-editable >> requirements-dev.lock
	rm -rf var/lock-venv
