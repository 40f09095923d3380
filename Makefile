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

.PHONY: setup weights kernels system-deps test lint demo demo-quick serve bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Pretrained embedder weights that can be had offline (musicnn ships them on PyPI).
weights: $(STAMP)
	$(CLI) weights setup musicnn

# The numba kernels (low-level features, procedural renderer) compiled once here, ~30 s on a
# fresh install, so that no later run pays for it and parallel workers never compile at once.
kernels: $(STAMP)
	$(PY) -m autoenchorder.warm

# The suite's workers each keep their own numba cache (tests/conftest.py), started as copies of
# this one, compiled before the suite.
TEST_NUMBA_CACHE := $(CURDIR)/.cache/numba/warm

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts

# Real services the tests start themselves: a PostgreSQL server (initdb into a temporary folder,
# 127.0.0.1 only) and a headless Chromium for the web page. Debian packages, installed when missing.
SYSTEM_PACKAGES := postgresql chromium
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } \
	      || echo "could not install:$$missing -- the tests that need them skip, saying why"; \
	  else \
	    echo "missing Debian packages:$$missing -- run: sudo apt-get install$$missing (their tests skip without them)"; \
	  fi; \
	fi

test: $(STAMP) weights lint system-deps
	NUMBA_CACHE_DIR=$(TEST_NUMBA_CACHE) $(PY) -m autoenchorder.warm
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q

demo: $(STAMP) weights kernels
	$(CLI) demo --out $(DEMO_OUT)

demo-quick: $(STAMP) weights kernels
	$(CLI) demo --quick --out runs/demo-quick

# The page for musicians at http://127.0.0.1:8000/, serving the demo's bundle (make demo first).
serve: $(STAMP) weights kernels
	$(CLI) serve --model $(DEMO_OUT)/bundles/autoenchorder

# Speed and memory targets: each script prints a table pairing our code with its reference.
bench: $(STAMP) weights kernels
	$(PY) benchmarks/lowlevel.py
	$(PY) benchmarks/extract_memory.py
	$(PY) benchmarks/embeddings.py
	$(PY) benchmarks/vggish.py
	$(PY) benchmarks/datasets.py
	$(PY) benchmarks/corpus.py
	$(PY) benchmarks/training.py
	$(PY) benchmarks/evaluate.py
	$(PY) benchmarks/predict.py
	$(PY) benchmarks/serve.py
	$(PY) benchmarks/scaling.py
	@if $(PY) -c "import transformers" 2>/dev/null; then $(PY) benchmarks/clap.py; \
	else echo "benchmarks/clap.py skipped: CLAP needs the clap extra (pip install -e '.[clap]')"; fi

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
