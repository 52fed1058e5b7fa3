# One vocabulary for the whole project. `make help` lists the targets.
#
# Everything runs with the project's virtualenv ($(VENV)); its bin/ directory is put first on
# PATH for every recipe (as `activate` would), because nbgrader and JupyterHub start helper
# commands such as `alembic` and `jupyterhub-singleuser` by name.

PYTHON ?= python3
VENV = .venv
VPY = $(VENV)/bin/python
PIP = $(VPY) -m pip --disable-pip-version-check
STAMP = $(VENV)/.installed
DATA = data/classroom
PYTEST = $(VPY) -m pytest -p no:cacheprovider
PYTEST_ARGS ?=
# Debian's chromium drives the browser tests (Playwright never downloads a browser here), and
# JupyterHub's proxy comes from the npm registry into hub_config/node_modules.
CHROMIUM = /usr/bin/chromium
# A workshop server starts learners' servers as systemd units; the hub tests boot systemd in
# namespaces of their own (tests/hub_config/systemd_host.py), whatever the machine's init.
SYSTEMD_RUN = /usr/bin/systemd-run
PROXY = hub_config/node_modules/.bin/configurable-http-proxy
# The book serves MathJax itself (no CDN), from the npm registry into book/node_modules.
MATHJAX = book/node_modules/mathjax/es5/tex-mml-chtml.js
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The demo serves the book at /services/book/: built again only when its pages, the notebooks,
# the grading code that releases them or the dataset behind its generated pages change.
BOOK_HTML = book/_build/html/index.html
BOOK_SOURCES := $(shell find book -path book/_build -prune -o -path book/node_modules -prune \
	-o -path book/released -prune -o -path book/_generated -prune -o -type f -print) \
	$(shell find notebooks grading -type f -not -name '*.pyc' -not -path '*/__pycache__/*')


export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install system-deps data demo hub-workshop-install test test-fast lint feedback bench report book clean distclean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-10s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

install: $(STAMP) $(PROXY) $(MATHJAX) ## Create .venv with the pinned requirements; install the hub's proxy and the book's MathJax

system-deps: $(CHROMIUM) $(SYSTEMD_RUN) $(PROXY) ## Install Debian's chromium and systemd, and the npm proxy only

$(CHROMIUM):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium fonts-dejavu-core >/dev/null

$(SYSTEMD_RUN):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		systemd util-linux >/dev/null

$(PROXY): hub_config/package.json hub_config/package-lock.json
	npm ci --prefix hub_config --no-audit --no-fund --loglevel=error
	touch $@

$(MATHJAX): book/package.json book/package-lock.json
	npm ci --prefix book --no-audit --no-fund --loglevel=error
	touch $@

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Re-runs only when a requirements file, the lock or pyproject.toml changes.
$(STAMP): requirements.txt requirements-nodeps.txt constraints.txt pyproject.toml | $(VPY)
	$(PIP) install --quiet -r requirements.txt -c constraints.txt
	$(PIP) install --quiet --no-deps -r requirements-nodeps.txt
	$(PIP) install --quiet --no-deps -e .
	touch $@

data: $(DATA)/manifest.json ## Generate the classroom dataset into data/classroom (seed 42)

# Regenerated only when the generator's code or parameters change.
GENERATOR_FILES := $(shell find synthetic_data -name '*.py' -o -name '*.yaml' -o -name '*.csv')
$(DATA)/manifest.json: $(GENERATOR_FILES) | $(STAMP)
	$(VPY) -m synthetic_data generate --out $(DATA) --seed 42

# Each step of the demo is a prerequisite; it ends running the course hub in the foreground
# (hub_config/demo): http://127.0.0.1:8000, accounts printed, Ctrl-C stops everything.
demo: install data $(BOOK_HTML) ## Set everything up and run the course hub on http://127.0.0.1:8000
	@echo
	@echo "The classroom dataset is in $(DATA)/; in Python: from synthetic_data import load"
	$(VPY) -m hub_config.demo

hub-workshop-install: install data ## Set this machine up as a workshop server (root; see hub_config/workshop/RUNBOOK.md)
	$(SUDO) $(VPY) -m hub_config.workshop.install $(HUB_ARGS)

# The run ends with its 30 slowest steps listed, to keep the whole of it short.
test: install $(CHROMIUM) $(SYSTEMD_RUN) data ## Run every test, slow and integration ones included
	$(PYTEST) --durations=30 $(PYTEST_ARGS) tests

test-fast: install ## Run the tests not marked slow or integration
	$(PYTEST) -m "not slow and not integration" $(PYTEST_ARGS) tests

lint: install ## Check the code with ruff
	$(VPY) -m ruff check .

# A learner's graded feedback on their own clone: NB's score and checks printed, and its feedback
# page (model answers included) written beside it as <name>.feedback.html; NB is not changed.
feedback: $(STAMP) ## Grade a notebook here and write its feedback page: make feedback NB=path/to/notebook.ipynb
	@[ -n "$(NB)" ] || { echo "Usage: make feedback NB=path/to/notebook.ipynb" >&2; exit 2; }
	$(VPY) -m grading feedback-local "$(NB)"

bench: install ## Run every benchmarks/*.py script in turn
	@set -e; for script in benchmarks/*.py; do \
		[ -e "$$script" ] || { echo "No benchmarks found."; break; }; \
		echo "== $$script"; \
		$(VPY) "$$script"; \
	done

report: install ## Write the realism report for data/classroom (generating it if missing)
	@[ -f $(DATA)/manifest.json ] || $(MAKE) --no-print-directory data
	$(VPY) -m synthetic_data report --data $(DATA) --out $(DATA)/realism_report

# The dataset is generated only if missing (never regenerated in place); build_book.py writes
# the realism report and dictionary into book/_generated, runs `python -m grading release`
# into book/released, builds with jupyter-book and prints the build time.
book: install ## Build the course book into book/_build/html
	@[ -f $(DATA)/manifest.json ] || $(MAKE) --no-print-directory data
	$(VPY) book/build_book.py --data $(DATA)

# The demo's book (see BOOK_HTML above).
$(BOOK_HTML): $(BOOK_SOURCES) $(DATA)/manifest.json | $(STAMP) $(MATHJAX)
	$(VPY) book/build_book.py --data $(DATA)
	touch $@

clean: ## Remove generated data and build outputs (keeps .venv)
	rm -rf data build dist book/_build book/_generated book/released test-artifacts *.egg-info .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -path ./.git -prune -o \
		-type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean ## Also remove .venv
	rm -rf $(VENV)
