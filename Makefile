# Two commands set everything up on a fresh machine:
#   make run   - start web + worker (and local Postgres/Redis when DATABASE_URL/REDIS_URL are unset)
#   make test  - run the whole test suite against real Postgres, Redis, workers and a browser,
#                spread over pytest-xdist workers (PYTEST_WORKERS below; PYTEST_ARGS adds options),
#                then the tests marked `alone` in one process, with the machine to themselves
# The virtualenv gets requirements-dev.txt, a lock with a hash for every package;
# `make lock` regenerates both locks from requirements.in and requirements-dev.in.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
# pytest-xdist workers for `make test`: `auto` lets tests/conftest.py choose (one more than
# the cores, since most tests wait on processes and sockets; none when TEST_DATABASE_URL or
# TEST_REDIS_URL name a single database). PYTEST_WORKERS=0 runs in this one process.
PYTEST_WORKERS ?= auto

.PHONY: run test lint lock bench wrk clean-data

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) scripts/devservices.py run -- honcho start web worker

# Two phases (scripts/test_phases.py): the tests marked `alone`, which hold processes to
# CPU-time deadlines, run after the others with the machine to themselves.
test: $(STAMP)
	$(PY) -m ruff check .
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m scripts.test_phases $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

# LOCK_ARGS go to uv: --upgrade moves every pin to the newest allowed release.
lock: $(STAMP)
	$(PY) scripts/lock.py $(LOCK_ARGS)

# The benchmarks' load generator (.ci/run installs it for tests/bench).
wrk:
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -qq wrk >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq wrk) \
		|| { echo "the benchmarks need wrk: apt-get install wrk"; exit 1; }

bench: $(STAMP) wrk
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m bench.run --quick

clean-data:
	rm -rf .data
