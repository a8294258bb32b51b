package model

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/plans.json from the plans in TF_PLAN_DIR")

// TestPlanSummariesAreFresh: the models' inputs are what tofu's JSON plans
// of every env say. scripts/tf-check.sh plans prod, staging and dev and runs
// this with TF_PLAN_DIR; without it the test is skipped.
func TestPlanSummariesAreFresh(t *testing.T) {
	dir := os.Getenv("TF_PLAN_DIR")
	if dir == "" {
		t.Skip("TF_PLAN_DIR is not set: make tf-check plans every env and sets it")
	}
	got := map[string]PlanSummary{}
	for _, env := range []string{"prod", "staging", "dev"} {
		raw, err := os.ReadFile(filepath.Join(dir, env+".plan.json"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := Summarize(raw)
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if s.Env != env {
			t.Fatalf("%s.plan.json is a plan of %q", env, s.Env)
		}
		got[env] = s
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(filepath.Join("testdata", "plans.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(b, plansJSON) {
		t.Errorf("testdata/plans.json is stale: run TF_PLAN_UPDATE=1 make tf-check\nplans say:\n%s", b)
	}
}

func TestEnvsLoad(t *testing.T) {
	if EnvsErr != nil {
		t.Fatal(EnvsErr)
	}
	for _, e := range Envs {
		if len(e.Scenarios) == 0 || e.Window < e.Failed || e.Failed < 1 || e.Conditions < 1 {
			t.Errorf("%s: %+v", e.Name, e)
		}
	}
}

func TestSummarizeRejectsAPlanWithoutPolicies(t *testing.T) {
	t.Parallel()
	if _, err := Summarize([]byte(`{"variables":{"env":{"value":"prod"}},"planned_values":{"root_module":{"resources":[]}}}`)); err == nil {
		t.Error("a plan without scenarios or conditions was accepted")
	}
	if _, err := Summarize([]byte(`not json`)); err == nil {
		t.Error("bad JSON was accepted")
	}
}
