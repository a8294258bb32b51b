package model

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func readTF(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "terraform", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// block returns the text of `name = { ... }` inside src (braces balanced).
func block(t *testing.T, src, name string) string {
	t.Helper()
	loc := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*=\s*\{`).FindStringIndex(src)
	if loc == nil {
		t.Fatalf("no %q block", name)
	}
	depth := 0
	for i := loc[1] - 1; i < len(src); i++ {
		switch src[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return src[loc[1]:i]
			}
		}
	}
	t.Fatalf("unbalanced %q block", name)
	return ""
}

func attr(t *testing.T, src, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + name + `\s*=\s*(.+?)\s*$`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("no attribute %s", name)
	}
	return m[1]
}

func intAttr(t *testing.T, src, name string) int {
	t.Helper()
	n, err := strconv.Atoi(attr(t, src, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// TestEnvsMatchTerraform keeps the models' inputs equal to what terraform/
// deploys: schedules, N-of-M windows, absence minutes, scenarios, and the
// jobs' CPU and memory.
func TestEnvsMatchTerraform(t *testing.T) {
	envs := block(t, readTF(t, "main.tf"), "envs")
	for _, e := range Envs {
		b := block(t, envs, e.Name)
		if got := strings.Trim(attr(t, b, "schedule"), `"`); got != e.Schedule {
			t.Errorf("%s: schedule %q in Terraform, %q in the model", e.Name, got, e.Schedule)
		}
		if iv, ok := CronInterval(e.Schedule); !ok || iv != e.Interval {
			t.Errorf("%s: schedule %q is every %s, model says %s", e.Name, e.Schedule, iv, e.Interval)
		}
		for name, want := range map[string]int{"failed_runs": e.Failed, "window_runs": e.Window, "absent_minutes": e.AbsentMinutes} {
			if got := intAttr(t, b, name); got != want {
				t.Errorf("%s: %s = %d in Terraform, %d in the model", e.Name, name, got, want)
			}
		}
		var got []string
		for _, q := range regexp.MustCompile(`"([A-Za-z]+)"`).FindAllStringSubmatch(attr(t, b, "scenarios"), -1) {
			got = append(got, q[1])
		}
		if !slices.Equal(got, e.Scenarios) {
			t.Errorf("%s: scenarios %v in Terraform, %v in the model", e.Name, got, e.Scenarios)
		}
	}

	limits := block(t, readTF(t, "jobs.tf"), "limits")
	cpu, err := strconv.ParseFloat(strings.Trim(attr(t, limits, "cpu"), `"`), 64)
	if err != nil {
		t.Fatal(err)
	}
	mem := strings.Trim(attr(t, limits, "memory"), `"`)
	for _, e := range Envs {
		if cpu != e.CPU || mem != strconv.Itoa(e.MemoryMiB)+"Mi" {
			t.Errorf("%s: job limits cpu=%v memory=%s in Terraform, %v and %dMi in the model", e.Name, cpu, mem, e.CPU, e.MemoryMiB)
		}
	}
}

// TestAlertShapeMatchesTheModel checks the alert policy is the one the
// detection model assumes: a sliding sum of success over Window intervals,
// fewer than Window-Failed+1 passes, missing data firing; one failing
// policy per scenario and one absence condition per scenario.
func TestAlertShapeMatchesTheModel(t *testing.T) {
	tf := readTF(t, "alerts.tf")
	for _, want := range []string{
		`window_seconds = local.settings.window_runs * local.interval_minutes * 60`,
		`alignment_period     = "${local.window_seconds}s"`,
		`per_series_aligner   = "ALIGN_SUM"`,
		`comparison              = "COMPARISON_LT"`,
		`threshold_value         = local.settings.window_runs - local.settings.failed_runs + 0.5`,
		`evaluation_missing_data = "EVALUATION_MISSING_DATA_ACTIVE"`,
		`duration                = "0s"`,
	} {
		if !strings.Contains(tf, want) {
			t.Errorf("alerts.tf no longer has %q", want)
		}
	}
	failing := regexp.MustCompile(`resource "google_monitoring_alert_policy" "failing" \{\s*for_each = local.scenarios`)
	absent := regexp.MustCompile(`dynamic "conditions" \{\s*for_each = local.scenarios`)
	if !failing.MatchString(tf) || !absent.MatchString(tf) {
		t.Errorf("alert conditions are no longer one failing policy and one absence condition per scenario; update Env.AlertConditions")
	}
	if n := strings.Count(tf, `resource "google_monitoring_alert_policy"`); n != 2 {
		t.Errorf("%d alert policy resources, the cost model counts 2 kinds", n)
	}
}

func TestPhasesMatchScenarios(t *testing.T) {
	all := scenarios.All()
	if len(all) != len(phases) {
		t.Errorf("%d scenarios, %d in the model", len(all), len(phases))
	}
	for _, s := range all {
		if phases[s.Name] != len(s.Phases) {
			t.Errorf("%s: %d phases, model says %d", s.Name, len(s.Phases), phases[s.Name])
		}
	}
	if !slices.Equal(allScenarios, scenarios.Names()) {
		t.Errorf("scenarios %v, model %v", scenarios.Names(), allScenarios)
	}
}
