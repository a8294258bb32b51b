#!/usr/bin/env bash
# The deploy gate (cloudbuild.yaml, step "gate"): every enabled scenario runs
# twice, back to back, as one-off Cloud Run jobs with the deployed job's
# environment and nothing recorded (CANARY_METRICS=none): first the DEPLOYED
# image, then the NEW one. A scenario regresses when the new image fails
# (any class, any exit status) where the deployed one passed; a regression is
# tried once more, and the gate fails the build only when it repeats. When
# both fail, the network (or a shared dependency) is red: that does not block
# a deploy, so a fix of the canary still goes out. Scenarios run in parallel.
#
# usage: deploy-gate.sh ENV REGION SERVICE_ACCOUNT NEW_IMAGE DEPLOYED_IMAGE RUNS_FILE
# RUNS_FILE: the gate_runs output of the last deploy, one "<slug> <env vars>"
# line per scenario (gcloud --set-env-vars form).
# CA_SECRET (optional): the Secret Manager secret of the API's private CA,
# mounted where the deployed jobs have it (BACALHAU_API_TLS_CAFILE).
# Prints one verdict line per scenario and exits 1 on any regression.
set -uo pipefail

if [[ $# -ne 6 ]]; then
  echo "usage: $0 ENV REGION SERVICE_ACCOUNT NEW_IMAGE DEPLOYED_IMAGE RUNS_FILE" >&2
  exit 2
fi
env="$1" region="$2" sa="$3" new="$4" deployed="$5" runs="$6"
gcloud="${GCLOUD:-gcloud}"
ca=()
if [[ -n "${CA_SECRET:-}" ]]; then
  ca=(--set-secrets "/etc/bacalhau-canary/api-ca/ca.pem=${CA_SECRET}:latest")
fi

if [[ ! -s "${runs}" ]]; then
  echo "gate: ${runs} lists no scenario" >&2
  exit 2
fi

# run WHICH SLUG IMAGE VARS: deploys and executes the one-off job; exit
# status 0 when the execution succeeded (--wait fails on a failed one).
run() {
  local job="bacalhau-canary-${env}-gate-$1-$2"
  "${gcloud}" run jobs deploy "${job}" --quiet \
    --region "${region}" --image "$3" --service-account "${sa}" \
    --max-retries 0 --tasks 1 --task-timeout 300s --cpu 1 --memory 512Mi \
    --labels "app=bacalhau-canary,env=${env},role=gate" \
    --set-env-vars "$4" "${ca[@]}" >/dev/null || return 2
  "${gcloud}" run jobs execute "${job}" --region "${region}" --wait >/dev/null
}

# pair SLUG VARS: the deployed image, then the new one; prints the verdict.
pair() {
  local slug="$1" vars="$2" old newst try
  for try in 1 2; do
    run old "${slug}" "${deployed}" "${vars}" && old=pass || old=fail
    run new "${slug}" "${new}" "${vars}" && newst=pass || newst=fail
    if [[ "${old}" == pass && "${newst}" == fail ]]; then
      [[ ${try} -eq 1 ]] && continue
      echo "gate: ${slug}: REGRESSION: the deployed image passed and the new one failed, twice"
      return 1
    fi
    case "${old}/${newst}" in
    pass/pass) echo "gate: ${slug}: pass (both images passed)" ;;
    fail/pass) echo "gate: ${slug}: pass (the new image passed where the deployed one failed)" ;;
    fail/fail) echo "gate: ${slug}: pass (both images failed: the network, not the new image; see the jobs' logs)" ;;
    esac
    return 0
  done
}

dir="$(mktemp -d)"
trap 'rm -rf "${dir}"' EXIT
pids=()
while read -r slug vars; do
  [[ -z "${slug}" ]] && continue
  if [[ ! "${slug}" =~ ^[a-z][a-z0-9-]*$ || -z "${vars}" ]]; then
    echo "gate: bad line in ${runs}: ${slug}" >&2
    exit 2
  fi
  (pair "${slug}" "${vars}" >"${dir}/${slug}") &
  pids+=($!)
done <"${runs}"

failed=0
for pid in "${pids[@]}"; do
  wait "${pid}" || failed=1
done
cat "${dir}"/*
if ((failed)); then
  echo "gate: the new image regressed; not deployed"
  exit 1
fi
echo "gate: no regression on ${#pids[@]} scenarios"
