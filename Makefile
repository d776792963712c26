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
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	rm -rf $(DEMO)
	$(BIN)/rnn-apps train sentiment --run-dir $(DEMO)
	$(BIN)/rnn-apps evaluate $(DEMO)
	$(BIN)/rnn-apps predict $(DEMO) "the plot was not boring at all" "great acting but a painfully dull story"

test: install
	@$(BIN)/python -m rnn_apps.machine
	$(BIN)/python -m pytest -q

test-fast: install  # everything but the learning tests marked slow
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python benchmarks/bench_sentiment.py

clean:
	rm -rf $(VENV) runs *.egg-info
