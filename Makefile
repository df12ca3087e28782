# Two commands on a fresh machine (Python 3.11): `make run` runs the main job, `make test` the
# tests; each sets up the virtual environment .venv (the package with its dev extras) when it is
# missing or pyproject.toml changed.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.landuse-installed
ARGS ?=

.PHONY: run test lint notebooks benchmarks clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

# the default region (Leipzig and the Wurzener Land) offline from ../shared/data; pass options
# with ARGS, e.g. make run ARGS="--scenario wind_750m"
run: $(STAMP)
	$(BIN)/landuse run $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check landuse tests benchmarks notebooks

test: lint
	$(BIN)/python -m pytest -q

# .ipynb beside the jupytext scripts, for Jupyter without jupytext
notebooks: $(STAMP)
	$(BIN)/jupytext --to ipynb notebooks/0*.py

benchmarks: $(STAMP)
	for b in layers rasters parcels suitability wind_exclusions allocation mbtiles map run; do $(BIN)/python benchmarks/bench_$$b.py; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
