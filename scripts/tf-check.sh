#!/usr/bin/env bash
# Offline checks of terraform/: builds (or reuses) OpenTofu and the schema-only
# stand-in google provider, then runs `tofu fmt -check`, `init`, `validate`,
# `test` (plan-mode runs with assertions), a plan of every env, and the Go
# checks of those plans (dashboard decoding, filters vs metrics.json, metric
# descriptors; the alert policies' PromQL run on the Prometheus engine over
# scripted runs; the models' inputs). No cloud credentials, no network
# beyond the Go module proxy for the first build; OpenTofu talks to the
# provider over loopback only. TF_PLAN_KEEP=DIR keeps the three JSON plans
# in DIR (for `TF_PLAN_DIR=DIR go test ./...` in tools/promql).
# Prints one final line: `tf-check: N passed, M failed`.
set -uo pipefail

root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/.." && pwd))"
schema="${TF_STANDIN_SCHEMA:-${root}/../shared/terraform/google-provider-7.45.0.schema.json}"
# Every check, in order; go-provider (the stand-in's own Go tests) is last
# and needs no schema.
checks=(tofu provider fmt init validate test plan go-plancheck go-promql go-model bootstrap go-provider)
n=${#checks[@]}

passed=0
failed=0
skipped=0
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

# check NAME COMMAND...: runs one check, output to the terminal, and counts it.
check() {
  local name="$1"
  shift
  echo "--- tf-check: ${name}"
  if "$@"; then
    echo "--- tf-check: ${name}: ok"
    passed=$((passed + 1))
    return 0
  fi
  echo "--- tf-check: ${name}: FAILED"
  failed=$((failed + 1))
  return 1
}

skip() {
  echo "--- tf-check: $1: skipped ($2)"
  skipped=$((skipped + 1))
}

finish() {
  if ((skipped > 0)); then
    echo "tf-check: ${passed} passed, ${failed} failed, ${skipped} skipped"
  else
    echo "tf-check: ${passed} passed, ${failed} failed"
  fi
  ((failed == 0))
  exit $?
}

export GOFLAGS="${GOFLAGS:--buildvcs=false}"

# The stand-in provider's own tests need no schema: they always run.
provider_tests() {
  (cd "${root}/tools/tfprovider" && go vet ./... && go test -count=1 ./...)
}

if [[ ! -f "${schema}" ]]; then
  # Under CI a missing schema is a failure: ten checks must not vanish
  # from a run that still ends green.
  if [[ "${CI:-}" == "true" ]]; then
    echo "tf-check: the google provider schema ${schema} is absent (../shared/terraform beside the repository);"
    echo "tf-check: CI=true, so every check that needs it FAILS: ${checks[*]:0:n-1}"
    for c in "${checks[@]:0:n-1}"; do
      echo "--- tf-check: ${c}: FAILED (no provider schema)"
      failed=$((failed + 1))
    done
    check go-provider provider_tests
    finish
  fi
  echo "tf-check: the google provider schema ${schema} is absent (../shared/terraform beside the repository):"
  echo "tf-check: every check that needs it is SKIPPED, not run: ${checks[*]:0:n-1}"
  for c in "${checks[@]:0:n-1}"; do skip "${c}" "no provider schema"; done
  check go-provider provider_tests
  finish
fi
schema="$(cd "$(dirname "${schema}")" && pwd)/$(basename "${schema}")"

export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
export TF_STANDIN_SCHEMA="${schema}"
unset TF_CLI_ARGS TF_WORKSPACE GOOGLE_CREDENTIALS GOOGLE_APPLICATION_CREDENTIALS GOOGLE_PROJECT

build_tofu() {
  tofu="$("${root}/scripts/build-tofu.sh")" && [[ -x "${tofu}" ]] && TF_CLI_CONFIG_FILE=/dev/null "${tofu}" version
}

build_provider() {
  local mirror="${work}/mirror/registry.opentofu.org/hashicorp/google/7.45.0/$(go env GOOS)_$(go env GOARCH)"
  mkdir -p "${work}/providers" "${mirror}" &&
    (cd "${root}/tools/tfprovider" && go build -o "${work}/providers/terraform-provider-google" .) &&
    cp "${work}/providers/terraform-provider-google" "${mirror}/" &&
    # dev_overrides serves the stand-in to validate, test and plan. init
    # ignores dev_overrides and would ask the registry, so it installs the
    # same binary from a local mirror as version 7.45.0 instead: nothing
    # leaves the machine.
    cat >"${work}/tofurc" <<RC
provider_installation {
  dev_overrides {
    "hashicorp/google" = "${work}/providers"
  }
  filesystem_mirror {
    path    = "${work}/mirror"
    include = ["registry.opentofu.org/hashicorp/google"]
  }
}
RC
}

tofu=""
if ! check tofu build_tofu; then
  for c in "${checks[@]:1:n-2}"; do skip "${c}" "no tofu"; done
  check go-provider provider_tests
  finish
fi
if ! check provider build_provider; then
  for c in "${checks[@]:2:n-3}"; do skip "${c}" "no stand-in provider"; done
  check go-provider provider_tests
  finish
fi
export TF_CLI_CONFIG_FILE="${work}/tofurc"

# copy_module DIR: a copy of terraform/ to work in, so that .terraform and the
# lock file of the stand-in never land in the checkout.
copy_module() {
  mkdir -p "$1" && cp -R "${root}/terraform/." "$1/" && rm -rf "$1/.terraform" "$1/.terraform.lock.hcl"
}

check fmt "${tofu}" -chdir="${root}/terraform" fmt -check -diff -recursive -no-color

mod="${work}/module"
copy_module "${mod}"
export TF_DATA_DIR="${mod}/.terraform"
if check init "${tofu}" -chdir="${mod}" init -backend=false -input=false -no-color; then
  check validate "${tofu}" -chdir="${mod}" validate -no-color
  # The tests mock the google provider (mock_provider in tests/*.tftest.hcl),
  # because Cloud Build runs them with the real provider and real
  # credentials: in mocked-only mode the stand-in fails any test that would
  # still configure the provider, plan, read or open through it.
  check test env TF_STANDIN_MOCKED_ONLY=1 "${tofu}" -chdir="${mod}" test -no-color
else
  skip validate "init failed"
  skip test "init failed"
fi

# A full plan of each env in another copy whose backend is local: prod for
# the Go checks of the rendered dashboard, policies and descriptors, all
# three for the models (internal/model reads the plans' values).
plan_env() {
  local env="$1" dir="${work}/plan"
  TF_DATA_DIR="${dir}/.terraform" "${tofu}" -chdir="${dir}" plan -input=false -no-color -out="${env}.tfplan" \
    -var env="${env}" \
    -var project_id=canary-check-project \
    -var region=us-central1 \
    -var image=us-central1-docker.pkg.dev/canary-check-project/bacalhau-canary/canary@sha256:0000000000000000000000000000000000000000000000000000000000000000 \
    -var slack_channel_name=bacalhau-canary \
    -var slack_token_secret_id=slack-token \
    -var bacalhau_api_key_secret_id=bacalhau-api-key >>"${work}/plan.log" &&
    TF_DATA_DIR="${dir}/.terraform" "${tofu}" -chdir="${dir}" show -json "${env}.tfplan" >"${work}/plans/${env}.plan.json"
}

plan_prod() {
  local dir="${work}/plan"
  mkdir -p "${work}/plans" &&
  copy_module "${dir}" &&
    rm -rf "${dir}/tests" "${dir}/bootstrap" &&
    cat >"${dir}/backend_override.tf" <<'TF' &&
terraform {
  backend "local" {}
}
TF
    TF_DATA_DIR="${dir}/.terraform" "${tofu}" -chdir="${dir}" init -input=false -no-color >"${work}/plan.log" &&
    plan_env prod && plan_env staging && plan_env dev &&
    cp "${work}/plans/prod.plan.json" "${work}/prod.plan.json" &&
    keep_plans &&
    grep -E '^Plan:' "${work}/plan.log"
}

# keep_plans: with TF_PLAN_KEEP=DIR, the three JSON plans are copied into DIR
# (created if absent), to run a plan's Go checks again without replanning,
# e.g. `TF_PLAN_DIR=DIR go test ./...` in tools/promql.
keep_plans() {
  [[ -z "${TF_PLAN_KEEP:-}" ]] && return 0
  mkdir -p "${TF_PLAN_KEEP}" && cp "${work}"/plans/*.plan.json "${TF_PLAN_KEEP}/" &&
    echo "tf-check: plans kept in ${TF_PLAN_KEEP}"
}

# The alert policies' PromQL of every env's plan, parsed and evaluated by
# the Prometheus engine over series written by the canary's own sink code
# (tools/promql, a module of its own: the engine stays out of go.mod).
promql_check() {
  (cd "${root}/tools/promql" && go vet ./... && TF_PLAN_DIR="${work}/plans" go test -count=1 ./...) >"${work}/promql.log" 2>&1
  local rc=$?
  grep -E '^(--- FAIL|ok|FAIL)|_test\.go:|\.go:[0-9]+:[0-9]+: ' "${work}/promql.log" | head -60
  return "${rc}"
}

# The models' inputs (internal/model/testdata/plans.json) must be what the
# plans say; TF_PLAN_UPDATE=1 rewrites them.
model_check() {
  (cd "${root}" && TF_PLAN_DIR="${work}/plans" go test -count=1 -run 'TestPlanSummariesAreFresh' ./internal/model/ ${TF_PLAN_UPDATE:+-update}) >"${work}/model.log" 2>&1
  local rc=$?
  grep -E '^(--- |ok|FAIL)|_test\.go:' "${work}/model.log"
  return "${rc}"
}

plancheck() {
  (cd "${root}/tools/tfprovider" && TF_PLAN_JSON="${work}/prod.plan.json" go test -count=1 -v ./plancheck/) >"${work}/plancheck.log" 2>&1
  local rc=$?
  grep -E '^(--- |ok|FAIL|PASS)|_test\.go:' "${work}/plancheck.log"
  return "${rc}"
}

if check plan plan_prod; then
  check go-plancheck plancheck
  check go-promql promql_check
  check go-model model_check
else
  tail -40 "${work}/plan.log" 2>/dev/null
  skip go-plancheck "no plan"
  skip go-promql "no plan"
  skip go-model "no plan"
fi

# The bootstrap module (terraform/bootstrap/, applied once by a person):
# init, validate, its tofu tests (mocked provider) and a plan of each env
# with a local state, as the walk-through's first apply has.
bootstrap_check() {
  local dir="${work}/bootstrap" env
  mkdir -p "${dir}" && cp -R "${root}/terraform/bootstrap/." "${dir}/" && rm -rf "${dir}/.terraform" "${dir}/.terraform.lock.hcl" || return 1
  export TF_DATA_DIR="${dir}/.terraform"
  "${tofu}" -chdir="${dir}" init -input=false -no-color >"${work}/bootstrap.log" &&
    "${tofu}" -chdir="${dir}" validate -no-color &&
    TF_STANDIN_MOCKED_ONLY=1 "${tofu}" -chdir="${dir}" test -no-color || return 1
  for env in prod staging dev; do
    "${tofu}" -chdir="${dir}" plan -input=false -no-color -state="${dir}/${env}.tfstate" \
      -var env="${env}" -var project_id=canary-check-project -var project_number=123456789012 \
      -var github_app_installation_id=4242 -var state_bucket=canary-check-project-tfstate >>"${work}/bootstrap.log" ||
      { tail -40 "${work}/bootstrap.log"; return 1; }
  done
  grep -E '^Plan:' "${work}/bootstrap.log"
}
if check bootstrap bootstrap_check; then :; fi
check go-provider provider_tests

finish
