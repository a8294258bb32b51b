package main

import (
	"slices"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/internal/model"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// TestPlannedJobEnvironments runs the job's own configuration check (load:
// go-envconfig, then config.Validate) on every env's planned job
// environment: the Cloud Run jobs' env lists of tofu's JSON plans, kept in
// internal/model/testdata/plans.json (make tf-check fails when that file no
// longer says what the plans say). A job that would refuse its
// configuration exits 2 on every run and only ever pages "canary broken".
func TestPlannedJobEnvironments(t *testing.T) {
	t.Parallel()
	plans, err := model.Plans()
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"prod", "staging", "dev"} {
		p, ok := plans[env]
		if !ok {
			t.Fatalf("no plan of %s", env)
		}
		if len(p.JobEnv) == 0 || len(p.JobEnv) != len(p.IntervalMinutes) {
			t.Fatalf("%s: %d planned job environments for %d scheduled scenarios", env, len(p.JobEnv), len(p.IntervalMinutes))
		}
		for scenario, vars := range p.JobEnv {
			t.Run(env+"/"+scenario, func(t *testing.T) {
				t.Parallel()
				cfg, s, err := load(t.Context(), envconfig.MapLookuper(vars))
				if err != nil {
					t.Fatalf("the job refuses its planned configuration (exit 2): %v", err)
				}
				if s.Name != scenario || cfg.Env != env {
					t.Errorf("job of %s/%s runs scenario %q in env %q", env, scenario, s.Name, cfg.Env)
				}
				if cfg.Metrics != "gcp" {
					t.Errorf("CANARY_METRICS = %q, want gcp: a deployed job records its runs", cfg.Metrics)
				}
			})
		}
	}
}

// TestPlannedEnvironmentCheckCatchesPlaintext: the check above fails on the
// shape the deployment had for dev (an API key secret, no TLS, a remote
// host), so it would have caught it.
func TestPlannedEnvironmentCheckCatchesPlaintext(t *testing.T) {
	t.Parallel()
	plans, err := model.Plans()
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(plans["dev"].JobEnv))
	for k := range plans["dev"].JobEnv {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		t.Fatal("dev plans no job")
	}
	slices.Sort(keys)
	vars := map[string]string{}
	for k, v := range plans["dev"].JobEnv[keys[0]] {
		vars[k] = v
	}
	vars["BACALHAU_API_TLS"] = "false"
	if _, ok := scenarios.Lookup(vars["CANARY_SCENARIO"]); !ok {
		t.Fatalf("dev's job names no known scenario: %q", vars["CANARY_SCENARIO"])
	}
	if _, _, err := load(t.Context(), envconfig.MapLookuper(vars)); err == nil {
		t.Error("a remote API key secret without TLS passed the job's configuration check")
	}
}
