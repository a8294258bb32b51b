package model

import (
	"math"
	"time"
)

// Prices are Google Cloud list prices in USD. Free allotments are per
// billing account and month unless noted; the model applies them to one env
// at a time, as if it were alone on its billing account (Total on a shared
// account is Costs summed with the allotments applied once: see Combined).
type Prices struct {
	Date, Region string

	// Cloud Run jobs (billed like services with instance-based billing):
	// per vCPU-second and GiB-second of a task's container, rounded up to
	// 100 ms, beyond the free tier.
	RunVCPUSecond, RunGiBSecond float64
	RunFreeVCPUSeconds          float64
	RunFreeGiBSeconds           float64
	RunRounding                 time.Duration

	// Cloud Scheduler: per job per month (31 days); paused jobs count.
	SchedulerJob  float64
	SchedulerFree int

	// Cloud Monitoring ingestion of custom metrics, first price band; a
	// scalar point counts as 8 bytes.
	MetricMiB      float64
	MetricFreeMiB  float64
	BytesPerPoint  float64
	AlertCondition float64 // per condition per month
	// per million time series returned by conditions' queries, one
	// execution every AlertExecution
	AlertSeriesMillion float64
	AlertExecution     time.Duration

	// Secret Manager: access operations (the job reads the API key once a
	// run) and active secret versions (the API key and the Slack token).
	SecretAccess10k     float64
	SecretFreeAccesses  float64
	SecretVersion       float64
	SecretFreeVersions  int
	SecretVersionsInUse int

	// Cloud Logging ingestion, free allotment per project.
	LogGiB     float64
	LogFreeGiB float64

	// Cloud Build, per build minute of the pipeline's machine type
	// (cloudbuild.yaml: the default e2-standard-2, whose first 2,500
	// minutes a month are free).
	BuildMinute     float64
	BuildFreeMinute float64
}

// PriceList is the price list docs/operations.md's numbers use. Sources:
// cloud.google.com/run/pricing (Tier 1 table, "Jobs" column),
// cloud.google.com/scheduler/pricing, cloud.google.com/stackdriver/pricing
// (Monitoring data ingestion, alerting), cloud.google.com/secret-manager/pricing,
// cloud.google.com/stackdriver/pricing (Logging), cloud.google.com/build/pricing
// (e2-standard-2, the default machine: 2,500 free minutes a month, then
// $0.006 a minute; E2_HIGHCPU_8 has no free minutes).
var PriceList = Prices{
	Date:   "2026-11",
	Region: "Tier 1 (us-central1, the Terraform default region)",

	RunVCPUSecond:      0.00001800,
	RunGiBSecond:       0.00000200,
	RunFreeVCPUSeconds: 240_000,
	RunFreeGiBSeconds:  450_000,
	RunRounding:        100 * time.Millisecond,

	SchedulerJob:  0.10,
	SchedulerFree: 3,

	MetricMiB:          0.2580,
	MetricFreeMiB:      150,
	BytesPerPoint:      8,
	AlertCondition:     1.50,
	AlertSeriesMillion: 0.35,
	AlertExecution:     30 * time.Second,

	SecretAccess10k:     0.03,
	SecretFreeAccesses:  10_000,
	SecretVersion:       0.06,
	SecretFreeVersions:  6,
	SecretVersionsInUse: 2,

	LogGiB:     0.50,
	LogFreeGiB: 50,

	BuildMinute:     0.006,
	BuildFreeMinute: 2500,
}

// Month is the month of Google's pricing calculator: 730 hours.
const Month = 730 * time.Hour

// Load is one env's canary as it runs: what the Terraform deploys and how
// long its runs take.
type Load struct {
	Env       string
	CPU       float64 // vCPU limit of the job's container
	MemoryGiB float64 // memory limit
	Scenarios []ScenarioLoad
	// Alert conditions (network failing, stopped reporting, canary broken);
	// each execution of them returns AlertSeries time series in all, one
	// execution every Prices.AlertExecution. Alerts, when set, replaces
	// AlertSeries with each condition's own series and period.
	AlertConditions int
	AlertSeries     int
	Alerts          []AlertCondition
	// Deploys through the pipeline a month, BuildMinutes each (Cloud
	// Build); each deploy's gate also runs every scenario twice on Cloud
	// Run (GateRunsPerScenario).
	Deploys             float64
	BuildMinutes        float64
	GateRunsPerScenario float64
	// LogBytesPerRun is what one run adds to Cloud Logging (the result
	// line plus Cloud Run's own lines for the execution).
	LogBytesPerRun float64
}

// AlertCondition is one condition's query as billed: the time series it
// returns at each execution, one execution every Every.
type AlertCondition struct {
	Name   string
	Series int
	Every  time.Duration
}

// ScenarioLoad is one scheduled scenario.
type ScenarioLoad struct {
	Name     string
	Interval time.Duration // schedule
	Points   int           // metric points a passing run writes
	Billed   time.Duration // container time of one run (start-up included)
}

// Cost is a month of one env, in USD, with the usage behind it.
type Cost struct {
	Runs                    float64 // scheduled runs per month, all scenarios
	VCPUSeconds, GiBSeconds float64
	MetricMiB               float64
	AlertSeries             float64 // time series returned per month
	SecretAccesses          float64
	LogGiB                  float64
	CloudRun, Scheduler     float64
	Metrics, Alerting       float64
	SecretManager, Logging  float64
	BuildMinutes            float64 // Cloud Build minutes a month
	CloudBuild              float64
	Total                   float64
	BreakEvenRunSeconds     float64 // billed seconds per run at which Cloud Run alone costs Budget
	// billed seconds per run up to which the whole month stays within
	// Budget; 0 when the other items alone exceed it
	WithinBudgetRunSeconds float64
	FreeTierRunSeconds     float64 // billed seconds per run the Cloud Run free tier covers
}

// Budget is the monthly goal of issue 6 for prod.
const Budget = 10.0

// MonthlyCost prices one env's month. With free set, the billing account's
// free allotments go to this env alone.
func MonthlyCost(l Load, p Prices, free bool) Cost {
	var c Cost
	points := 0.0
	var billed float64 // container seconds per month
	for _, s := range l.Scenarios {
		perScenario := float64(Month) / float64(s.Interval)
		c.Runs += perScenario
		points += perScenario * float64(s.Points) // a failed run's extra points (failure, failed_run, failure_cause) are left out
		billed += perScenario * roundUp(s.Billed, p.RunRounding).Seconds()
		// The deploy gate's runs: billed alike, recording nothing.
		billed += l.Deploys * l.GateRunsPerScenario * roundUp(s.Billed, p.RunRounding).Seconds()
	}
	c.VCPUSeconds = billed * l.CPU
	c.GiBSeconds = billed * l.MemoryGiB
	c.MetricMiB = points * p.BytesPerPoint / (1 << 20)
	c.AlertSeries = float64(l.AlertSeries) * float64(Month) / float64(p.AlertExecution)
	if len(l.Alerts) > 0 {
		c.AlertSeries = 0
		for _, a := range l.Alerts {
			c.AlertSeries += float64(a.Series) * float64(Month) / float64(a.Every)
		}
	}
	c.BuildMinutes = l.Deploys * l.BuildMinutes
	c.SecretAccesses = c.Runs
	c.LogGiB = c.Runs * l.LogBytesPerRun / (1 << 30)

	freeCPU, freeMem, freeJobs, freeMiB, freeAcc, freeVer, freeLog := 0.0, 0.0, 0, 0.0, 0.0, 0, 0.0
	if free {
		freeCPU, freeMem, freeJobs, freeMiB = p.RunFreeVCPUSeconds, p.RunFreeGiBSeconds, p.SchedulerFree, p.MetricFreeMiB
		freeAcc, freeVer, freeLog = p.SecretFreeAccesses, p.SecretFreeVersions, p.LogFreeGiB
	}
	c.CloudRun = pos(c.VCPUSeconds-freeCPU)*p.RunVCPUSecond + pos(c.GiBSeconds-freeMem)*p.RunGiBSecond
	c.Scheduler = float64(max(len(l.Scenarios)-freeJobs, 0)) * p.SchedulerJob
	c.Metrics = pos(c.MetricMiB-freeMiB) * p.MetricMiB
	c.Alerting = float64(l.AlertConditions)*p.AlertCondition + c.AlertSeries/1e6*p.AlertSeriesMillion
	c.SecretManager = pos(c.SecretAccesses-freeAcc)/10_000*p.SecretAccess10k +
		float64(max(p.SecretVersionsInUse-freeVer, 0))*p.SecretVersion
	c.Logging = pos(c.LogGiB-freeLog) * p.LogGiB
	c.CloudBuild = pos(c.BuildMinutes-p.BuildFreeMinute) * p.BuildMinute
	c.Total = c.CloudRun + c.Scheduler + c.Metrics + c.Alerting + c.SecretManager + c.Logging + c.CloudBuild

	// Container seconds per run at which Cloud Run alone costs the budget:
	// runs·t·(cpu·$cpu + mem·$mem) − free allotments' worth = Budget.
	if c.Runs > 0 {
		// The free tiers are used up at different run lengths; CPU's
		// runs out first for the canary's shape (1 vCPU : 0.5 GiB).
		cpuFree := math.Inf(1)
		if l.CPU > 0 {
			cpuFree = freeCPU / l.CPU
		}
		memFree := math.Inf(1)
		if l.MemoryGiB > 0 {
			memFree = freeMem / l.MemoryGiB
		}
		c.FreeTierRunSeconds = min(cpuFree, memFree) / c.Runs
		c.BreakEvenRunSeconds = breakEven(c.Runs, l, p, freeCPU, freeMem, Budget)
		if rest := c.Total - c.CloudRun; rest < Budget {
			c.WithinBudgetRunSeconds = breakEven(c.Runs, l, p, freeCPU, freeMem, Budget-rest)
		}
	}
	return c
}

// breakEven solves Cloud Run's monthly cost = budget for the billed seconds
// per run by bisection (the cost is piecewise linear and increasing).
func breakEven(runs float64, l Load, p Prices, freeCPU, freeMem, budget float64) float64 {
	cost := func(t float64) float64 {
		s := runs * t
		return pos(s*l.CPU-freeCPU)*p.RunVCPUSecond + pos(s*l.MemoryGiB-freeMem)*p.RunGiBSecond
	}
	lo, hi := 0.0, 3600.0
	for range 100 {
		mid := (lo + hi) / 2
		if cost(mid) < budget {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// Combined is the month of several envs on one billing account: usage is
// summed and the free allotments applied once (Logging's per project, i.e.
// per env, is applied to each).
func Combined(ls []Load, p Prices) Cost {
	var sum Cost
	jobs := 0
	for _, l := range ls {
		c := MonthlyCost(l, p, false)
		sum.Runs += c.Runs
		sum.VCPUSeconds += c.VCPUSeconds
		sum.GiBSeconds += c.GiBSeconds
		sum.MetricMiB += c.MetricMiB
		sum.AlertSeries += c.AlertSeries
		sum.SecretAccesses += c.SecretAccesses
		sum.LogGiB += c.LogGiB
		sum.Alerting += c.Alerting
		sum.Logging += pos(c.LogGiB-p.LogFreeGiB) * p.LogGiB
		sum.BuildMinutes += c.BuildMinutes
		jobs += len(l.Scenarios)
	}
	sum.CloudRun = pos(sum.VCPUSeconds-p.RunFreeVCPUSeconds)*p.RunVCPUSecond + pos(sum.GiBSeconds-p.RunFreeGiBSeconds)*p.RunGiBSecond
	sum.Scheduler = float64(max(jobs-p.SchedulerFree, 0)) * p.SchedulerJob
	sum.Metrics = pos(sum.MetricMiB-p.MetricFreeMiB) * p.MetricMiB
	sum.SecretManager = pos(sum.SecretAccesses-p.SecretFreeAccesses)/10_000*p.SecretAccess10k +
		float64(max(p.SecretVersionsInUse*len(ls)-p.SecretFreeVersions, 0))*p.SecretVersion
	sum.CloudBuild = pos(sum.BuildMinutes-p.BuildFreeMinute) * p.BuildMinute
	sum.Total = sum.CloudRun + sum.Scheduler + sum.Metrics + sum.Alerting + sum.SecretManager + sum.Logging + sum.CloudBuild
	return sum
}

func pos(x float64) float64 { return max(x, 0) }

func roundUp(d, unit time.Duration) time.Duration {
	if unit <= 0 {
		return d
	}
	return (d + unit - 1) / unit * unit
}
