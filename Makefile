# Sales forecasting notebooks: `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PARAMS ?= params/default.yaml

.DEFAULT_GOAL := help
.PHONY: help setup report smoke test lab sync benchmarks clean-reports

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the project with its pinned dependencies

report: $(STAMP) ## run all notebooks on the shipped default data (PARAMS=... for another file)
	$(BIN)/python -m salesutils run $(PARAMS)

smoke: $(STAMP) ## the tiny synthetic run (under a minute)
	$(BIN)/python -m salesutils run params/smoke.yaml

test: $(STAMP) ## run the test suite (what CI runs)
	$(BIN)/python -m pytest

lab: $(STAMP) ## open JupyterLab on the notebooks
	$(BIN)/jupyter lab notebooks/

sync: $(STAMP) ## update notebooks/*.ipynb and their paired .py scripts from each other
	$(BIN)/jupytext --sync notebooks/*.ipynb

benchmarks: $(STAMP) ## run every params/benchmarks/*.yaml (needs ../shared/benchmarks)
	@for f in params/benchmarks/*.yaml; do $(BIN)/python -m salesutils run $$f --no-progress || exit 1; done

clean-reports: ## delete all run folders under reports/ (keeps reports/README.md)
	find reports -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
