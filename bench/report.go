package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/model"
	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
)

func printTable(w io.Writer, r *Results) {
	m := r.Machine
	fmt.Fprintf(w, "\nbench %s · %s · %d CPUs · %s · %s · load %.1f → %.1f\n", r.Date, m.CPU, m.CPUs, m.OS, m.Go, m.LoadFrom, m.LoadTo)
	if m.Note != "" {
		fmt.Fprintf(w, "machine: %s\n", m.Note)
	}
	fmt.Fprintf(w, "job: %s\n\n", r.Job)

	fmt.Fprintf(w, "| (a) submit, whole process, %d interleaved rounds | median | p95 | min | ÷ CLI median |\n|---|---:|---:|---:|---:|\n", r.Pairs)
	row := func(name string, s Stats, ratio float64) {
		q := ""
		if ratio > 0 {
			q = fmt.Sprintf("**%.2f×**", ratio)
		}
		fmt.Fprintf(w, "| %s | %.0f ms | %.0f ms | %.0f ms | %s |\n", name, s.Median, s.P95, s.Min, q)
	}
	row("canary job binary, this checkout (`CANARY_METRICS=none`)", r.Canary.Wall, r.Canary.RatioToCLI)
	if r.Baseline != nil {
		row("canary job binary, baseline", r.Baseline.Wall, r.Baseline.RatioToCLI)
	}
	if r.CLI != nil {
		row("`bacalhau job run --wait` (v1.7.0 CLI)", r.CLI.Stats, 0)
	} else {
		fmt.Fprintf(w, "| `bacalhau job run --wait` | skipped: %s | | | |\n", r.CLINote)
	}

	fmt.Fprintf(w, "\n| (b) above the server-side completion time | median | p95 |\n|---|---:|---:|\n")
	over := func(name string, c *CanaryResult) {
		fmt.Fprintf(w, "| %s: run (its `duration_seconds`) − server | %.1f ms | %.1f ms |\n", name, c.OverheadRun.Median, c.OverheadRun.P95)
		fmt.Fprintf(w, "| %s: whole process − server | %.1f ms | %.1f ms |\n", name, c.OverheadProcess.Median, c.OverheadProcess.P95)
		fmt.Fprintf(w, "| %s: server-side, job history first → last event | %.1f ms | %.1f ms |\n", name, c.Server.Median, c.Server.P95)
	}
	over("this checkout", &r.Canary)
	if r.Baseline != nil {
		over("baseline", r.Baseline)
	}

	for i, raw := range r.ColdStart {
		var cs struct {
			BinaryBytes int64     `json:"binary_bytes"`
			Metrics     string    `json:"metrics"`
			Secret      bool      `json:"secret"`
			Largest     bool      `json:"largest"`
			ColdStartMS []float64 `json:"cold_start_ms"`
			TotalMS     []float64 `json:"total_ms"`
			MaxRSSMiB   []float64 `json:"max_rss_mib"`
		}
		if json.Unmarshal(raw, &cs) != nil {
			continue
		}
		if i == 0 {
			fmt.Fprintf(w, "\n| (c) job binary, `list` against loopback fakes | runs | cold start: exec → first Bacalhau request, median (p95) | exec → exit, median (p95) | peak RSS, median (max) |\n|---|---:|---:|---:|---:|\n")
		}
		c, t, rss := stats(cs.ColdStartMS), stats(cs.TotalMS), stats(cs.MaxRSSMiB)
		how := "`CANARY_METRICS=" + cs.Metrics + "`"
		if cs.Secret {
			how += ", API key from Secret Manager (as deployed)"
		}
		if cs.Largest {
			how += fmt.Sprintf(", the largest list reply accepted (%d MiB, gzip; the test's bound is 64 MiB)", bacalhau.MaxReplyBytes>>20)
		}
		fmt.Fprintf(w, "| %s | %d | %.1f ms (%.1f) | %.1f ms (%.1f) | %.1f MiB (%.1f) |\n", how, c.N, c.Median, c.P95, t.Median, t.P95, rss.Median, rss.Max)
		if i == len(r.ColdStart)-1 {
			fmt.Fprintf(w, "\njob binary: %.1f MiB (%d bytes; CGO_ENABLED=0, -trimpath -ldflags='-s -w')\n", float64(cs.BinaryBytes)/(1<<20), cs.BinaryBytes)
		}
	}
	fmt.Fprintf(w, "\nmetadata server requests with `CANARY_METRICS=none`: %d\n", r.MetadataRequests)

	fmt.Fprintf(w, "\n| scenario (job binary, devnet) | wall median | API requests | sent | received | log line |\n|---|---:|---:|---:|---:|---:|\n")
	for _, name := range scenarioOrder(r) {
		s := r.Scenarios[name]
		fmt.Fprintf(w, "| %s | %.0f ms | %d | %d B | %d B | %d B |\n", name, s.WallMS.Median, s.Requests, s.SentBytes, s.RecvBytes, s.LogBytes)
	}
}

func scenarioOrder(r *Results) []string {
	var out []string
	for _, n := range []string{"list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency"} {
		if _, ok := r.Scenarios[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// printModels prints the detection and cost models for the Terraform
// defaults, with this run's measured durations where they apply.
func printModels(w io.Writer, r *Results) {
	fmt.Fprintf(w, "\n| detection time, hard outage → page | schedule | alert | best | median | worst |\n|---|---|---|---:|---:|---:|\n")
	l := model.CloudRun(model.RealRun)
	for _, e := range model.Envs {
		for _, sc := range e.Scenarios {
			d := model.Detect(e.Policy(sc), l)
			fmt.Fprintf(w, "| %s %s | every %s | ≥ %d of the last %d slots failed | %s | %s | %s |\n",
				e.Name, sc.Name, short(sc.Interval), e.Failed, e.Window, short(d.Best), short(d.Median), short(d.Worst))
		}
	}
	o := model.Detect(model.OldCanary.Policy, model.OldCanary.Latencies)
	fmt.Fprintf(w, "| old canary (Lambda + CloudWatch), modelled | every 5m | 3 of 5 closed periods | %s | %s | %s |\n", short(o.Best), short(o.Median), short(o.Worst))
	fmt.Fprintf(w, "| old canary, as quoted | | | %s | | %s |\n", short(model.OldCanary.Quoted.Min), short(model.OldCanary.Quoted.Max))

	measured := map[string]time.Duration{}
	logBytes := 0.0
	for name, s := range r.Scenarios {
		measured[name] = time.Duration(s.WallMS.Median * float64(time.Millisecond))
		logBytes = max(logBytes, float64(s.LogBytes))
	}
	// Cloud Run adds its own lines per execution (start, exit); a few KiB.
	logPerRun := logBytes + 4096
	p := model.PriceList
	fmt.Fprintf(w, "\nCost per month, USD, list prices of %s, %s, 730 h months, free tiers applied to the env alone.\n", p.Date, p.Region)
	fmt.Fprintf(w, "\n| env | billed time per run | job size | alert conditions | Cloud Run | Scheduler | Metrics | Alerting | Secret Manager | Logging | **total** |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	type variant struct {
		name      string
		billed    map[string]time.Duration
		def       time.Duration
		cpu       float64
		memMiB    int
		condition func(model.Env) int
	}
	def := func(e model.Env) int { return e.Conditions }
	two := func(model.Env) int { return 2 }
	variants := []variant{
		{"measured here (devnet, wasm)", measured, time.Second, 0, 0, def},
		{"2 s", nil, 2 * time.Second, 0, 0, def},
		{"5 s", nil, 5 * time.Second, 0, 0, def},
		{"5 s", nil, 5 * time.Second, 0.25, 512, two},
		{"10 s", nil, 10 * time.Second, 0.25, 512, two},
	}
	for _, e := range model.Envs {
		for _, v := range variants {
			if e.Name != "prod" && v.billed == nil && v.def != 5*time.Second {
				continue
			}
			env := e
			if v.cpu > 0 {
				env.CPU, env.MemoryMiB = v.cpu, v.memMiB
			}
			load := env.RunLoad(v.billed, v.def, logPerRun)
			load.AlertConditions = v.condition(e)
			c := model.MonthlyCost(load, p, true)
			fmt.Fprintf(w, "| %s | %s | %g vCPU, %d MiB | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | **%.2f** |\n",
				e.Name, v.name, env.CPU, env.MemoryMiB, load.AlertConditions,
				c.CloudRun, c.Scheduler, c.Metrics, c.Alerting, c.SecretManager, c.Logging, c.Total)
		}
	}
	pc := model.MonthlyCost(model.Envs[0].RunLoad(nil, time.Second, logPerRun), p, true)
	fmt.Fprintf(w, "\nprod as deployed (1 vCPU, 512 MiB, %d alert conditions): the Cloud Run free tier covers %.2f s per run; Cloud Run alone costs $%.0f at %.2f s per run; the alert conditions alone cost $%.2f.\n",
		model.Envs[0].Conditions, pc.FreeTierRunSeconds, model.Budget, pc.BreakEvenRunSeconds, pc.Alerting)
	small := model.Envs[0]
	small.CPU, small.MemoryMiB = 0.25, 512
	sl := small.RunLoad(nil, time.Second, logPerRun)
	sl.AlertConditions = 2
	sc := model.MonthlyCost(sl, p, true)
	fmt.Fprintf(w, "prod at 0.25 vCPU, 512 MiB, 2 alert conditions: Cloud Run free up to %.2f s per run; the whole month within $%.0f up to %.2f s per run.\n", sc.FreeTierRunSeconds, model.Budget, sc.WithinBudgetRunSeconds)
	var loads []model.Load
	for _, e := range model.Envs {
		loads = append(loads, e.RunLoad(nil, 5*time.Second, logPerRun))
	}
	all := model.Combined(loads, p)
	fmt.Fprintf(w, "all three envs on one billing account, Terraform defaults, 5 s runs: $%.2f a month.\n", all.Total)
}

// short prints a duration as 4m54s, 13m, 66s.
func short(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	m, s := int(d/time.Minute), int((d%time.Minute)/time.Second)
	if s == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}
