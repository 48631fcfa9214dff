# Two commands, see README.md: `make zoo` and `make test` (and `make bench`). All set up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
ZOO_DIR ?= build/local-zoo
JOBS ?= 2

.PHONY: setup zoo test bench clean-zoo

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) -m compileall -q converter modelzoo  # .pyc up front, even where PYTHONDONTWRITEBYTECODE is set
	touch $@

setup: $(VENV)/.installed

# Build the local zoo (seeded models, archived, listed in a manifest) and convert it all.
zoo: setup
	$(PY) -m modelzoo.localzoo $(ZOO_DIR)
	$(VENV)/bin/doit -n $(JOBS) convert manifest=$(ZOO_DIR)/models.toml

test: setup
	$(VENV)/bin/pytest -q

# Measure against ovc and curl, print the table of ratios (bench/results.md). Minutes.
bench: setup
	$(PY) -m bench

clean-zoo:
	rm -rf $(ZOO_DIR)
