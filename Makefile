# make run   - start the desk (reads .env in this folder; the first time, makes .env from .env.example)
# make test  - run the whole test suite
# make bench - measure throughput, CPU, database scale and start-up (not part of `make test`)
# Each target builds .venv from the pinned requirements first, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run first-run test bench lint clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: first-run $(VENV)/.installed
	$(PY) bot.py

# The first `make run` in a fresh clone: no .env yet (and no BOT_TOKEN in the environment), so make
# one from .env.example and stop, saying what to fill in, instead of failing on a missing setting.
first-run:
	@if [ ! -f .env ] && [ -z "$$BOT_TOKEN" ]; then \
	  cp .env.example .env; \
	  echo "Created .env from .env.example. Two values in it must be filled in first:" >&2; \
	  echo "  BOT_TOKEN      the bot's token from @BotFather" >&2; \
	  echo "  SUPPORT_TOKEN  a secret of 16+ characters agents register with, for example the output of" >&2; \
	  echo "                 python3 -c 'import secrets; print(secrets.token_urlsafe(24))'" >&2; \
	  echo "Then run 'make run' again." >&2; \
	  exit 1; \
	fi

test: $(VENV)/.installed
	$(PY) -m pytest -n 4 --dist worksteal

bench: $(VENV)/.installed
	$(PY) bench/run.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
