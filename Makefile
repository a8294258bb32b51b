.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*## "} {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: tf-check
tf-check: ## offline Terraform checks: fmt, validate, tofu test, plan checks (builds OpenTofu once, ~10 min)
	@scripts/tf-check.sh
