# The collections platform: `make help` lists the targets.
# Needs Python 3.11+, a JDK 17+ and Maven on PATH; uv is installed on demand.

.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH, else the one pip installed into $(PYTHON) (its bin folder may not be on PATH).
UV = $(shell command -v uv >/dev/null 2>&1 && echo uv || echo "$(PYTHON) -m uv")

.PHONY: help install run keys collections test bench bench-notifier bench-rules bench-gateway bench-compliance bench-pipeline bench-outbox docs lint clean

help: ## List the targets
	@grep -E '^[a-z][a-z_-]*:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "} {printf "  make %-15s %s\n", $$1, $$2}'

install: ## Install uv (if missing), the locked Python dependencies and the Kafka jars
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 \
		|| $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen
	$(UV) run --frozen python -m deploy.devstack fetch

run: install ## Run Kafka, PostgreSQL, the four services and the borrowers' site on this machine (Ctrl-C stops)
	$(UV) run --frozen python -m deploy.devstack run

keys: ## API keys of the running stack: make keys ARGS='issue --role lender --tenant L-1' (list, revoke ID)
	$(UV) run --frozen collections keys $(or $(ARGS),list)

collections: ## The operator command: make collections ARGS='outbox parked intake' (ARGS='--help': every group)
	$(UV) run --frozen collections $(or $(ARGS),--help)

test: install ## Run the tests (Kafka and PostgreSQL from the env, Docker, or the local stack; tests/browser needs /usr/bin/chromium: screenshots in artifacts/screenshots/)
	$(UV) run --frozen pytest -q

bench: install ## Measure intake throughput on the local stack (minutes; prints a median table)
	$(UV) run --frozen python -m benchmarks.intake

bench-notifier: install ## Reminders sent/s vs a bare httpx loop; ARGS=--consumer: events recorded/s vs consume + COPY (minutes)
	$(UV) run --frozen python -m benchmarks.notifier $(ARGS)

bench-rules: ## Measure contact-rules checks per second against a bare loop (seconds)
	$(UV) run --frozen python -m benchmarks.contact_rules

bench-outbox: install ## The outbox relay deleting published rows vs marking them, paired, with raw limits
	$(UV) run --frozen python -m benchmarks.outbox $(ARGS)

bench-gateway: install ## Placement decisions/s and the agencies' list p99, each against its raw limit
	$(UV) run --frozen python -m benchmarks.agency_gateway

bench-compliance: install ## Audit log: appends/s vs COPY, proof and timeline p99 in 1,000,000 entries, time to a signed checkpoint
	$(UV) run --frozen python -m benchmarks.compliance

bench-pipeline: install ## The whole platform: end to end, latency at 1,000/s, drain, RSS vs raw limits (ARGS='--quick --json p.json')
	$(UV) run --frozen python -m benchmarks.pipeline $(ARGS)

docs: ## Regenerate docs/openapi/*.json, docs/asyncapi.json and docs/contact-rules.md from the code
	$(UV) run --frozen python -m deploy.apidocs
	$(UV) run --frozen python -m shared.contact_rules.reference

lint: ## ruff check, ruff format --check, mypy --strict
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

clean: ## Wipe .devstack/ and .devstack-test/ (keeps the downloaded jars) and tool caches
	$(UV) run --frozen python -m deploy.devstack clean
	rm -rf .mypy_cache .ruff_cache .pytest_cache
