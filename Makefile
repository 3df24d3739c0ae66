# The commands README.md gives. Each target sets up the virtual environment first (once), from
# the pinned versions in constraints.txt, with the `test` and `docs` extras: the network's NumPy,
# the torch extra (the twin, data, report, plot), pytest and MkDocs; see pyproject.toml. .ci/run
# calls `make test` and `make docs`.
PYTHON ?= python3
VENV ?= .venv
# Where MNIST lives in torchvision's layout (<root>/MNIST/raw/...); override on the command line
# or in the environment.
SCRATCH_NN_DATA_ROOT ?= ../shared/datasets
export SCRATCH_NN_DATA_ROOT

.PHONY: setup compare test test-fast docs

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[test,docs]'
	touch $@

# The main job: train both sides on MNIST and print the side-by-side report.
# Pass options with ARGS, e.g. make compare ARGS="--preset paper-128-lr1 --plot run.png".
compare: setup
	$(VENV)/bin/python compare.py $(ARGS)

# Every tier: the fast suite, the slow tier (paper-sized networks) and the full-MNIST runs.
test: setup
	$(VENV)/bin/pytest -m ""

# The fast tier only (a couple of minutes): what to run while working.
test-fast: setup
	$(VENV)/bin/pytest

# The documentation site (mkdocs.yml, docs/) into site/; a warning (a broken link, a page
# missing from the nav) fails the build. The examples in it are run by tests/test_docs.py.
docs: setup
	$(VENV)/bin/mkdocs build --strict

# Mutation testing of scratch_nn/ and reference/comparison.py (tools/mutation.py; mutmut's
# settings in setup.cfg, reviewed equivalent mutants in tools/equivalent_mutants.toml).
# Prints: mutants, killed, equivalent (listed), survived (must be 0), time. ARGS="--changed main"
# tests only the files changed since main.
.PHONY: mutation
mutation: setup
	$(VENV)/bin/python tools/mutation.py $(ARGS)

# The linter (ruff, configured in pyproject.toml) and the import layers (import-linter's contracts,
# also in pyproject.toml): clean at every commit.
.PHONY: lint
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --config pyproject.toml
