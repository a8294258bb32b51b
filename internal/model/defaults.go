package model

import (
	"strconv"
	"strings"
	"time"
)

// Env is one env's deployment as terraform/ sets it up by default
// (terraform/main.tf local.envs, terraform/jobs.tf resources.limits,
// terraform/alerts.tf). TestEnvsMatchTerraform reads those files and fails
// when they and this table part ways.
type Env struct {
	Name          string
	Schedule      string // cron
	Interval      time.Duration
	Failed        int // alert: at least Failed ...
	Window        int // ... of the last Window runs failed
	AbsentMinutes int // "canary stopped" policy
	Scenarios     []string
	CPU           float64 // vCPU limit of each job
	MemoryMiB     int     // memory limit of each job
}

var allScenarios = []string{"list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency"}

// Envs are the Terraform defaults.
var Envs = []Env{
	{Name: "prod", Schedule: "* * * * *", Interval: time.Minute, Failed: 3, Window: 5, AbsentMinutes: 15, Scenarios: allScenarios, CPU: 1, MemoryMiB: 512},
	{Name: "staging", Schedule: "*/5 * * * *", Interval: 5 * time.Minute, Failed: 3, Window: 5, AbsentMinutes: 60, Scenarios: allScenarios, CPU: 1, MemoryMiB: 512},
	{Name: "dev", Schedule: "*/5 * * * *", Interval: 5 * time.Minute, Failed: 3, Window: 5, AbsentMinutes: 60, Scenarios: []string{"list", "submit"}, CPU: 1, MemoryMiB: 512},
}

// Policy is the env's "failing" alert policy.
func (e Env) Policy() Policy {
	return Policy{Interval: e.Interval, Failed: e.Failed, Window: e.Window, Evaluation: Sliding}
}

// AlertConditions is how many conditions the env's policies hold: one
// "failing" policy per scenario plus one "stopped" condition per scenario.
func (e Env) AlertConditions() int { return 2 * len(e.Scenarios) }

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
	// AlertDelay: Cloud Monitoring executes a metric-threshold condition
	// every 30 s (the execution period Google's alerting pricing examples
	// use), then sends the Slack message (assumed up to 30 s).
	AlertDelay = Span{0, 60 * time.Second}
	// RealRun: a passing run against a real network with the docker engine
	// (image cached on the compute node). Assumed 1–20 s; the devnet's wasm
	// runs take well under a second (bench/results.json).
	RealRun = Span{1 * time.Second, 20 * time.Second}
)

// Latencies for a run of the given span on Cloud Run.
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
		Interval:        e.Interval,
		CPU:             e.CPU,
		MemoryGiB:       float64(e.MemoryMiB) / 1024,
		AlertConditions: e.AlertConditions(),
		AlertSeries:     2 * len(e.Scenarios),
		LogBytesPerRun:  logBytesPerRun,
	}
	for _, s := range e.Scenarios {
		b, ok := billed[s]
		if !ok {
			b = def
		}
		l.Scenarios = append(l.Scenarios, ScenarioLoad{Name: s, Phases: phases[s], Billed: b})
	}
	return l
}

// phases per scenario (pkg/scenarios; TestPhasesMatchScenarios checks).
var phases = map[string]int{
	"list":                  1,
	"submit":                2,
	"submitAndDescribe":     5,
	"submitAndGet":          4,
	"submitWithConcurrency": 3,
}

// CronInterval is the period of an every-minute or every-N-minutes cron
// schedule ("* * * * *", "*/5 * * * *"), the only forms the Terraform
// accepts.
func CronInterval(schedule string) (time.Duration, bool) {
	f := strings.Fields(schedule)
	if len(f) != 5 || f[1] != "*" || f[2] != "*" || f[3] != "*" || f[4] != "*" {
		return 0, false
	}
	if f[0] == "*" {
		return time.Minute, true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(f[0], "*/"))
	if !strings.HasPrefix(f[0], "*/") || err != nil || n < 1 || n > 59 {
		return 0, false
	}
	return time.Duration(n) * time.Minute, true
}
