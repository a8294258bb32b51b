package pipeline

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGcloud is a stand-in for the two gcloud commands the gate uses. It
// keeps what `run jobs deploy` set (the image of each job), refuses what
// gcloud would refuse for these flags (a missing image, region, service
// account or environment; an execute of a job never deployed), and makes
// `run jobs execute --wait` fail like gcloud does when the execution
// failed: when the job's scenario is listed in FAIL_OLD (deployed image) or
// FAIL_NEW (new image), or in FLAKY_NEW for the new image's first run only.
// Every call is appended to $FAKE_LOG.
const fakeGcloud = `#!/usr/bin/env bash
set -u
echo "$*" >>"${FAKE_LOG}"
state="${FAKE_STATE}"
[[ "$1 $2" == "run jobs" ]] || { echo "fake gcloud: unexpected command $*" >&2; exit 64; }
verb="$3" job="$4"; shift 4
image="" region="" sa="" vars="" wait=0
while [[ $# -gt 0 ]]; do
  case "$1" in
  --image) image="$2"; shift 2 ;;
  --region) region="$2"; shift 2 ;;
  --service-account) sa="$2"; shift 2 ;;
  --set-env-vars) vars="$2"; shift 2 ;;
  --wait) wait=1; shift ;;
  --quiet) shift ;;
  --max-retries|--tasks|--task-timeout|--cpu|--memory|--labels) shift 2 ;;
  *) echo "fake gcloud: unknown flag $1" >&2; exit 64 ;;
  esac
done
[[ -n "${region}" ]] || { echo "fake gcloud: --region required" >&2; exit 1; }
case "${verb}" in
deploy)
  [[ -n "${image}" && -n "${sa}" && "${vars}" == "^@^"* ]] || { echo "fake gcloud: deploy needs image, account, env" >&2; exit 1; }
  echo "${image}" >"${state}/${job}" ;;
execute)
  [[ -f "${state}/${job}" && ${wait} -eq 1 ]] || { echo "fake gcloud: execute of unknown job ${job} or without --wait" >&2; exit 1; }
  img="$(cat "${state}/${job}")"
  slug="${job#bacalhau-canary-*-gate-???-}"
  if [[ "${img}" == "${DEPLOYED}" ]]; then
    [[ " ${FAIL_OLD:-} " == *" ${slug} "* ]] && exit 1
  else
    [[ " ${FAIL_NEW:-} " == *" ${slug} "* ]] && exit 1
    if [[ " ${FLAKY_NEW:-} " == *" ${slug} "* && ! -f "${state}/${slug}.flaked" ]]; then
      touch "${state}/${slug}.flaked"; exit 1
    fi
  fi
  exit 0 ;;
*) echo "fake gcloud: unknown verb ${verb}" >&2; exit 64 ;;
esac
`

const (
	newImage      = "us-central1-docker.pkg.dev/p/bacalhau-canary/canary@sha256:" + "1111111111111111111111111111111111111111111111111111111111111111"
	deployedImage = "us-central1-docker.pkg.dev/p/bacalhau-canary/canary@sha256:" + "0000000000000000000000000000000000000000000000000000000000000000"
)

type gateRun struct {
	out   string
	code  int
	calls []string
}

func runGate(t *testing.T, runs string, env map[string]string) gateRun {
	t.Helper()
	dir := t.TempDir()
	gcloud := filepath.Join(dir, "gcloud")
	if err := os.WriteFile(gcloud, []byte(fakeGcloud), 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	runsFile := filepath.Join(dir, "gate-runs")
	if err := os.WriteFile(runsFile, []byte(runs), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "calls")
	cmd := exec.Command("bash", "../../scripts/deploy-gate.sh", "prod", "us-central1", "bacalhau-canary-run@p.iam.gserviceaccount.com", newImage, deployedImage, runsFile)
	cmd.Env = append(os.Environ(), "GCLOUD="+gcloud, "FAKE_LOG="+log, "FAKE_STATE="+state, "DEPLOYED="+deployedImage)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(log)
	return gateRun{out: out.String(), code: code, calls: strings.Split(strings.TrimSpace(string(raw)), "\n")}
}

const threeScenarios = "list ^@^CANARY_SCENARIO=list@CANARY_METRICS=none\n" +
	"submit ^@^CANARY_SCENARIO=submit@CANARY_METRICS=none\n" +
	"submit-and-get ^@^CANARY_SCENARIO=submitAndGet@CANARY_METRICS=none\n"

// TestDeployGate runs scripts/deploy-gate.sh against the fake gcloud: it
// fails the build only when the new image fails where the deployed one
// passed, on any scenario, and the failure repeats.
func TestDeployGate(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed by the pipeline's gate script")
	}
	for _, tc := range []struct {
		name     string
		env      map[string]string
		wantCode int
		want     []string
	}{
		{"every scenario passes on both", nil, 0, []string{"gate: list: pass (both", "gate: submit-and-get: pass (both", "no regression on 3 scenarios"}},
		{"a red network fails both: no block", map[string]string{"FAIL_OLD": "list submit submit-and-get", "FAIL_NEW": "list submit submit-and-get"}, 0, []string{"gate: submit: pass (both images failed"}},
		{"the new image fails where the deployed one passes", map[string]string{"FAIL_NEW": "submit-and-get"}, 1, []string{"gate: submit-and-get: REGRESSION", "gate: list: pass (both", "not deployed"}},
		{"a regression on a heavier scenario is one too", map[string]string{"FAIL_NEW": "list"}, 1, []string{"gate: list: REGRESSION"}},
		{"a regression that does not repeat is a flake", map[string]string{"FLAKY_NEW": "submit"}, 0, []string{"gate: submit: pass (both"}},
		{"the new image fixes what the deployed one fails", map[string]string{"FAIL_OLD": "submit"}, 0, []string{"gate: submit: pass (the new image passed where the deployed one failed)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runGate(t, threeScenarios, tc.env)
			if r.code != tc.wantCode {
				t.Errorf("exit %d, want %d\n%s", r.code, tc.wantCode, r.out)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.out, w) {
					t.Errorf("output lacks %q:\n%s", w, r.out)
				}
			}
			// Each scenario: the deployed image runs first, then the new one.
			for _, slug := range []string{"list", "submit", "submit-and-get"} {
				old, nw := -1, -1
				for i, c := range r.calls {
					if old < 0 && strings.HasPrefix(c, "run jobs execute bacalhau-canary-prod-gate-old-"+slug+" ") {
						old = i
					}
					if nw < 0 && strings.HasPrefix(c, "run jobs execute bacalhau-canary-prod-gate-new-"+slug+" ") {
						nw = i
					}
				}
				if old < 0 || nw < 0 || old > nw {
					t.Errorf("%s: deployed image executed at call %d, new at %d: want both, deployed first\n%s", slug, old, nw, strings.Join(r.calls, "\n"))
				}
			}
		})
	}
}

func TestDeployGateRefusesBadInput(t *testing.T) {
	t.Parallel()
	for name, runs := range map[string]string{
		"empty":        "",
		"no variables": "list\n",
		"bad slug":     "List; rm -rf / ^@^A=B\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if r := runGate(t, runs, nil); r.code != 2 {
				t.Errorf("exit %d, want 2 (bad input)\n%s", r.code, r.out)
			}
		})
	}
}
