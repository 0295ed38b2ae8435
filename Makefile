# driftloop: `make demo` runs the loop on the embedded stack, `make test` runs every test.
# Both set up everything they need on a fresh machine (virtualenv, packages, Redis server).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONHASHSEED := 0
# torch runs single-threaded: on small machines its thread pool fights the event loop.
export OMP_NUM_THREADS := 1

.PHONY: help install lock redis deploy-tools lint test test-e2e chaos demo bench broker clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU build; any other version pulls GBs of CUDA wheels.
	$(BIN)/pip install --quiet 'torch==2.13.0'
	# every other package at the version in constraints.txt (what CI ran), not the newest
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install driftloop with every extra

lock: ## Re-pin constraints.txt from the virtualenv (after changing pyproject.toml)
	@{ echo "# Every dependency pinned, for make install (pip -c): a fresh clone installs what CI ran."; \
	   echo "# Regenerate after changing pyproject.toml: make lock"; \
	   $(BIN)/pip freeze --exclude-editable | grep -v '^-e\|^#' | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/'; \
	 } > constraints.txt

# redis-server: the tests start a private one.
SYSTEM_TOOLS := redis-server
redis: ## Make sure redis-server and kcat exist (Debian packages)
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian packages)"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing) >/dev/null \
	  || { echo "could not install$$missing: install them by hand"; exit 1; }; fi

deploy-tools: install ## Tools of the deployment checks: docker-compose (Debian), kubernetes-validate
	@command -v docker-compose >/dev/null 2>&1 || { \
	  echo "installing docker-compose (Debian package, no Docker engine)"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-compose) >/dev/null \
	  || { echo "could not install docker-compose"; exit 1; }; }
	@# kubernetes-validate comes with the dev extra; kustomize overlays are rendered by
	@# tests/unit/test_deployment.py itself (no kustomize binary is packaged for Debian or PyPI).
	@test -x $(BIN)/kubernetes-validate || $(BIN)/pip install --quiet 'kubernetes-validate>=1.30'

lint: install ## ruff and mypy
	$(BIN)/ruff check driftloop services tests bench feature_repo
	$(BIN)/mypy

test: install redis deploy-tools lint ## Lint, then every test (the whole loop included) against a real broker and Redis
	$(BIN)/pytest -q -p no:cacheprovider

test-e2e: install redis ## Only the whole loop through separate processes (about 3 minutes)
	$(BIN)/pytest -q -p no:cacheprovider -m e2e tests/e2e

chaos: install redis ## Only the chaos suite: kill -9 of every service under load, fuzzed ingest (tests/chaos/README.md)
	$(BIN)/pytest -q -s -p no:cacheprovider -m chaos tests/chaos

demo: install ## Run the main job on the embedded stack
	$(BIN)/driftloop demo

bench: install redis ## Benchmarks: print the numbers recorded in the README
	$(BIN)/python -m bench

broker: install ## Run the embedded Kafka-compatible broker on 127.0.0.1:9092
	$(BIN)/driftloop broker

clean: ## Remove the virtualenv and local state
	rm -rf $(VENV) .driftloop .pytest_cache .mypy_cache .ruff_cache
