# caregraph: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint bench bench-quick fidelity reliability neo4j-start neo4j-stop clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian's Chromium for the browser tests (Playwright's own browser downloads are not used),
# and GraphiQL's files from the npm registry (served by the API; not committed).
install: $(STAMP)
	command -v chromium >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }
	$(BIN)/python -m caregraph.api.graphiql

## demo: start Neo4j, load the demo data, serve the API, print the URLs
demo: install
	$(BIN)/caregraph neo4j start
	$(BIN)/caregraph demo

## test: the whole test suite against a real Neo4j that the tests start themselves; in
## TEST_WORKERS processes (pytest-xdist), each with its own Neo4j servers, a test file's tests
## kept in one process so its loaded dataset is loaded once (much of the suite waits on Neo4j
## starts, kills and retries, which overlap well even on two cores); the longest files handed
## out first, in the order tests/conftest.py gives (SCHEDULED_FIRST). Against an external
## Neo4j (NEO4J_URI) one process: the workers would share, and wipe, its one database.
TEST_WORKERS ?= $(if $(NEO4J_URI),0,2)
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20

# mypy cannot follow the editable install's import hook (caregraph.api -> api/ ...), so it
# reads the four parts through a tree of links named as they are installed; the tree's
# caregraph/__init__.py lets mypy leave namespace packages off, so a data folder
# (graph/browser/) is not taken for the module beside it (graph/browser.py)
TYPECHECK := $(VENV)/typecheck
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p $(TYPECHECK)/caregraph && touch $(TYPECHECK)/caregraph/__init__.py
	for part in api graph loaders ontology; do ln -sfn $(CURDIR)/$$part $(TYPECHECK)/caregraph/$$part; done
	MYPYPATH=$(TYPECHECK) $(BIN)/mypy

bench: install
	$(BIN)/python -m bench.run --sizes 1000,10000,100000 --profile

bench-quick: install
	$(BIN)/python -m bench.run --sizes 1000

## reliability: the long fuzz, fault, overload and soak runs (CI runs bounded ones); writes
## docs/reliability.md
reliability: install
	$(BIN)/python -m bench.reliability

## fidelity: load every real sample in ../shared/samples, write docs/fidelity.md
fidelity: install
	$(BIN)/python -m bench.fidelity

neo4j-stop: install
	$(BIN)/caregraph neo4j stop

clean:
	rm -rf $(VENV) .caregraph .pytest_cache .mypy_cache .ruff_cache
