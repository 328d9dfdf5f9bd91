# Prism: every command a developer or CI needs. `make run` and `make test` do all set-up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BIN := node_modules/.bin
BUN := $(BIN)/bun
export PATH := $(CURDIR)/$(BIN):$(PATH)

PROTO_SRC := $(shell find proto -name '*.proto' -not -path 'proto/gen/*')

.PHONY: help deps proto go-tools build-plugins build run test coverage test-images docker-engine test-unit bench typecheck check lint format clean services services-down services-status images capabilities faults docs

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

deps: node_modules/.installed ## install npm packages (Bun included, from the npm registry)

proto/gen/.stamp: $(PROTO_SRC) buf.yaml buf.gen.yaml node_modules/.installed
	$(BIN)/buf generate
	@touch $@

proto: proto/gen/.stamp ## generate TypeScript from proto/ with buf + protoc-gen-es

# Go programs the interop suites run: a grpc-go client (tests/interop/go/cmd/grpc-client) and h2spec, the HTTP/2
# conformance suite (a `tool` of the same module). Versions and checksums pinned by tests/interop/go/go.mod and
# go.sum (grpc-go v1.85.0, h2spec v2.2.1); built into .tools/ (not in git).
GO_TOOLS := .tools/grpc-client .tools/h2spec

.tools/grpc-client: tests/interop/go/go.mod tests/interop/go/go.sum $(wildcard tests/interop/go/cmd/grpc-client/*.go)
	cd tests/interop/go && go build -o $(CURDIR)/$@ ./cmd/grpc-client

.tools/h2spec: tests/interop/go/go.mod tests/interop/go/go.sum
	cd tests/interop/go && go build -o $(CURDIR)/$@ github.com/summerwind/h2spec/cmd/h2spec

go-tools: $(GO_TOOLS) ## build the Go interop tools (grpc-go client, h2spec) into .tools/

# The executables come from scripts/executables.ts: every <folder>/pattern.json, plus the proxy and the tools.
build-plugins: proto ## build every executable into dist/ with bun build --compile
	@$(BUN) scripts/build.ts

build: build-plugins

typecheck: proto ## TypeScript strict type check
	$(BIN)/tsc --noEmit -p .

check: typecheck ## tsc --noEmit, then Biome: lint and format check (biome.jsonc; writes nothing)
	$(BIN)/biome ci --colors=off .

lint: deps ## Biome lint only
	$(BIN)/biome lint --colors=off .

format: deps ## format every TypeScript file with Biome (writes)
	$(BIN)/biome format --write .

run: build-plugins ## start the proxy on 127.0.0.1:8980 with the in-memory pattern
	./dist/proxy --config config/proxy.yaml

services: deps ## install (if missing) and start Redis, NATS (JetStream), Kafka and PostgreSQL on loopback
	bash scripts/services/up.sh all

services-down: ## stop the services started by `make services`
	bash scripts/services/down.sh all

services-status: ## show which services run
	bash scripts/services/status.sh

.PHONY: cluster cluster-down cluster-chaos
cluster: build-plugins ## three proxies over Redis Cluster 3+3, 3 NATS nodes (JetStream R3), 3 Kafka brokers (KRaft) on loopback; not in make test
	bash scripts/cluster/up.sh

cluster-down: ## stop `make cluster` (WIPE=1 also removes its data)
	bash scripts/cluster/down.sh $(if $(WIPE),--wipe)

cluster-chaos: cluster ## kill a proxy, a pattern instance, a Redis master, a NATS node, a Kafka broker under load; README table
	$(BIN)/bun scripts/cluster/chaos.ts

test: coverage ## every test: unit, black-box against dist/, real backends; coverage floor; the images under Docker when an engine runs
	@if bash scripts/docker-engine.sh up; then $(MAKE) --no-print-directory test-images; \
	else echo "test: the container suites (make test-images) did not run: no Docker engine, for the reason above"; fi

# The acceptance suites against the images, run by Docker through testcontainers (tests/containers/).
test-images: build-plugins services docker-engine ## key-value and pub/sub suites against the proxy and pattern images (needs make docker-engine)
	bash scripts/images.sh
	TESTCONTAINERS_RYUK_DISABLED=true $(BUN) test --timeout 60000 ./tests/containers/acceptance.containers.ts

# Every suite with coverage (lcov), as TEST_JOBS bun test processes side by side (scripts/test_parallel.ts: test folders
# as units, the longest first; coverage merged into coverage/lcov.info), then the floors of scripts/coverage_floor.json.
TEST_JOBS ?= 2
coverage: build-plugins services go-tools ## bun test --coverage over every suite (TEST_JOBS processes at a time), then the per-folder floor check
	@rm -rf coverage
	$(BUN) scripts/test_parallel.ts --jobs $(TEST_JOBS) --coverage-dir coverage -- --timeout 30000
	$(BUN) scripts/coverage_floor.ts coverage/lcov.info

test-unit: proto ## only the tests that need no external service
	$(BUN) test sdk ./h2 ./memstore ./proxy ./redis

bench: build-plugins ## benchmarks: in-process store, then everything side by side (bench/README.md; ~5 min)
	$(BUN) bench/memstore.bench.ts
	@bash scripts/services/up.sh all || echo "bench: not every service started; rows that need one will say 'not run'"
	$(BUN) bench/run.ts

# Side by side against a git ref, in alternating rounds of one run (bench/compare.ts; bench/README.md).
#   make bench-compare BASE=<ref> [ROWS=id,id] [ROUNDS=3] [DURATION=5s] [OUT=file]
.PHONY: bench-compare
bench-compare: proto ## base (a git ref, built in a worktree) vs this tree, rows alternating: BASE=<ref> [ROWS= ROUNDS= DURATION= OUT=]
	@if [ -z "$(BASE)" ]; then echo "bench-compare: say which build to compare with: make bench-compare BASE=<git ref>"; exit 2; fi
	$(BUN) bench/compare.ts --base '$(BASE)' $(if $(ROWS),--rows '$(ROWS)') $(if $(ROUNDS),--rounds '$(ROUNDS)') $(if $(DURATION),--duration '$(DURATION)') $(if $(OUT),--out '$(OUT)')

faults: build-plugins services ## the fault suite alone, rewriting the fault table of docs/operations.md and tests/faults/results/latest.json
	PRISM_RECORD_FAULTS=1 $(BUN) test --timeout 60000 ./tests/faults

capabilities: build-plugins ## ask each key-value pattern for GetCapabilities; rewrite the capability table of docs/client-api.md
	@bash scripts/services/up.sh all || echo "capabilities: not every service started; those rows will say so"
	$(BUN) scripts/capabilities.ts

docs: proto ## regenerate docs/architecture.svg, the configuration reference of docs/configuration.md and the guide's code blocks (tests/docs fail when they are stale)
	$(BUN) scripts/docs_diagram.ts
	$(BUN) scripts/docs_config.ts
	$(BUN) scripts/docs_guide.ts

docker-engine: ## a Docker engine: the one that answers, or (root, Debian) docker.io's dockerd started on vfs; says why when it cannot
	bash scripts/docker-engine.sh up

images: build-plugins ## every executable's image (<image>:latest from its pattern.json, or the tools'), FROM scratch, Dockerfiles generated by scripts/dockerfiles.ts (needs an engine: make docker-engine)
	bash scripts/images.sh

clean: ## remove build output, generated code and coverage
	rm -rf dist proto/gen coverage .tools
