# The course's commands. `make demo` and `make test` are all a new user needs.
#   make setup   create .venv from the lock (requirements.txt); install course, put autograder on its path
#   make test    the full test suite, as CI runs it (.ci/run)
#   make demo    grade the bundled sample submissions of the labs (instructor's view)
#   make lab     JupyterLab on the released labs
#   make bench   time every solution notebook at COURSE_SCALE (default cpu)

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(abspath $(VENV))/bin
# The stamp's name carries a checksum of the lock and the package metadata: a second
# `make setup` with both unchanged finds the stamp and does nothing.
SETUP_KEY := $(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.setup-$(SETUP_KEY)
# nbgrader shells out to alembic, jupyter to its kernels: the venv's bin must come first.
export PATH := $(BIN):$(PATH)
# Real data sets beside the repository (../shared/data) when present; else the tests
# use offline samples and skip what needs the real files.
SHARED_DATA := $(wildcard $(abspath ..)/shared/data)
DATA_ENV := $(if $(SHARED_DATA),COURSE_DATA=$(SHARED_DATA))
COURSE_SCALE ?= cpu
# The grader is in no package (students install `course`, never `autograder`): a .pth file
# puts this repository on the venv's path, so `python -m autograder` works from any folder
# and in every worker process. Conda users run the same line with their env's python.
GRADER_PATH := import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "course-grader.pth").write_text("$(CURDIR)\n")

.PHONY: setup test demo lab bench clean-venv

setup: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; v == (3, 11) or print(f"warning: the lock is made for Python 3.11; $(PYTHON) is {v[0]}.{v[1]}")'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(VENV)/bin/python -c '$(GRADER_PATH)'
	rm -f $(VENV)/.setup-*
	touch $@

# No test may hang: 30 minutes at most each (pytest-timeout; @pytest.mark.timeout overrides).
test: setup
	$(DATA_ENV) $(VENV)/bin/python -m pytest -q --timeout=1800 tests/

demo: setup
	$(DATA_ENV) $(VENV)/bin/python -m autograder demo

lab: setup
	$(VENV)/bin/jupyter lab labs/

bench: setup
	$(DATA_ENV) COURSE_SCALE=$(COURSE_SCALE) $(VENV)/bin/python tests/test_notebooks.py

clean-venv:
	rm -rf $(VENV)
