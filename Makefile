# One-command entry points for a fresh machine: `make demo` and `make test`.
# Everything the project needs is installed here into .venv; nothing is assumed on the machine
# beyond python3 (3.11) with venv.  torch==2.13.0 is installed first, by itself, so that pip takes
# the CPU build (see DEVELOPERS.md).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/autoenchorder
STAMP  := $(VENV)/.installed
DEMO_OUT ?= runs/demo
PYTEST_WORKERS ?= 2

.PHONY: setup weights test lint demo demo-quick bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Pretrained embedder weights that can be had offline (musicnn ships them on PyPI).
weights: $(STAMP)
	$(CLI) weights setup musicnn

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts

test: $(STAMP) weights lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q

demo: $(STAMP) weights
	$(CLI) demo --out $(DEMO_OUT)

demo-quick: $(STAMP) weights
	$(CLI) demo --quick --out runs/demo-quick

# Speed and memory targets: each script prints a table pairing our code with its reference.
bench: $(STAMP) weights
	$(PY) benchmarks/lowlevel.py
	$(PY) benchmarks/extract_memory.py
	$(PY) benchmarks/embeddings.py
	$(PY) benchmarks/vggish.py
	$(PY) benchmarks/datasets.py
	$(PY) benchmarks/corpus.py
	$(PY) benchmarks/training.py
	$(PY) benchmarks/evaluate.py
	$(PY) benchmarks/predict.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
