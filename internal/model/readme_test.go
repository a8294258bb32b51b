package model

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	readmeBegin = "<!-- models:begin (go test ./internal/model -run TestREADMETables -update) -->\n"
	readmeEnd   = "<!-- models:end -->\n"
)

// billedRun is the billed container time of one run of each scenario the
// docs/operations.md prices: runtimes.json, the one input of run times.
func billedRun(t testing.TB) RunTimes {
	r, err := LoadRunTimes()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ms is a duration in whole milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

// runTimesText says what the run times of an env are, e.g. "list 3 s,
// submit 10 s, others 15 s".
func runTimesText(e Env, r RunTimes) string {
	var parts []string
	others := false
	for _, s := range e.Scenarios {
		if d, ok := r.Billed[s.Name]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", s.Name, secs(d)))
		} else {
			others = true
		}
	}
	if others {
		parts = append(parts, "others "+secs(r.Default))
	}
	return strings.Join(parts, ", ")
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s" }

func short(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= time.Minute {
		return strings.TrimSuffix(d.String(), "0s")
	}
	return d.String()
}

// tables renders docs/operations.md's detection, false-page, load and cost tables
// from the models and the plans' values.
func tables(r RunTimes) string {
	var b strings.Builder
	l := CloudRun(RealRun)
	// Per request error rates, with the canary's retries; the last
	// column is 0.1% as it was without them.
	qs := []float64{0.001, 0.005, 0.01, 0.001}
	tries := []int{ReadTries, ReadTries, ReadTries, 1}
	fmt.Fprintf(&b, "| env | scenario | every | outage → page: median | worst | false pages a quarter at 0.1%% of requests failing | 0.5%% | 1%% | 0.1%%, reads not retried |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, e := range Envs {
		total := make([]float64, len(qs))
		for _, s := range e.Scenarios {
			d := Detect(e.Policy(s), l)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |", e.Name, s.Name, short(s.Interval), short(d.Median), short(d.Worst))
			for i, q := range qs {
				f := FalsePagesPerRequestRate(q, s.Name, e.Failed, e.Window, s.Interval, tries[i])
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
	measured := "placeholders, not measured"
	if r.Measured {
		measured = "measured"
	}
	fmt.Fprintf(&b, "\nRun times (%s): %s.\n", measured, r.Source)
	fmt.Fprintf(&b, "\n| env | billed per run | deploys a month | conditions | Cloud Run | Scheduler | Metrics | Alerting | Secret Manager | Cloud Build | total |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, e := range Envs {
		c := MonthlyCost(e.RunLoad(r.Billed, r.Default, 4096).WithPipeline(), PriceList, true)
		deploys := 0.0
		if e.Name == Pipeline.Env {
			deploys = Pipeline.Deploys
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | **%.2f** |\n", e.Name, runTimesText(e, r), deploys, e.Conditions, c.CloudRun, c.Scheduler, c.Metrics, c.Alerting, c.SecretManager, c.CloudBuild, c.Total)
	}
	prod := MonthlyCost(Envs[0].RunLoad(r.Billed, r.Default, 4096), PriceList, true)
	fmt.Fprintf(&b, "\n| prod, Cloud Build deploys a month (%.0f min each, $%.3f a minute) | 0 | 10 | 20 | 40 |\n|---|---:|---:|---:|---:|\n| total, USD a month |", Pipeline.Minutes, PriceList.BuildMinute)
	for _, d := range []float64{0, 10, 20, 40} {
		l := Envs[0].RunLoad(r.Billed, r.Default, 4096)
		l.Deploys, l.BuildMinutes, l.GateRunsPerScenario = d, Pipeline.Minutes, Pipeline.GateRuns
		fmt.Fprintf(&b, " %.2f |", MonthlyCost(l, PriceList, true).Total)
	}
	fmt.Fprintf(&b, "\n\n| prod, every run billed, no deploys | 1 s | 2 s | 5 s | 10 s | 20 s |\n|---|---:|---:|---:|---:|---:|\n| total, USD a month |")
	for _, s := range []int{1, 2, 5, 10, 20} {
		c := MonthlyCost(Envs[0].RunLoad(nil, time.Duration(s)*time.Second, 4096), PriceList, true)
		fmt.Fprintf(&b, " %.2f |", c.Total)
	}
	fmt.Fprintf(&b, "\n\nprod without deploys stays within $%.0f if every run bills at most %.1f s.\n", Budget, prod.WithinBudgetRunSeconds)
	b.WriteString("\n")
	return b.String()
}

// TestREADMETables keeps docs/operations.md's model tables equal to what the models
// compute from the plans' values, and checks the goals.
func TestREADMETables(t *testing.T) {
	if EnvsErr != nil {
		t.Fatal(EnvsErr)
	}
	path := filepath.Join("..", "..", "docs", "operations.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(readme, []byte(readmeBegin)), bytes.Index(readme, []byte(readmeEnd))
	if i < 0 || j < i {
		t.Fatalf("docs/operations.md has no %q ... %q block", strings.TrimSpace(readmeBegin), strings.TrimSpace(readmeEnd))
	}
	want := tables(billedRun(t))
	if got := string(readme[i+len(readmeBegin) : j]); got != want {
		if *update {
			out := append(append(append([]byte{}, readme[:i+len(readmeBegin)]...), want...), readme[j:]...)
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("docs/operations.md's model tables are stale: go test ./internal/model -run TestREADMETables -update\nwant:\n%s", want)
	}
}

// TestGoals: prod has at most one false page a quarter at p = 0.5% of runs
// failing and at 0.1% of requests failing, costs at most $10 a month, and
// puts at most MaxJobsPerDay (1,071) canary jobs a day in the network's job
// store, so a weekly purge keeps every list call within ListBudget (250 ms)
// of a store without them.
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
	fq := 0.0
	for _, s := range prod.Scenarios {
		fq += FalsePagesPerRequestRate(0.001, s.Name, prod.Failed, prod.Window, s.Interval, ReadTries)
	}
	if fq > 1 {
		t.Errorf("prod: %.2f false pages a quarter at 0.1%% of requests failing", fq)
	}
	// The budget is judged on measured run times only: with placeholders
	// the verdict would be about made-up numbers (the table still
	// prices them, and says they are placeholders).
	r := billedRun(t)
	c := MonthlyCost(prod.RunLoad(r.Billed, r.Default, 4096).WithPipeline(), PriceList, true)
	switch {
	case r.Measured && c.Total > Budget:
		t.Errorf("prod: $%.2f a month with the measured run times (%s) and %.0f deploys, over $%.0f", c.Total, r.Source, Pipeline.Deploys, Budget)
	case !r.Measured:
		t.Logf("prod: $%.2f a month with placeholder run times (%s); the budget is judged once they are measured", c.Total, r.Source)
	}
	if n := prod.SubmittedJobsPerDay(); n > MaxJobsPerDay {
		t.Errorf("prod: %d canary jobs a day, over %d", n, MaxJobsPerDay)
	}
	if MaxJobsPerDay != 1071 {
		t.Errorf("the bound is %d jobs a day, the README says 1,071", MaxJobsPerDay)
	}
}
