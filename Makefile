# The two commands a new machine needs: `make dev` and `make test`. Both do their own set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
export PYTHONPATH := $(CURDIR)/lambdas

MODEL  := build/model/vectadb-model.json
LAYERS := build/layers/sizes.json
# The CDK CLI: npm's `latest` tag is an old 3.0.0 that cannot read current assemblies; pin a 2.x.
CDK_VERSION := 2.1148.1
CDK    := build/cdk/node_modules/.bin/cdk
# The console's front-end libraries, pinned, copied from npm into the code asset (never fetched at run time)
CONSOLE_PACKAGES := preact@10.27.2 htm@3.1.1 uplot@1.6.32
CONSOLE_VENDOR   := lambdas/vectadb/api/console/vendor
CONSOLE := build/console/installed-$(shell echo $(CONSOLE_PACKAGES) | cksum | cut -d' ' -f1)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: dev test unit integration infra e2e screenshots browser console lint docs format bench model layers cli synth deploy diff destroy clean \
	agent-logs agent-logs-score

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

## The embedding model, built once and cached under build/model (see layers/model/build.py)
$(MODEL): $(STAMP) layers/model/build.py layers/model/bert_onnx.py
	$(BIN)/python -m layers.model.build --out build/model

model: $(MODEL)

## The Lambda layers (base, full, model), built without Docker; see layers/build.py
$(LAYERS): $(STAMP) $(MODEL) requirements.txt layers/build.py layers/model/build.py
	$(BIN)/python -m layers.build --out build/layers

layers: $(LAYERS)

$(CDK):
	npm install --prefix build/cdk --no-audit --no-fund --no-save --loglevel=error aws-cdk@$(CDK_VERSION)

cli: $(CDK)

## The console's pinned libraries (Preact, htm, uPlot) from npm into its vendor/ directory
$(CONSOLE):
	npm install --prefix build/console --no-audit --no-fund --no-save --loglevel=error $(CONSOLE_PACKAGES)
	mkdir -p $(CONSOLE_VENDOR)
	cp build/console/node_modules/preact/dist/preact.module.js build/console/node_modules/preact/hooks/dist/hooks.module.js \
	   build/console/node_modules/htm/dist/htm.module.js build/console/node_modules/uplot/dist/uPlot.esm.js \
	   build/console/node_modules/uplot/dist/uPlot.min.css $(CONSOLE_VENDOR)/
	rm -f build/console/installed-* && touch $(CONSOLE)

console: $(CONSOLE)

## The browser of the console's end-to-end tests: Debian's chromium, driven by Playwright from PyPI
## (never `playwright install`); installed when missing if make runs as root, else what to install
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" -eq 0 ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; \
	else \
		echo "The console's browser tests need Chromium at $(CHROMIUM): install Debian's package," \
			"e.g. 'sudo apt-get install -y chromium', then run make again." >&2; \
		exit 1; \
	fi

browser: $(CHROMIUM)

## The CloudFormation template (cdk.out/), with the cdk-nag checks; deploy, diff and destroy it
synth: $(STAMP) $(LAYERS) $(CDK) $(CONSOLE)
	$(CDK) synth --quiet $(CDK_ARGS)

deploy: $(STAMP) $(LAYERS) $(CDK) $(CONSOLE)
	$(CDK) deploy $(CDK_ARGS)

diff: $(STAMP) $(LAYERS) $(CDK) $(CONSOLE)
	$(CDK) diff $(CDK_ARGS)

destroy: $(CDK)
	$(CDK) destroy $(CDK_ARGS)

## Start the local API on http://127.0.0.1:8080 with embedded stores under ./.vectadb/,
## and feed the demo agents' logs through the parser so that there are traces to look at
dev: $(STAMP) $(MODEL) $(CONSOLE)
	$(BIN)/python -m vectadb.local.server --demo lambdas/parser/demo

## Lint, then run the whole test suite (pytest's exit code 5, "no tests collected", is reported, not hidden)
test: $(STAMP) $(MODEL) $(LAYERS) $(CDK) $(CONSOLE) $(CHROMIUM) lint
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit code 5)" >&2; fi; exit $$rc

## The fast loops, each with only the set-up it needs: unit (no model, layers or CLI; seconds),
## integration (the real engines and the model), infra (the synthesized stack and the layers)
unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: $(STAMP) $(MODEL)
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

infra: $(STAMP) $(LAYERS) $(CDK) $(CONSOLE)
	$(BIN)/python -m pytest tests/infra $(PYTEST_ARGS)

## The console in headless Chromium against the real local server (the demo and a generated data set)
e2e: $(STAMP) $(MODEL) $(CONSOLE) $(CHROMIUM)
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

## Replace the console's screenshots in docs/ with the pages as they are now
screenshots: $(STAMP) $(MODEL) $(CONSOLE) $(CHROMIUM)
	VECTADB_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/e2e -k docs_screenshots $(PYTEST_ARGS)

## Style, types (mypy with pydantic's plugin), complexity (no function worse than grade C, no module
## worse than B, average A), and the docs made from the code
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/xenon --max-absolute C --max-modules B --max-average A lambdas infra layers bench
	$(BIN)/python -m vectadb.local.docs --check

## Rewrite the parts of the docs made from the code (the error table, docs/openapi.json)
docs: $(STAMP)
	$(BIN)/python -m vectadb.local.docs

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) $(MODEL)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/embed.py
	$(BIN)/python bench/parse.py

## Re-run the real agent libraries behind tests/fixtures/agent_logs (one virtualenv each, from PyPI)
agent-logs:
	$(PYTHON) tests/fixtures/agent_logs/harness/regenerate.py $(LIBRARIES)

## How much of what those runs really did the parser recovers, per library and log format
agent-logs-score: $(STAMP)
	POWERTOOLS_LOG_LEVEL=ERROR $(BIN)/python -m tests.integration.agent_logs $(LIBRARIES)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build cdk.out
