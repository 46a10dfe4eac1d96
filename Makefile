# apigw-4xx: every task a developer, a user or CI runs. Tools come from a project-local .venv with
# pinned versions (tools/requirements.txt) and .tools (cargo-fuzz, pinned in tools/fuzz.sh), created
# on first use; nothing is installed globally.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
REGION ?= us-east-1
EVENT ?= events/high.json
# The template targets arm64 (Graviton); the host template lets `sam build` run where the arm64
# standard library is not installed (CI builds and tests x86_64).
HOST_TEMPLATE := target/template-host.yaml
FUZZ_SECONDS ?= 20

.PHONY: help venv demo test lint build build-host invoke sam-invoke deploy bench fuzz events clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'

$(VENV)/.installed: tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

venv: $(VENV)/.installed ## Create .venv with the pinned tools

demo: venv ## Run the function locally against the emulator with the sample events; print alerts and metrics
	cargo build --bin bootstrap
	$(PY) tools/demo.py

test: venv lint ## Everything CI runs: unit, property, CLI, emulator, fault and template tests, sam build
	cargo test --all-targets
	$(PY) -m unittest -v tests/template_test.py
	$(MAKE) --no-print-directory build-host
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

lint: venv ## cargo fmt --check, clippy -D warnings, cfn-lint, sam validate (--lint)
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cfn-lint template.yaml examples/demo-api/template.yaml
	sam validate --region $(REGION)
	sam validate --lint --region $(REGION)

build: venv ## sam build (arm64); falls back to cargo lambda build for the host when arm64 is missing
	@if rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu; then \
		sam build --beta-features; \
	else \
		echo "aarch64 standard library not installed: building for the host instead (x86_64)"; \
		cargo lambda build --release --bin bootstrap; \
	fi

build-host: venv ## sam build with the template switched to the host architecture (what CI checks)
	sed 's/Architectures: \[arm64\]/Architectures: [x86_64]/; s|CodeUri: \.$$|CodeUri: ../|' template.yaml > $(HOST_TEMPLATE)
	# What matters here is that the path works: a release build without LTO is quicker.
	CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
		sam build --template-file $(HOST_TEMPLATE) --build-dir target/sam-build --beta-features
	$(PY) tools/check_sam_build.py target/sam-build Function SweepFunction

invoke: venv ## Invoke the function locally once with EVENT (starts the emulator)
	cargo build --bin bootstrap
	DEMO_EVENTS=$(EVENT) $(PY) tools/demo.py

sam-invoke: ## sam local invoke with EVENT (needs Docker)
	sam build --beta-features
	sam local invoke Function --event $(EVENT)

deploy: ## sam build && sam deploy --guided (real AWS account and credentials)
	sam build --beta-features
	sam deploy --guided

bench: venv ## Criterion core benchmarks and whole-process comparisons; prints the tables
	cargo bench --bench core -- --noplot
	$(PY) tools/bench.py

fuzz: ## Short bounded fuzz runs of the decoder and the line parser (FUZZ_SECONDS each)
	tools/fuzz.sh $(FUZZ_SECONDS)

events: ## Regenerate the sample events in events/
	cargo run --quiet --example gen_events -- events

clean: ## Remove build output, the venv and fuzz artifacts
	cargo clean
	rm -rf $(VENV) .tools .aws-sam fuzz/target fuzz/artifacts
