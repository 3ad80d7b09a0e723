# threatevents developer commands. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Optional package index for torch alone, e.g. `make test TORCH_INDEX=https://download.pytorch.org/whl/cpu` for the
# CPU-only build. Empty (the default): plain `pip install torch==...`, which takes whatever pip's configuration finds
# first; on Linux x86-64 with only PyPI configured that is the CUDA build and its nvidia-* packages (several GB).
TORCH_INDEX ?=
TORCH_PIP_ARGS := $(if $(strip $(TORCH_INDEX)),--index-url $(strip $(TORCH_INDEX)))

.PHONY: demo setup test test-all lint format typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Runtime only (no torch): tag the sample report with the shipped default model.
demo: $(BIN)/python
	$(BIN)/pip install -q .
	$(BIN)/threatevents tag examples/sample-report.html --format jsonl

# Everything for development and tests. torch first (from TORCH_INDEX when given), then the package with every
# extra; pip keeps the torch already installed because it satisfies the pin.
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH_PIP_ARGS) torch==2.13.0
	$(BIN)/pip install -q -e '.[train,serve,dev,batch,ray]'
	touch $@

setup: $(VENV)/.dev-installed

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# TORCH_CHECKPOINT=runs/<run>/torch (from benchmarks/train_transformer.py) adds the PyTorch baseline to bench_models.
bench: setup
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_splitters.py
	$(BIN)/python benchmarks/bench_models.py $(if $(TORCH_CHECKPOINT),--torch-checkpoint $(TORCH_CHECKPOINT))
	$(BIN)/python benchmarks/bench_ioc_extractors.py
	$(BIN)/python benchmarks/bench_service_load.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache test-artifacts
