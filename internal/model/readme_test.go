package model

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	readmeBegin = "<!-- models:begin (go test ./internal/model -run TestREADMETables -update) -->\n"
	readmeEnd   = "<!-- models:end -->\n"
)

// billedRun is the billed container time of one run the README prices:
// list and nodes (one call each) 2 s, every submitting scenario 5 s (1 vCPU,
// 512 MiB).
func billedRun() (map[string]time.Duration, time.Duration) {
	return map[string]time.Duration{"list": 2 * time.Second, "nodes": 2 * time.Second}, 5 * time.Second
}

// ms is a duration in whole milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

func short(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= time.Minute {
		return strings.TrimSuffix(d.String(), "0s")
	}
	return d.String()
}

// tables renders the README's detection, false-page, load and cost tables
// from the models and the plans' values.
func tables() string {
	var b strings.Builder
	l := CloudRun(RealRun)
	ps := []float64{0.001, 0.005, 0.01}
	fmt.Fprintf(&b, "| env | scenario | every | outage → page: median | worst | false pages a quarter at p = 0.1%% | 0.5%% | 1%% |\n|---|---|---|---:|---:|---:|---:|---:|\n")
	for _, e := range Envs {
		total := make([]float64, len(ps))
		for _, s := range e.Scenarios {
			d := Detect(e.Policy(s), l)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |", e.Name, s.Name, short(s.Interval), short(d.Median), short(d.Worst))
			for i, p := range ps {
				f := FalsePagesPerQuarter(p, e.Failed, e.Window, s.Interval)
				total[i] += f
				fmt.Fprintf(&b, " %.3f |", f)
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "| %s | **all** | | | |", e.Name)
		for _, f := range total {
			fmt.Fprintf(&b, " **%.2f** |", f)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n| env | scenario | every | canary jobs a day | worst outage → page | canary jobs after a week | list slower by (v1.7.0) |\n|---|---|---|---:|---:|---:|---:|\n")
	for _, e := range Envs {
		week := 0
		for _, s := range e.Scenarios {
			week += s.WeekJobs()
			d := Detect(e.Policy(s), l)
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %d | %s |\n", e.Name, s.Name, short(s.Interval), s.JobsPerDay(), short(d.Worst), s.WeekJobs(), ms(ListAdded(s.WeekJobs())))
		}
		fmt.Fprintf(&b, "| %s | **all** | | **%d** | | **%d** | **%s** |\n", e.Name, e.SubmittedJobsPerDay(), week, ms(ListAdded(week)))
	}
	billed, def := billedRun()
	fmt.Fprintf(&b, "\n| env | billed per run | conditions | Cloud Run | Scheduler | Metrics | Alerting | Secret Manager | total |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, e := range Envs {
		c := MonthlyCost(e.RunLoad(billed, def, 4096), PriceList, true)
		fmt.Fprintf(&b, "| %s | list, nodes 2 s; others 5 s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | **%.2f** |\n", e.Name, e.Conditions, c.CloudRun, c.Scheduler, c.Metrics, c.Alerting, c.SecretManager, c.Total)
	}
	fmt.Fprintf(&b, "\n| prod, every run billed | 1 s | 2 s | 5 s | 10 s | 20 s |\n|---|---:|---:|---:|---:|---:|\n| total, USD a month |")
	for _, s := range []int{1, 2, 5, 10, 20} {
		c := MonthlyCost(Envs[0].RunLoad(nil, time.Duration(s)*time.Second, 4096), PriceList, true)
		fmt.Fprintf(&b, " %.2f |", c.Total)
	}
	b.WriteString("\n")
	return b.String()
}

// TestREADMETables keeps the README's model tables equal to what the models
// compute from the plans' values, and checks the goals.
func TestREADMETables(t *testing.T) {
	if EnvsErr != nil {
		t.Fatal(EnvsErr)
	}
	path := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(readme, []byte(readmeBegin)), bytes.Index(readme, []byte(readmeEnd))
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q block", strings.TrimSpace(readmeBegin), strings.TrimSpace(readmeEnd))
	}
	want := tables()
	if got := string(readme[i+len(readmeBegin) : j]); got != want {
		if *update {
			out := append(append(append([]byte{}, readme[:i+len(readmeBegin)]...), want...), readme[j:]...)
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's model tables are stale: go test ./internal/model -run TestREADMETables -update\nwant:\n%s", want)
	}
}

// TestGoals: prod has at most one false page a quarter at p = 0.5%, costs
// at most $10 a month, and puts at most MaxJobsPerDay (1,071) canary jobs
// a day in the network's job store, so a weekly purge keeps every list
// call within ListBudget (250 ms) of a store without them.
func TestGoals(t *testing.T) {
	if EnvsErr != nil {
		t.Fatal(EnvsErr)
	}
	prod := Envs[0]
	fp := 0.0
	for _, s := range prod.Scenarios {
		fp += FalsePagesPerQuarter(0.005, prod.Failed, prod.Window, s.Interval)
	}
	if fp > 1 {
		t.Errorf("prod: %.2f false pages a quarter at p = 0.5%%", fp)
	}
	billed, def := billedRun()
	if c := MonthlyCost(prod.RunLoad(billed, def, 4096), PriceList, true); c.Total > Budget {
		t.Errorf("prod: $%.2f a month, over $%.0f", c.Total, Budget)
	}
	if n := prod.SubmittedJobsPerDay(); n > MaxJobsPerDay {
		t.Errorf("prod: %d canary jobs a day, over %d", n, MaxJobsPerDay)
	}
	if MaxJobsPerDay != 1071 {
		t.Errorf("the bound is %d jobs a day, the README says 1,071", MaxJobsPerDay)
	}
}
