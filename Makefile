# Prism: every command a developer or CI needs. `make run` and `make test` do all set-up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BIN := node_modules/.bin
BUN := $(BIN)/bun
export PATH := $(CURDIR)/$(BIN):$(PATH)

# Executables built by `make build-plugins`: name=entry point.
BINARIES := memstore=memstore/main.ts multicast-registry=multicast-registry/main.ts redis=redis/main.ts kafka=kafka/main.ts nats=nats/main.ts postgres=postgres/main.ts \
            proxy=proxy/main.ts prismctl=prismctl/main.ts prism-load=loadtest/main.ts
PROTO_SRC := $(shell find proto -name '*.proto' -not -path 'proto/gen/*')
TS_SRC := $(shell find sdk memstore multicast-registry redis kafka nats postgres proxy prismctl loadtest -name '*.ts' -not -name '*.test.ts' 2>/dev/null)

.PHONY: help deps proto go-tools build-plugins build run test coverage test-images docker-engine test-unit bench typecheck check lint format clean services services-down services-status images capabilities faults

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

build-plugins: proto ## build every executable into dist/ with bun build --compile
	@$(BUN) scripts/build.ts $(BINARIES)

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

test: coverage ## every test: unit, black-box against dist/, real backends; coverage floor; the images under Docker when an engine runs
	@if bash scripts/docker-engine.sh up; then $(MAKE) --no-print-directory test-images; \
	else echo "test: the container suites (make test-images) did not run: no Docker engine, for the reason above"; fi

# The acceptance suites against the images, run by Docker through testcontainers (tests/containers/).
test-images: build-plugins services docker-engine ## key-value and pub/sub suites against the proxy and pattern images (needs make docker-engine)
	bash scripts/images.sh
	TESTCONTAINERS_RYUK_DISABLED=true $(BUN) test --timeout 60000 ./tests/containers/acceptance.containers.ts

# One run of the whole suite that also measures coverage (lcov) and fails under the floors of scripts/coverage_floor.json.
coverage: build-plugins services go-tools ## bun test --coverage over every suite, then the per-folder floor check
	@rm -rf coverage
	$(BUN) test --timeout 30000 --coverage --coverage-reporter=lcov --coverage-dir=coverage
	$(BUN) scripts/coverage_floor.ts coverage/lcov.info

test-unit: proto ## only the tests that need no external service
	$(BUN) test sdk ./memstore ./proxy ./redis

bench: build-plugins ## benchmarks: in-process store, then everything side by side (bench/README.md; ~5 min)
	$(BUN) bench/memstore.bench.ts
	@bash scripts/services/up.sh all || echo "bench: not every service started; rows that need one will say 'not run'"
	$(BUN) bench/run.ts

faults: build-plugins services ## the fault suite alone, rewriting README's fault table and tests/faults/results/latest.json
	PRISM_RECORD_FAULTS=1 $(BUN) test --timeout 60000 ./tests/faults

capabilities: build-plugins ## ask each key-value pattern for GetCapabilities; rewrite the README's capability table
	@bash scripts/services/up.sh all || echo "capabilities: not every service started; those rows will say so"
	$(BUN) scripts/capabilities.ts

docker-engine: ## a Docker engine: the one that answers, or (root, Debian) docker.io's dockerd started on vfs; says why when it cannot
	bash scripts/docker-engine.sh up

images: build-plugins ## every docker/*.Dockerfile as prism/<name>:latest, FROM scratch (needs an engine: make docker-engine)
	bash scripts/images.sh

clean: ## remove build output, generated code and coverage
	rm -rf dist proto/gen coverage .tools
