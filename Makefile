# Two commands for a fresh machine:
#   make demo   set up .venv and train + evaluate + predict the sentiment task on built-in data
#   make test   set up .venv and run the whole test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DEMO   ?= runs/demo/sentiment

.PHONY: install demo test test-fast bench clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,serve,tune,vectors]'
	touch $@

install: $(BIN)/.installed
	@# the browser test's Chromium (Debian packages), as root where apt-get exists; never fails the install
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && ! [ -x /usr/bin/chromedriver ]; then \
	  apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } || \
	  echo "could not install chromium and chromium-driver: the browser tests will skip"; fi

demo: install
	rm -rf $(DEMO)
	$(BIN)/rnn-apps train sentiment --run-dir $(DEMO)
	$(BIN)/rnn-apps evaluate $(DEMO)
	$(BIN)/rnn-apps predict $(DEMO) "the plot was not boring at all" "great acting but a painfully dull story"

test: install  # everything, the learning tests marked slow included
	@$(BIN)/python -m rnn_apps.machine
	$(BIN)/python -m pytest -q -m "slow or not slow" --durations=30 -n 2 --dist loadfile

test-fast: install  # the default suite: everything but the learning tests marked slow
	$(BIN)/python -m pytest -q

bench: install  # every benchmark; each prints its table and writes benchmarks/results/NAME.json
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) runs *.egg-info
