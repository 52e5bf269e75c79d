# rnnscope — the two commands a newcomer needs:
#   make run    set up (first time) and start the dashboard on http://127.0.0.1:8050
#   make test   set up (first time, incl. Chromium for browser tests) and run every test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast browser-deps services bench reproduce clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# Pin torch first: the CPU build of 2.13.0 (a bare "torch" would pull a multi-GB CUDA build).
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The demo models' dataset is fetched here (a no-op once cached): the dashboard itself
# downloads nothing unless started with --fetch-data.
run: install
	$(VENV)/bin/rnnscope data fetch mr
	$(VENV)/bin/rnnscope serve

# Debian's Chromium + ChromeDriver for the dash_duo browser tests (root on these machines).
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi

# Redis on 127.0.0.1:6379 for the integration tests; start one when none answers.
services:
	@if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do redis-cli ping >/dev/null 2>&1 && break; sleep 0.5; done; \
	fi

# Runs the whole suite; pytest's exit code 5 (no tests collected) is a failure.
test: install browser-deps services
	$(PY) -m pytest tests -q --timeout=1200 $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "FAIL: pytest collected no tests"; exit 1; fi; exit $$rc

test-fast: install
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

bench: install
	$(VENV)/bin/rnnscope bench fixed-points

reproduce: install
	$(VENV)/bin/rnnscope reproduce --data imdb,mr,tweets --arch lstm,gru,ugrnn,vrnn

clean:
	rm -rf $(VENV) .pytest_cache
