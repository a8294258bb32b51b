package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Env is one env's deployment as the Terraform plan sets it up by default
// (testdata/plans.json, the summaries of tofu's JSON plans; see plan.go).
type Env struct {
	Name        string
	Scenarios   []Scheduled
	Failed      int // network failing: at least Failed ...
	Window      int // ... of the last Window scheduled runs failed
	StoppedRuns int // stopped reporting: no run for StoppedRuns intervals
	Conditions  int // alert conditions in all
	CPU         float64
	MemoryMiB   int
}

// Scheduled is one enabled scenario and its schedule.
type Scheduled struct {
	Name     string
	Interval time.Duration
	Points   int  // metric points a passing run writes
	Submits  bool // each run leaves one job in the network's job store
}

// Envs are the Terraform defaults, in the order prod, staging, dev; nil
// when testdata/plans.json cannot be read (EnvsErr says why).
var Envs, EnvsErr = loadEnvs()

func loadEnvs() ([]Env, error) {
	plans, err := Plans()
	if err != nil {
		return nil, err
	}
	var out []Env
	for _, name := range []string{"prod", "staging", "dev"} {
		p, ok := plans[name]
		if !ok {
			return nil, fmt.Errorf("testdata/plans.json: no plan of %s", name)
		}
		e, err := envOf(p)
		if err != nil {
			return nil, fmt.Errorf("testdata/plans.json %s: %w", name, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func envOf(p PlanSummary) (Env, error) {
	cpu, err := strconv.ParseFloat(p.CPU, 64)
	if err != nil {
		return Env{}, fmt.Errorf("cpu %q: %w", p.CPU, err)
	}
	mem, err := strconv.Atoi(strings.TrimSuffix(p.Memory, "Mi"))
	if err != nil {
		return Env{}, fmt.Errorf("memory %q: %w", p.Memory, err)
	}
	e := Env{Name: p.Env, Failed: p.Failed, Window: p.Window, StoppedRuns: p.StoppedRuns, Conditions: p.Conditions, CPU: cpu, MemoryMiB: mem}
	for _, s := range scenarios.All() {
		iv, ok := p.IntervalMinutes[s.Name]
		if !ok {
			continue
		}
		e.Scenarios = append(e.Scenarios, Scheduled{Name: s.Name, Interval: time.Duration(iv) * time.Minute, Points: passingPoints(s), Submits: s.Submits})
	}
	return e, nil
}

// passingPoints is how many metric points a passing run of s writes,
// counted by the sink's own code (metrics.Points).
func passingPoints(s scenarios.Scenario) int {
	r := scenarios.Result{Scenario: s.Name, Success: true}
	for _, name := range s.AllPhases() {
		r.Phases = append(r.Phases, scenarios.Phase{Name: name, Reached: true})
	}
	if s.Name == scenarios.Nodes.Name {
		// its census: one point per Bacalhau version, one on a network
		// that runs one release
		r.Census = &scenarios.Census{Groups: []scenarios.CensusGroup{{Version: "v1.7.0", Nodes: 3}}, Engine: scenarios.EngineDocker}
	}
	return len(metrics.Points(r, time.Time{}))
}

// Policy is the "network failing" condition for one of the env's scenarios.
func (e Env) Policy(s Scheduled) Policy {
	return Policy{Interval: s.Interval, Failed: e.Failed, Window: e.Window, Evaluation: Slotted}
}

// Scenario returns the env's scheduled scenario of that name.
func (e Env) Scenario(name string) (Scheduled, bool) {
	i := slices.IndexFunc(e.Scenarios, func(s Scheduled) bool { return s.Name == name })
	if i < 0 {
		return Scheduled{}, false
	}
	return e.Scenarios[i], true
}

// SubmittedJobsPerDay is the canary jobs the env adds to the network's job
// store each day (one per run of each scenario that submits).
func (e Env) SubmittedJobsPerDay() int {
	n := 0
	for _, s := range e.Scenarios {
		n += s.JobsPerDay()
	}
	return n
}

// JobsPerDay is the canary jobs the scenario's runs add to the job store a
// day.
func (s Scheduled) JobsPerDay() int {
	if !s.Submits {
		return 0
	}
	return int(24 * time.Hour / s.Interval)
}

// Latencies of Google's side. Only the spread of the first three matters
// for detection (a constant delay shifts the last passing point and the
// alert alike); the Alert span adds directly.
var (
	// SchedulerDelay: Cloud Scheduler starts a job "at" its cron time;
	// Google publishes no bound on how late. Assumed 0–10 s.
	SchedulerDelay = Span{0, 10 * time.Second}
	// CloudRunJobStart: from the :run call to the container's process,
	// including the image pull on a cold host. Google publishes no figure;
	// assumed 5–30 s.
	CloudRunJobStart = Span{5 * time.Second, 30 * time.Second}
	// AlertDelay: the failing condition is evaluated every 30 s
	// (evaluation_interval), then Slack is notified (assumed up to 30 s).
	AlertDelay = Span{0, 60 * time.Second}
	// RealRun: a passing run against a real network with the docker engine
	// (image cached on the compute node). Assumed 1–20 s; the devnet's wasm
	// runs take well under a second (bench/results.json).
	RealRun = Span{1 * time.Second, 20 * time.Second}
)

// CloudRun is the latencies for a run of the given span on Cloud Run.
func CloudRun(run Span) Latencies {
	return Latencies{Scheduler: SchedulerDelay, Start: CloudRunJobStart, Run: run, Alert: AlertDelay}
}

// OldCanary is Bacalhau's AWS Lambda canary: 5 scenarios every 5 minutes,
// a CloudWatch alarm on 3 of 5 bad periods. Its operators quote 15–25
// minutes from outage to page.
var OldCanary = struct {
	Policy    Policy
	Latencies Latencies
	Quoted    Span
}{
	Policy: Policy{Interval: 5 * time.Minute, Failed: 3, Window: 5, Evaluation: Closed},
	Latencies: Latencies{
		Scheduler: Span{0, 5 * time.Second},           // EventBridge schedule (assumed)
		Start:     Span{0, 2 * time.Second},           // Lambda cold start (assumed)
		Run:       RealRun,                            // the same kind of job
		Alert:     Span{time.Minute, 2 * time.Minute}, // CloudWatch evaluates each minute, then SNS → Slack (assumed)
	},
	Quoted: Span{15 * time.Minute, 25 * time.Minute},
}

// RunLoad turns an env and the billed container time of each scenario's
// run into the cost model's input. Scenarios missing from billed use def.
func (e Env) RunLoad(billed map[string]time.Duration, def time.Duration, logBytesPerRun float64) Load {
	l := Load{
		Env:             e.Name,
		CPU:             e.CPU,
		MemoryGiB:       float64(e.MemoryMiB) / 1024,
		AlertConditions: e.Conditions,
		AlertSeries:     2 * len(e.Scenarios),
		Alerts:          e.Alerts(),
		LogBytesPerRun:  logBytesPerRun,
	}
	for _, s := range e.Scenarios {
		b, ok := billed[s.Name]
		if !ok {
			b = def
		}
		l.Scenarios = append(l.Scenarios, ScenarioLoad{Name: s.Name, Interval: s.Interval, Points: s.Points, Billed: b})
	}
	return l
}

// Alerts are the env's conditions as billed, per series: Google charges
// for every time series a condition's query returns at each execution. The
// counts are upper bounds: each PromQL branch reads two series per scenario
// (failing: count_over_time and sum_over_time of success; stopped: two
// ranges of duration_seconds), as if every one were returned, and "canary
// broken" one series of its log-based metric per scenario job. Periods:
// the policies' evaluation_interval (terraform/alerts.tf), and a minute for
// the threshold condition.
func (e Env) Alerts() []AlertCondition {
	n := len(e.Scenarios)
	return []AlertCondition{
		{Name: "network failing", Series: 2 * n, Every: 30 * time.Second},
		{Name: "stopped reporting", Series: 2 * n, Every: time.Minute},
		{Name: "canary broken", Series: n, Every: time.Minute},
	}
}

// Pipeline is what a deploy through Cloud Build costs, for the env the
// trigger deploys (prod). Deploys is an assumption (about one push to main
// a working day); Minutes is a build of cloudbuild.yaml on the default
// e2-standard-2 (2 vCPU, like the CI machine whose cold build of both
// devnets takes about 15 minutes): about 45 minutes, an estimate (its
// volumes do not outlive a build, so every build downloads the modules and
// builds both devnets from source), the gate included. GateRuns: the gate runs every scenario twice (the deployed
// image, then the new one).
var Pipeline = struct {
	Env      string
	Deploys  float64
	Minutes  float64
	GateRuns float64
}{Env: "prod", Deploys: 20, Minutes: 45, GateRuns: 2}

// WithPipeline adds the deploys of the pipeline to the env it deploys.
func (l Load) WithPipeline() Load {
	if l.Env == Pipeline.Env {
		l.Deploys, l.BuildMinutes, l.GateRunsPerScenario = Pipeline.Deploys, Pipeline.Minutes, Pipeline.GateRuns
	}
	return l
}
