package model

import (
	"math"
	"testing"
	"time"
)

func approx(got, want float64) bool { return math.Abs(got-want) <= 1e-6*max(1, math.Abs(want)) }

// prodLoad is a fixed shape for the arithmetic tests: five scenarios every
// minute with one condition pair each, the Terraform's shape before
// per-scenario schedules and grouped policies.
func prodLoad(billed time.Duration) Load {
	l := Load{Env: "prod", CPU: 1, MemoryGiB: 0.5, AlertConditions: 10, AlertSeries: 10}
	for _, n := range []string{"list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency"} {
		l.Scenarios = append(l.Scenarios, ScenarioLoad{Name: n, Interval: time.Minute, Points: map[string]int{"list": 3, "submit": 4, "submitAndDescribe": 7, "submitAndGet": 6, "submitWithConcurrency": 5}[n], Billed: billed})
	}
	return l
}

func TestMonthlyCostProdArithmetic(t *testing.T) {
	p := PriceList
	runs := 5 * 43_800.0 // 5 scenarios, every minute, 730 h

	c := MonthlyCost(prodLoad(time.Second), p, true)
	if !approx(c.Runs, runs) {
		t.Fatalf("runs = %v, want %v", c.Runs, runs)
	}
	if !approx(c.VCPUSeconds, runs) || !approx(c.GiBSeconds, runs/2) {
		t.Errorf("usage = %v vCPU-s, %v GiB-s", c.VCPUSeconds, c.GiBSeconds)
	}
	if c.CloudRun != 0 {
		t.Errorf("1 s runs fit the free tier, got $%.2f", c.CloudRun)
	}
	if !approx(c.Scheduler, 0.20) {
		t.Errorf("scheduler = $%.2f, want 5 jobs − 3 free = $0.20", c.Scheduler)
	}
	// 25 points per minute (5 scenarios × (success + duration) + 15 phases).
	if want := 43_800 * 25 * 8.0 / (1 << 20); !approx(c.MetricMiB, want) || c.Metrics != 0 {
		t.Errorf("metrics = %v MiB $%.2f, want %v MiB free", c.MetricMiB, c.Metrics, want)
	}
	// 10 conditions at $1.50, each returning one series every 30 s.
	if want := 15 + 10*87_600/1e6*0.35; !approx(c.Alerting, want) {
		t.Errorf("alerting = $%.4f, want $%.4f", c.Alerting, want)
	}
	if want := (runs - 10_000) / 10_000 * 0.03; !approx(c.SecretManager, want) {
		t.Errorf("secret manager = $%.4f, want $%.4f", c.SecretManager, want)
	}

	// 2 s runs: 438,000 vCPU-s, 198,000 beyond the free tier.
	c2 := MonthlyCost(prodLoad(2*time.Second), p, true)
	if want := 198_000 * 0.000018; !approx(c2.CloudRun, want) {
		t.Errorf("2 s runs: cloud run = $%.4f, want $%.4f", c2.CloudRun, want)
	}
	// Without the free tiers every unit is paid.
	c3 := MonthlyCost(prodLoad(2*time.Second), p, false)
	if want := 2*runs*0.000018 + runs*0.000002; !approx(c3.CloudRun, want) {
		t.Errorf("no free tier: cloud run = $%.4f, want $%.4f", c3.CloudRun, want)
	}
	if !approx(c3.Scheduler, 0.50) || !approx(c3.Metrics, c.MetricMiB*0.258) {
		t.Errorf("no free tier: scheduler $%.2f metrics $%.4f", c3.Scheduler, c3.Metrics)
	}
}

func TestBilledTimeIsRoundedUp(t *testing.T) {
	a := MonthlyCost(prodLoad(1010*time.Millisecond), PriceList, false)
	b := MonthlyCost(prodLoad(1100*time.Millisecond), PriceList, false)
	if !approx(a.VCPUSeconds, b.VCPUSeconds) {
		t.Errorf("1.01 s and 1.1 s bill differently: %v vs %v", a.VCPUSeconds, b.VCPUSeconds)
	}
}

func TestBreakEven(t *testing.T) {
	c := MonthlyCost(prodLoad(time.Second), PriceList, true)
	// (219,000·t − 240,000)·$0.000018 = $10 (memory still free there).
	want := (240_000 + 10/0.000018) / 219_000
	if math.Abs(c.BreakEvenRunSeconds-want) > 1e-3 {
		t.Errorf("break-even = %.3f s, want %.3f s", c.BreakEvenRunSeconds, want)
	}
	if want := 240_000 / 219_000.0; math.Abs(c.FreeTierRunSeconds-want) > 1e-9 {
		t.Errorf("free tier covers %.3f s, want %.3f s", c.FreeTierRunSeconds, want)
	}
	at := MonthlyCost(prodLoad(time.Duration(c.BreakEvenRunSeconds*float64(time.Second))), PriceList, true)
	if c.WithinBudgetRunSeconds != 0 {
		t.Errorf("10 alert conditions alone exceed the budget, yet runs up to %.2f s fit", c.WithinBudgetRunSeconds)
	}
	two := prodLoad(time.Second)
	two.AlertConditions = 2
	c2 := MonthlyCost(two, PriceList, true)
	rest := c2.Total - c2.CloudRun
	if want := (240_000 + (Budget-rest)/0.000018) / 219_000; math.Abs(c2.WithinBudgetRunSeconds-want) > 1e-3 {
		t.Errorf("within budget up to %.3f s, want %.3f s", c2.WithinBudgetRunSeconds, want)
	}
	// Rounding up to 100 ms adds at most 219,000 × 0.1 vCPU-s.
	if d := at.CloudRun - Budget; d < 0 || d > 219_000*0.1*0.000018 {
		t.Errorf("cloud run at break-even = $%.2f", at.CloudRun)
	}
}

func TestCombinedAppliesFreeTiersOnce(t *testing.T) {
	var ls []Load
	sum := 0.0
	for _, e := range Envs {
		l := e.RunLoad(nil, 3*time.Second, 4096)
		ls = append(ls, l)
		sum += MonthlyCost(l, PriceList, true).Total
	}
	all := Combined(ls, PriceList)
	if all.Total < sum {
		t.Errorf("one billing account ($%.2f) cannot cost less than each env with its own free tiers ($%.2f)", all.Total, sum)
	}
	if !approx(all.Scheduler, float64(6+6+3-3)*0.10) {
		t.Errorf("scheduler = $%.2f, want 12 paid jobs", all.Scheduler)
	}
}

func TestCostGrowsWithRunTimeAndSchedule(t *testing.T) {
	prev := -1.0
	for _, s := range []time.Duration{0, time.Second, 3 * time.Second, 10 * time.Second, 30 * time.Second} {
		c := MonthlyCost(prodLoad(s), PriceList, true)
		if c.Total < prev {
			t.Errorf("%s runs cost $%.2f, less than shorter runs ($%.2f)", s, c.Total, prev)
		}
		prev = c.Total
	}
	prod := MonthlyCost(Envs[0].RunLoad(nil, 5*time.Second, 0), PriceList, true)
	staging := MonthlyCost(Envs[1].RunLoad(nil, 5*time.Second, 0), PriceList, true)
	if staging.CloudRun >= prod.CloudRun || staging.Runs >= prod.Runs {
		t.Errorf("staging (every 5 min) $%.2f / %v runs vs prod $%.2f / %v runs", staging.CloudRun, staging.Runs, prod.CloudRun, prod.Runs)
	}
}
