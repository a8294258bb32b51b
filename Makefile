.DEFAULT_GOAL := help
export GOFLAGS ?= -buildvcs=false
export GONOSUMDB ?= github.com/bacalhau-project
# Tracked Go files; a source tree without .git (a Cloud Build checkout) lints every .go file.
# The canary's version in its result line (pkg/canary.Version).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unstamped)
VERSION_FLAG = -X github.com/bacalhau-project/bacalhau-canary/pkg/canary.Version=$(VERSION)
GO_FILES = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build the Cloud Run job and the local runner into bin/
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w $(VERSION_FLAG)' -o bin/job ./functions/job
	go build -ldflags='$(VERSION_FLAG)' -o bin/local ./functions/local

.PHONY: devnet
devnet: ## build the Bacalhau test network once (cold: several minutes), print its path
	@go run ./internal/devnet/build

.PHONY: test
test: devnet ## every test: unit, real devnet, fake Cloud Monitoring (race detector, shuffled)
	go test -race -shuffle=on -timeout 30m ./...

.PHONY: test-short
test-short: ## unit tests only (skips the real network and built binaries)
	go test -short -shuffle=on ./...

.PHONY: run
run: ## run every scenario once against the embedded devnet
	go run ./functions/local --all

.PHONY: lint
lint: ## gofmt, go vet (both modules)
	@test -z "$$(gofmt -l $(GO_FILES))" || { gofmt -l $(GO_FILES); echo "gofmt: files above need formatting"; exit 1; }
	go vet ./...
	cd devnet/v1.7 && go vet ./...
	cd devnet/v1.9 && go vet ./...

.PHONY: bench
bench: devnet ## canary vs Bacalhau CLI, overhead, cold start, RSS, size; detection and cost models (bench/results.json)
	go run ./bench -json bench/results.json
	go test -run '^$$' -bench . -benchtime 20x ./pkg/scenarios/

.PHONY: footprint
footprint: devnet ## job-store footprint: list, filtered list, get, submit, node RSS and store size at growing canary job counts, both releases (slow)
	go run ./bench/footprint $(FOOTPRINT_FLAGS)

.PHONY: bacalhau-cli
bacalhau-cli: ## build the Bacalhau v1.7.0 CLI into the user cache for make bench (cold: several minutes)
	@go run ./bench/buildcli

.PHONY: tf-check
tf-check: ## offline Terraform checks: fmt, validate, tofu test, plan checks (builds OpenTofu once, ~10 min)
	@scripts/tf-check.sh
