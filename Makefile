# The two commands a new user needs:  `make run`  (the main job on embedded defaults)  and  `make test`.
# Both build the virtual environment in .venv first. Needs Python 3.11+, make and git.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.axia-installed

.PHONY: setup system-deps run test lint check-nbdev nbtest pytest pytest-unclocked clock-matrix bench readme docs stop clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "axia needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m compileall -q axia    # an editable install is not byte-compiled: every command would compile axia
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/python jobs/main_job.py

test: system-deps lint check-nbdev nbtest pytest-unclocked clock-matrix

system-deps:
	bash tools/install_system_deps.sh

lint: $(STAMP)
	$(BIN)/ruff check axia tests bench jobs tools

check-nbdev: $(STAMP)
	bash tools/check_nbdev.sh

nbtest: $(STAMP)
	$(BIN)/nbdev-test --n-workers 2

pytest: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

pytest-unclocked: $(STAMP)            # `make test`: the tests marked `clock` run in the matrix instead
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not clock"

clock-matrix: $(STAMP)
	bash tools/clock_matrix.sh

BENCHES := $(filter-out bench/arctic_baseline.py,$(wildcard bench/*.py))   # arctic_baseline.py: lake_read's ArcticDB side

bench: $(STAMP)                       # every benchmark runs; the missed goals are listed at the end (exit 1)
	$(BIN)/python -m compileall -q axia
	@missed=""; for b in $(BENCHES); do echo "== $$b"; $(BIN)/python $$b || missed="$$missed $$b"; done; \
	if [ -n "$$missed" ]; then echo "== goals missed in:$$missed"; exit 1; fi; echo "== every goal met"

faults:
	$(BIN)/python tools/fault_table.py

docs: $(STAMP)
	bash tools/build_docs.sh

readme: $(STAMP)
	$(BIN)/python tools/render_readme.py

stop:
	-test -x $(BIN)/axia && $(BIN)/axia --data-dir .axia stop

clean: stop
	rm -rf $(VENV) .axia _docs _proc .pytest_cache
