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

.PHONY: help deps proto build-plugins build run test test-unit bench typecheck check lint format clean services services-down services-status images

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

test: build-plugins services ## every test: unit, black-box against dist/, real backends
	$(BUN) test --timeout 30000

test-unit: proto ## only the tests that need no external service
	$(BUN) test sdk ./memstore ./proxy ./redis

bench: build-plugins ## benchmarks: in-process store, then everything side by side (bench/README.md; ~5 min)
	$(BUN) bench/memstore.bench.ts
	@bash scripts/services/up.sh all || echo "bench: not every service started; rows that need one will say 'not run'"
	$(BUN) bench/run.ts

images: build-plugins ## docker images FROM scratch (needs a Docker engine; tests/packaging runs them without one)
	@docker info >/dev/null 2>&1 || { echo "images: no Docker engine here (tests/packaging/scratch_image.test.ts assembles and runs each image's root file system instead)"; exit 1; }
	bash docker/stage-glibc.sh
	@for f in docker/*.Dockerfile; do b=$$(basename $$f .Dockerfile); [ -x dist/$$b ] || continue; docker build -t prism/$$b:latest -f $$f . || exit 1; done

clean: ## remove build output and generated code
	rm -rf dist proto/gen
