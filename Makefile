# segmentd — run `make` to see what it can do.

GO        ?= go
BIN       := bin/segmentd
PKGS      := ./...
GOTESTFLAGS ?=
# The version stamped into the binary (segmentd version, segmentd_build_info): the git
# description of the checkout, "dev" outside one; the revision is the commit.
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -X main.version=$(VERSION) -X main.revision=$(REVISION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@echo "segmentd make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/segmentd, stamped with VERSION (git describe) and REVISION.
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/segmentd

.PHONY: run
run: build ## Start segmentd on its embedded broker with a demo shop and segments.
	./$(BIN) run --demo --http-addr 127.0.0.1:8080

.PHONY: tail
tail: build ## Follow the membership topic of a running segmentd (embedded broker by default).
	./$(BIN) tail

.PHONY: test-deps
test-deps: ## Install what the tests need (kcat, promtool, zsh; the Kafka broker is fetched by its script).
	./scripts/ensure-tools.sh kcat promtool zsh

.PHONY: test
test: test-deps ## Install test tools, then run vet and every test (kfake and a real Kafka broker).
	$(GO) vet $(PKGS)
	./scripts/test.sh $(GOTESTFLAGS)

.PHONY: test-short
test-short: ## Unit tests and kfake suites only (no real broker).
	SEGMENTD_TEST_BROKERS=kfake SEGMENTD_TEST_ALLOW_MISSING=1 $(GO) test -short $(PKGS)

.PHONY: kafka-up
kafka-up: ## Start the local Apache Kafka broker used by the tests (downloaded once from Maven Central).
	./deploy/local-kafka/kafka.sh up

.PHONY: kafka-down
kafka-down: ## Stop the local Kafka broker.
	./deploy/local-kafka/kafka.sh down

.PHONY: kafka-status
kafka-status: ## Is the local Kafka broker running?
	./deploy/local-kafka/kafka.sh status

.PHONY: kafka-logs
kafka-logs: ## Follow the local Kafka broker's log.
	./deploy/local-kafka/kafka.sh logs -f

.PHONY: check-deploy
check-deploy: ## Check the Prometheus rules and the Grafana dashboard (promtool, metric names).
	$(GO) test ./deploy/deploytest/ -count=1 -v

.PHONY: helm-lint
helm-lint: ## Lint, render and check the Helm chart (builds helm into the user cache on first use).
	$(GO) test ./deploy/helmtest/ -count=1 -v

.PHONY: helm-sync-alerts
helm-sync-alerts: ## Copy deploy/prometheus/segmentd-alerts.yaml into the chart.
	cp deploy/prometheus/segmentd-alerts.yaml deploy/helm/segmentd/files/segmentd-alerts.yaml

.PHONY: image
image: ## Build the container image segmentd:dev, stamped with VERSION and REVISION (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t segmentd:dev .

FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: ## Run every fuzz target of the repo (found by scripts/fuzz.sh) for FUZZTIME (30s) each.
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

METAMORPHIC_DURATION ?= 30m

.PHONY: metamorphic
metamorphic: ## Metamorphic test over fresh seeds for METAMORPHIC_DURATION (default 30m, kfake); prints each seed.
	SEGMENTD_TEST_BROKERS=kfake SEGMENTD_METAMORPHIC_DURATION=$(METAMORPHIC_DURATION) \
		$(GO) test ./processor -run 'TestMetamorphic$$' -count=1 -v -timeout 0 $(GOTESTFLAGS)

CHAOS_KAFKA_PORT ?= 29092

.PHONY: chaos
chaos: ## Large fault-injection run (~12 min) on a private broker (port 29092): 50 kills, broker restart, zombie.
	SEGMENTD_KAFKA_PORT=$(CHAOS_KAFKA_PORT) ./deploy/local-kafka/kafka.sh up >/dev/null
	@status=0; SEGMENTD_KAFKA_PORT=$(CHAOS_KAFKA_PORT) SEGMENTD_TEST_KAFKA=127.0.0.1:$(CHAOS_KAFKA_PORT) SEGMENTD_CHAOS=large \
		$(GO) test -count=1 -timeout 30m -v -run 'TestChaos$$' ./test/chaos/ || status=$$?; \
	if [ $$status -eq 0 ]; then SEGMENTD_KAFKA_PORT=$(CHAOS_KAFKA_PORT) ./deploy/local-kafka/kafka.sh down; \
	else echo "chaos: broker 127.0.0.1:$(CHAOS_KAFKA_PORT) left running for a post-mortem; stop it with SEGMENTD_KAFKA_PORT=$(CHAOS_KAFKA_PORT) ./deploy/local-kafka/kafka.sh down" >&2; fi; \
	exit $$status

.PHONY: bench
bench: ## Short benchmark on the real broker with baselines (< 10 min); results in bench/results/.
	./deploy/local-kafka/kafka.sh up >/dev/null
	$(GO) run ./bench/cmd/segmentd-bench run -profile short

.PHONY: bench-peer
bench-peer: ## Build the benchmark's Kafka Streams peer (bench/peers/kstreams; Java 17 and Maven); make bench builds it too.
	@if command -v java >/dev/null && command -v mvn >/dev/null; then cd bench/peers/kstreams && mvn -q -B package && echo "bench-peer: bench/peers/kstreams/target/kstreams-peer.jar"; \
	else echo "bench-peer: Java 17 and Maven are needed (java, mvn on PATH); the benchmark's kstreams phase will be skipped"; fi

.PHONY: bench-full
bench-full: ## The target configuration: 100 workspaces x 100 segments, 1M contacts (long).
	./deploy/local-kafka/kafka.sh up >/dev/null
	$(GO) run ./bench/cmd/segmentd-bench run -profile full

.PHONY: bench-profile
bench-profile: ## CPU profile of the live hot path (in-process processor, 100k contacts, real broker) into bench-cpu.pprof.
	./deploy/local-kafka/kafka.sh up >/dev/null
	SEGMENTD_TEST_KAFKA=127.0.0.1:19092 $(GO) test ./bench/harness -run '^$$' -bench LiveProcessor -benchtime 1x -timeout 30m \
		-args -harness.cpuprofile=$(CURDIR)/bench-cpu.pprof -harness.workspaces 20 -harness.contacts-per-workspace 5000 \
		-harness.random-segments 26 -harness.live-events 200000 -harness.cache-mb 256
	@echo "profile: go tool pprof -top -cum bench-cpu.pprof"

.PHONY: microbench
microbench: ## Go micro-benchmarks of the rule language, state, decoding (compare runs with benchstat).
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./operators ./state ./events ./internal/gen

.PHONY: fmt
fmt: ## gofmt the tree.
	gofmt -w $$(git ls-files '*.go')

.PHONY: clean
clean: ## Remove build output and the default data dir.
	rm -rf bin segmentd-data
