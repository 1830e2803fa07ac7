# marsad: `make run` sets everything up and runs the main job; `make test` sets everything up
# and runs the tests. Both create .venv and install the project into it first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
REDIS_URL ?= $(or $(MARSAD_REDIS_URL),redis://127.0.0.1:6379/0)

.PHONY: help install run demo redis test check format bench-pipeline bench-text bench-match bench-dedup bench-parse bench-web bench-poll bench-fetch bench-e2e clean

help:
	@echo "make run    - install and run marsad (beat + worker), starting a private Redis if needed"
	@echo "make demo   - install and run the offline demo (bundled feeds replayed; Ctrl-C stops)"
	@echo "make test   - install and run the test suite"
	@echo "make check  - ruff (lint + format check) and mypy"

$(BIN)/marsad: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/marsad

# Start a private redis-server under .marsad/ when nothing answers at MARSAD_REDIS_URL.
redis: install
	@$(BIN)/python scripts/ensure_redis.py "$(REDIS_URL)"

run: redis
	$(BIN)/marsad run

# The offline demo: no network needed; it uses the Redis at MARSAD_REDIS_URL or starts a private,
# throwaway redis-server of its own (docs/operations.md, "Demo").
demo: install
	$(BIN)/marsad demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: install
	$(BIN)/ruff check worker tests bench scripts
	$(BIN)/ruff format --check worker tests bench scripts
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix worker tests bench scripts
	$(BIN)/ruff format worker tests bench scripts

bench-pipeline: install
	$(BIN)/python bench/bench_pipeline.py

# Issue 3: clean + normalise articles/s on one core, extraction pages/s; writes docs/benchmarks.md.
bench-text: install
	$(BIN)/python bench/text.py

# Issue 4: 1,000 rules over 5,000 articles, match only on one core, against a regex-per-word
# baseline; writes docs/benchmarks.md.
bench-match: install
	$(BIN)/python bench/match.py

# Issue 5: story evaluation (committed data, and the ANT corpus when ../shared/data is there),
# Redis bytes per article and articles/s for 100,000 articles; writes docs/benchmarks.md.
bench-dedup: install
	$(BIN)/python bench/dedup.py

# Issue 7: 200 feeds gaining items at a rising rate, `marsad run` with 1,000 rules on the real
# Redis (own prefix, deleted afterwards); fetch-to-alert latency and sustained articles/s.
bench-e2e: install
	$(BIN)/python bench/e2e.py

# Issue 6: parse cost (items/s) for feedparser, feedparser with the two options off, feedparser-rs
# (installed here only to measure it: not a dependency), and the feedparser-rs equivalence check
# on feedparser's test corpus (../shared/data, read in place); writes docs/benchmarks.md.
bench-parse: install
	$(BIN)/pip install --quiet 'feedparser-rs>=0.7.1'
	$(BIN)/python bench/parse.py

# Issue 6: requests/s for a 100 KB loopback document: httpx.get, a shared Client (sequential,
# 2/4/8 threads), AsyncClient (1/10/50 in flight), our Fetcher with and without the politeness
# gate; writes docs/benchmarks.md.
bench-fetch: install
	$(BIN)/python bench/fetch.py

# Issue 8: metrics recording per poll, /metrics and /readyz latency, SSE delivery latency;
# writes docs/benchmarks.md.
bench-web: install
	$(BIN)/python bench/web.py

# Issue 6: 10,000 feeds on 500 loopback hosts, all due at once, polled by `marsad run` with its
# default settings (needs Redis on 127.0.0.1:6379; its keys under a prefix of its own, deleted
# afterwards); writes docs/benchmarks.md "Polling at scale".
bench-poll: install
	$(BIN)/python bench/poll.py --record

clean:
	rm -rf $(VENV) .marsad .pytest_cache .mypy_cache .ruff_cache *.egg-info
