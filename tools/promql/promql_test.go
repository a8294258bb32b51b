package promqlcheck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

var envNames = []string{"prod", "staging", "dev"}

// loadEnvs reads the plans of every env from TF_PLAN_DIR. Without it the
// test fails under CI=true and is skipped otherwise.
func loadEnvs(t *testing.T) map[string]Env {
	t.Helper()
	dir := os.Getenv("TF_PLAN_DIR")
	if dir == "" {
		const msg = "TF_PLAN_DIR is not set: make tf-check plans every env and sets it (TF_PLAN_KEEP=DIR keeps the plans for TF_PLAN_DIR=DIR go test ./...)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	envs := map[string]Env{}
	for _, name := range envNames {
		e, err := LoadEnv(filepath.Join(dir, name+".plan.json"))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name != name {
			t.Fatalf("%s.plan.json is a plan of %q", name, e.Name)
		}
		envs[name] = e
	}
	return envs
}

// TestQueriesParse: every PromQL query of every alert policy parses with
// Prometheus 3's parser, and each selector names a metric of the catalogue
// on the generic_task resource of the canary's namespace and env; every
// deployed scenario is matched by the failing and the stopped query.
func TestQueriesParse(t *testing.T) {
	t.Parallel()
	envs := loadEnvs(t)
	types := map[string]bool{}
	for _, d := range metrics.Catalogue().Metrics {
		types[d.Type()] = true
	}
	p := parser.NewParser(parser.Options{})
	for _, name := range envNames {
		e := envs[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if len(e.Queries) == 0 {
				t.Fatal("no PromQL query in the plan")
			}
			for policy, qs := range e.Queries {
				for _, q := range qs {
					expr, err := p.ParseExpr(q)
					if err != nil {
						t.Errorf("%s: %v\n%s", policy, err, q)
						continue
					}
					matched := map[string]bool{}
					var bad []string
					parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
						vs, ok := n.(*parser.VectorSelector)
						if !ok {
							return nil
						}
						want := map[string]string{labels.MetricName: "", "monitored_resource": metrics.ResourceType, "namespace": metrics.Namespace, "env": e.Name}
						for _, m := range vs.LabelMatchers {
							if _, ok := want[m.Name]; ok && m.Type == labels.MatchEqual {
								if m.Name == labels.MetricName && types[m.Value] {
									delete(want, m.Name)
								} else if want[m.Name] == m.Value {
									delete(want, m.Name)
								}
							}
							if m.Name == "job" {
								for _, s := range e.Scenarios {
									if m.Matches(s.Name) {
										matched[s.Name] = true
									}
								}
							}
						}
						if len(want) > 0 {
							bad = append(bad, fmt.Sprintf("%s lacks %v", vs, want))
						}
						return nil
					})
					for _, b := range bad {
						t.Errorf("%s: selector %s", policy, b)
					}
					if policy != "failing" && policy != "stopped" {
						continue
					}
					for _, s := range e.Scenarios {
						if !matched[s.Name] {
							t.Errorf("%s: no selector matches scenario %s", policy, s.Name)
						}
					}
				}
			}
			if e.Failing.Window < e.Failing.Failed || e.Failing.Failed < 1 || e.Stopped.Runs < 2 {
				t.Errorf("thresholds: failing %d of %d, stopped %d", e.Failing.Failed, e.Failing.Window, e.Stopped.Runs)
			}
		})
	}
}

// want is what a case expects of one policy for its target scenario.
type want int

const (
	never  want = iota // no evaluation returns its series
	clears             // some do, and the last evaluation does not
	either             // left to the design's oracle alone (it depends on the env's thresholds)
	fires              // some do, and the last evaluation still does
)

// behaviour is one scripted case: the target scenario's slots, built from
// the env's thresholds (at least n of the last m runs failed; stopped
// after k intervals without a run).
type behaviour struct {
	name    string
	script  func(n, m, k int, iv time.Duration) string
	failing want
	stopped want
	refused bool // some of the target's points are refused by the write rules
	all     bool // every scenario of the env runs the script, not only the target
	// causes is the fewest distinct cause codes the target's page must
	// show while it fires: its value changes with the newest failure while
	// its series, the incident, stays the same. -1: every value is 0 (no
	// failure recorded its cause).
	causes int
}

func rep(s string, n int) string { return strings.Repeat(s, max(n, 0)) }

// spread is a block of m slots holding f failures as far apart as they go.
func spread(f, m int) string {
	b := []byte(rep("P", m))
	for i := range f {
		b[i*m/f] = Fail
	}
	return string(b)
}

var behaviours = []behaviour{
	{name: "n-1 failures packed in every window never page", failing: never, stopped: never,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep(rep("F", n-1)+rep("P", m-n+1), 3) + rep("P", m+1)
		}},
	{name: "n-1 failures spread in every window never page", failing: never, stopped: never,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep(spread(n-1, m), 3) + rep("P", m+1)
		}},
	{name: "n-1 failures and missing runs never page failing", failing: never, stopped: either,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep(rep("F", n-1)+rep("-", m-n+1), 3) + rep("P", m+1)
		}},
	{name: "canary-class runs page neither", failing: never, stopped: never,
		script: func(_, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep("C", 2*m+2) + rep("P", m+1)
		}},
	{name: "n failures in a row page, recovery clears", failing: clears, stopped: never, causes: 1,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep("F", n) + rep("P", m+2)
		}},
	{name: "n failures spread over m runs page", failing: clears, stopped: never,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + spread(n, m) + rep("P", m+2)
		}},
	{name: "n failures among canary-class and missing runs page", failing: clears, stopped: never,
		script: func(n, m, _ int, _ time.Duration) string {
			s, fill := "F", min(n-1, m-n)
			for i := 1; i < n; i++ {
				if i <= fill {
					s += string("C-"[i%2])
				}
				s += "F"
			}
			return rep("P", m+1) + s + rep("P", m+2)
		}},
	{name: "a failure that records after the next slot began counts", failing: clears, stopped: never,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep("F", n-1) + "L" + rep("P", m+2)
		}},
	{name: "a failure overtaken by the next run is lost", failing: never, stopped: never, refused: true,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep("F", n-1) + "O" + rep("P", m+2)
		}},
	{name: "a failure that starts after its slot takes the next one", failing: clears, stopped: never, refused: true,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep("F", n-1) + "D" + rep("P", m+2)
		}},
	{name: "no run for stopped_runs intervals pages stopped, not failing", failing: never, stopped: clears,
		script: func(_, m, k int, _ time.Duration) string {
			return rep("P", m+1) + rep("-", k+2) + rep("P", m+1)
		}},
	{name: "a scenario silent for over a day keeps paging", failing: never, stopped: fires,
		script: func(_, m, k int, iv time.Duration) string {
			return rep("P", m+1) + rep("-", int(24*time.Hour/iv)+k+2)
		}},
	{name: "failing, then silent: both page and clear", failing: clears, stopped: clears,
		script: func(n, m, k int, _ time.Duration) string {
			return rep("P", m+1) + rep("F", n) + rep("-", k+2) + rep("P", m+2)
		}},
	{name: "a cause that changes mid-outage keeps one incident", failing: clears, stopped: never, causes: 2,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep("T", n) + rep("F", n) + rep("T", n) + rep("P", m+1)
		}},
	{name: "failures of an image without failed_run page", failing: clears, stopped: never, causes: -1,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep("U", n) + rep("P", m+1)
		}},
	{name: "every scenario failing at once: one series each", failing: clears, stopped: never, all: true,
		script: func(n, m, _ int, _ time.Duration) string {
			return rep("P", m+1) + rep("F", n) + rep("P", m+2)
		}},
}

// onsetSlot is the index of the slot whose failure makes n of m in the
// design's terms (Fail, Same, Unlabelled and LateEnd on their slot,
// LateStart on the next, Overtaken lost), or -1.
func onsetSlot(script string, n, m int) int {
	fails := make([]bool, len(script)+1)
	for i, c := range script {
		switch c {
		case Fail, LateEnd, Same, Unlabelled:
			fails[i] = true
		case LateStart:
			fails[i+1] = true
		}
	}
	for i := range fails {
		count := 0
		for j := max(0, i-m+1); j <= i; j++ {
			if fails[j] {
				count++
			}
		}
		if count >= n {
			return i
		}
	}
	return -1
}

// index holds the accepted points of each scenario's series, by metric
// type, in the order they were written.
type index struct {
	seen   int
	series map[string]map[string][]Point // job -> metric type -> points
}

func (x *index) update(acc []Point) {
	for ; x.seen < len(acc); x.seen++ {
		p := acc[x.seen]
		name, job := p.Labels.Get(labels.MetricName), p.Labels.Get("job")
		if x.series[job] == nil {
			x.series[job] = map[string][]Point{}
		}
		x.series[job][name] = append(x.series[job][name], p)
	}
}

// inRange are the points whose time is in [lo, hi].
func inRange(pts []Point, lo, hi time.Time) []Point {
	i, _ := slices.BinarySearchFunc(pts, lo, func(p Point, t time.Time) int { return p.At.Compare(t) })
	j, _ := slices.BinarySearchFunc(pts, hi.Add(time.Nanosecond), func(p Point, t time.Time) int { return p.At.Compare(t) })
	return pts[i:j]
}

// designFailing: at t, at least n of the m slots before the current one
// hold a failed run (success 0) in Monitoring.
func (x *index) designFailing(job string, iv time.Duration, c Condition, t time.Time) bool {
	cur := metrics.Slot(t, iv)
	failed := 0
	for _, p := range inRange(x.series[job][metrics.Prefix+metrics.Success], cur.Add(-time.Duration(c.Window)*iv), cur.Add(-iv)) {
		if p.Value == 0 {
			failed++
		}
	}
	return failed >= c.Failed
}

// designCause: at t, the page's value is the cause code of the scenario's
// newest failure that recorded one (failure_cause) in the failing window
// or the current slot, 0 when none did.
func (x *index) designCause(job string, iv time.Duration, c Condition, t time.Time) float64 {
	pts := inRange(x.series[job][metrics.Prefix+metrics.FailureCause], t.Add(-time.Duration(c.Window+1)*iv).Add(time.Nanosecond), t)
	if len(pts) == 0 {
		return 0
	}
	return pts[len(pts)-1].Value
}

// stoppedLookback is how far back "stopped reporting" looks for a run: a
// scenario that recorded within it and not in its last k slots pages, so
// the incident stays open through a week of silence.
const stoppedLookback = 7 * 24 * time.Hour

// designStopped: at t, the scenario recorded a run in the last 7 days but
// none in the current slot or the k-1 before it.
func (x *index) designStopped(job string, iv time.Duration, c Condition, t time.Time) bool {
	pts := x.series[job][metrics.Prefix+metrics.Duration]
	cur := metrics.Slot(t, iv)
	day := len(inRange(pts, t.Add(-stoppedLookback).Add(time.Nanosecond), t)) > 0
	recent := len(inRange(pts, cur.Add(-time.Duration(c.Runs-1)*iv), t)) > 0
	return day && !recent
}

// jobs are the scenarios a result names, one series each.
func jobs(v promql.Vector, e Env) (map[string]bool, error) {
	out := map[string]bool{}
	for _, s := range v {
		job := s.Metric.Get("job")
		if job == "" {
			return nil, fmt.Errorf("series %s has no job label", s.Metric)
		}
		if _, ok := e.Scenario(job); !ok {
			return nil, fmt.Errorf("series %s names no scenario of %s", s.Metric, e.Name)
		}
		if out[job] {
			return nil, fmt.Errorf("two series for %s (one incident per scenario): %s", job, v)
		}
		out[job] = true
	}
	return out, nil
}

// track is what one policy did for one scenario over a case.
type track struct {
	first, last time.Time // first and last evaluation that returned its series
	now         bool      // the latest evaluation did
}

func (tr *track) note(t time.Time, on bool) {
	if on {
		if tr.first.IsZero() {
			tr.first = t
		}
		tr.last = t
	}
	tr.now = on
}

func (tr track) check(t *testing.T, policy string, w want) {
	t.Helper()
	switch w {
	case never:
		if !tr.first.IsZero() {
			t.Errorf("%s fired at %s, want never", policy, tr.first.Format(time.TimeOnly))
		}
	case clears:
		if tr.first.IsZero() {
			t.Errorf("%s never fired", policy)
		} else if tr.now {
			t.Errorf("%s still fires at the end of the script", policy)
		}
	case fires:
		if tr.first.IsZero() {
			t.Errorf("%s never fired", policy)
		} else if !tr.now {
			t.Errorf("%s no longer fires at the end of the script", policy)
		}
	}
}

// evalPhases are where the evaluations fall against the slots: on their
// boundaries, and off them.
var evalPhases = []time.Duration{0, 17 * time.Second}

// TestPoliciesFireAsDesigned: for every env and every schedule in it, each
// behaviour's script runs on a scenario of that schedule (the others pass
// beside it); the failing and stopped queries, read from the plan, are
// evaluated every evaluation_interval and must name exactly the scenarios
// the design says, one series each.
func TestPoliciesFireAsDesigned(t *testing.T) {
	t.Parallel()
	envs := loadEnvs(t)
	engine := NewEngine()
	for _, name := range envNames {
		e := envs[name]
		for _, iv := range e.Intervals() {
			target := e.Scenarios[slices.IndexFunc(e.Scenarios, func(s Scenario) bool { return s.Interval == iv })]
			for _, b := range behaviours {
				for _, phase := range evalPhases {
					t.Run(fmt.Sprintf("%s/%s/%s/%s/phase=%s", name, iv, target.Name, b.name, phase), func(t *testing.T) {
						t.Parallel()
						runBehaviour(t, engine, e, target, b, phase)
					})
				}
			}
		}
	}
}

// t0 is the simulation's start: a slot of every schedule.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func runBehaviour(t *testing.T, engine *promql.Engine, e Env, target Scenario, b behaviour, phase time.Duration) {
	ctx := context.Background()
	n, m, k := e.Failing.Failed, e.Failing.Window, e.Stopped.Runs
	script := b.script(n, m, k, target.Interval)
	span := time.Duration(len(script)) * target.Interval
	ivs := e.Intervals()
	longest := ivs[len(ivs)-1]
	rng := rand.New(rand.NewPCG(uint64(len(script)), uint64(phase)))
	var writes []Write
	scripts := map[string]string{}
	for _, s := range e.Scenarios {
		sc := rep("P", int(span/s.Interval))
		switch {
		case b.all:
			// Every slot of the longest schedule's script, in this
			// schedule's slots: the failures overlap in time.
			sc = ""
			for _, c := range b.script(n, m, k, longest) {
				sc += rep(string(c), int(longest/s.Interval))
			}
		case s.Name == target.Name:
			sc = script
		}
		scripts[s.Name] = sc
		w, err := Runs(e, s, t0, sc, rng)
		if err != nil {
			t.Fatal(err)
		}
		writes = append(writes, w...)
		span = max(span, time.Duration(len(sc))*s.Interval)
	}
	store, err := NewStore()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	sim := NewSim(engine, store, writes)
	x := &index{series: map[string]map[string][]Point{}}
	failing, stopped := map[string]*track{}, map[string]*track{}
	for _, s := range e.Scenarios {
		failing[s.Name], stopped[s.Name] = &track{}, &track{}
	}
	peak, mismatches := 0, 0
	causes := map[string]map[float64]bool{} // job -> the values its page showed
	type policy struct {
		name   string
		cond   Condition
		tracks map[string]*track
		design func(string, time.Duration, Condition, time.Time) bool
	}
	policies := []policy{
		{"failing", e.Failing, failing, x.designFailing},
		{"stopped", e.Stopped, stopped, x.designStopped},
	}
	step := min(e.Failing.Every, e.Stopped.Every)
	for at := t0.Add(phase); !at.After(t0.Add(span)); at = at.Add(step) {
		for _, p := range policies {
			if at.Sub(t0.Add(phase))%p.cond.Every != 0 {
				continue
			}
			v, err := sim.Eval(ctx, p.cond.Query, at)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			got, err := jobs(v, e)
			if err != nil {
				t.Fatalf("%s at %s: %v", p.name, at.Format(time.TimeOnly), err)
			}
			x.update(store.Accepted)
			if p.name == "failing" {
				peak = max(peak, len(got))
				// One incident per env and scenario: a firing series
				// carries its scenario only, never the cause, whose
				// change would close the incident and open another.
				// The cause is the series' value: the newest failure's.
				for _, s := range v {
					if s.Metric.Has(metrics.LabelErrorClass) || s.Metric.Has(metrics.LabelPhase) || s.Metric.Len() != 1 {
						if mismatches < 5 {
							mismatches++
							t.Errorf("failing at +%s: series %s carries more than its scenario", at.Sub(t0), s.Metric)
						}
					}
					job := s.Metric.Get("job")
					sc, _ := e.Scenario(job)
					if want := x.designCause(job, sc.Interval, e.Failing, at); s.F != want && mismatches < 5 {
						mismatches++
						t.Errorf("failing at +%s: %s's value (its cause) is %v, the design says %v (script %s)", at.Sub(t0), job, s.F, want, scripts[job])
					}
					if causes[job] == nil {
						causes[job] = map[float64]bool{}
					}
					causes[job][s.F] = true
				}
			}
			for _, s := range e.Scenarios {
				p.tracks[s.Name].note(at, got[s.Name])
				if want := p.design(s.Name, s.Interval, p.cond, at); want != got[s.Name] && mismatches < 5 {
					mismatches++
					t.Errorf("%s at +%s: %s fires %v, the design says %v (script %s)", p.name, at.Sub(t0), s.Name, got[s.Name], want, scripts[s.Name])
				}
			}
		}
	}
	for _, s := range e.Scenarios {
		fw, sw := never, never
		if s.Name == target.Name || b.all {
			fw, sw = b.failing, b.stopped
		}
		t.Run(s.Name, func(t *testing.T) {
			failing[s.Name].check(t, "failing", fw)
			stopped[s.Name].check(t, "stopped", sw)
			if i := onsetSlot(scripts[s.Name], n, m); fw == clears && i >= 0 && !failing[s.Name].first.IsZero() {
				slot := t0.Add(time.Duration(i) * s.Interval)
				lo, hi := slot.Add(s.Interval), slot.Add(s.Interval+s.Timeout+e.Failing.Every)
				if f := failing[s.Name].first; f.Before(lo) || f.After(hi) {
					t.Errorf("failing first fired at +%s, want within [+%s, +%s] (slot %d's failure completes %d of %d)", f.Sub(t0), lo.Sub(t0), hi.Sub(t0), i, n, m)
				}
			}
		})
	}
	checkCauses(t, e, writes, x, causes[target.Name], b.causes)
	if b.all && peak != len(e.Scenarios) {
		t.Errorf("failing named at most %d scenarios at once, want all %d", peak, len(e.Scenarios))
	}
	if b.refused != (store.Refused > 0) {
		t.Errorf("%d points refused by the write rules, want refusals: %v", store.Refused, b.refused)
	}
}

// checkCauses: every cause Monitoring accepted is the code of the class
// and phase of the run stamped on its slot; the target's page showed at
// least want distinct causes (-1: only 0, no failure recorded one).
func checkCauses(t *testing.T, e Env, writes []Write, x *index, seen map[float64]bool, want int) {
	t.Helper()
	for job, byMetric := range x.series {
		sc, _ := e.Scenario(job)
		for _, p := range byMetric[metrics.Prefix+metrics.FailureCause] {
			i := slices.IndexFunc(writes, func(w Write) bool {
				return w.Result.Scenario == job && metrics.Stamp(w.Result, sc.Interval).Equal(p.At)
			})
			if i < 0 {
				t.Errorf("%s: a cause at %s, where no run is stamped", job, p.At.Format(time.TimeOnly))
				continue
			}
			r := writes[i].Result
			if r.Success || r.Class == scenarios.ErrCanary || p.Value != float64(metrics.Cause(r.Class, r.FailedPhase)) {
				t.Errorf("%s: cause %v at %s, for a run that ended success=%v %s in %s", job, p.Value, p.At.Format(time.TimeOnly), r.Success, r.Class, r.FailedPhase)
			}
		}
	}
	nonzero := 0
	for v := range seen {
		if v != 0 {
			nonzero++
		}
	}
	switch {
	case want < 0 && nonzero > 0:
		t.Errorf("the page showed causes %v, want only 0 (no failure recorded one)", seen)
	case want < 0 && !seen[0]:
		t.Errorf("the page never showed cause 0")
	case want > 0 && nonzero < want:
		t.Errorf("the page showed %d distinct causes (%v), want at least %d", nonzero, seen, want)
	}
}
