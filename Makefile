# apigw-4xx: every task a developer, a user or CI runs. Tools come from a project-local .venv with
# pinned versions (tools/requirements.txt); nothing is installed globally.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
EVENT ?= events/high.json

.PHONY: help venv demo test lint build invoke sam-invoke deploy bench clean events

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'

$(VENV)/.installed: tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

venv: $(VENV)/.installed ## Create .venv with the pinned tools

test: venv ## All tests (the CI command)
	cargo test --all-targets
