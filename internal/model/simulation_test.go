package model

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// A simulation of the rolling-window condition, with the real stamping code
// (metrics.Stamp) and the plan's schedules and N of M. A store keeps
// Monitoring's write rule that matters here (points of a series in order,
// ≥ 5 s apart: a refused point is lost, as the sink drops it), and the
// condition is evaluated every 30 s at a random phase.

type simRun struct {
	slot     int // scheduled slot
	fail     bool
	start    time.Time
	duration time.Duration
	written  time.Time // when the point reaches Monitoring
	missing  bool      // never ran or never wrote
}

type simPoint struct {
	at, written time.Time
	value       int64
}

// store applies Monitoring's in-order and sampling-period rule, in write order.
func store(runs []simRun, stamp func(scenarios.Result) time.Time) []simPoint {
	order := make([]simRun, 0, len(runs))
	for _, r := range runs {
		if !r.missing {
			order = append(order, r)
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].written.Before(order[j].written) })
	var pts []simPoint
	var last time.Time
	for _, r := range order {
		at := stamp(scenarios.Result{Scenario: "s", Success: !r.fail, Start: r.start, Duration: r.duration})
		if !last.IsZero() && at.Sub(last) < 5*time.Second {
			continue // refused: the slot or a newer one is taken
		}
		v := int64(1)
		if r.fail {
			v = 0
		}
		pts = append(pts, simPoint{at: at, written: r.written, value: v})
		last = at
	}
	return pts
}

// window returns the points in (t-w, t] already written at t.
func window(pts []simPoint, t time.Time, w time.Duration) (n, passed int) {
	for _, p := range pts {
		if p.at.After(t.Add(-w)) && !p.at.After(t) && !p.written.After(t) {
			n++
			passed += int(p.value)
		}
	}
	return n, passed
}

// windowOffset is window over (t-off-w, t-off], the points written by t.
func windowOffset(pts []simPoint, t time.Time, w, off time.Duration) (n, passed int) {
	for _, p := range pts {
		if p.at.After(t.Add(-off-w)) && !p.at.After(t.Add(-off)) && !p.written.After(t) {
			n++
			passed += int(p.value)
		}
	}
	return n, passed
}

// pagesOld is today's condition: stamped at the end of the run, fewer than
// Window-Failed+1 passes in the window (missing counts as failed).
func pagesOld(runs []simRun, e Env, iv time.Duration, from, to time.Time, phase time.Duration) bool {
	pts := store(runs, func(r scenarios.Result) time.Time { return metrics.Stamp(r, 0) })
	w := time.Duration(e.Window) * iv
	for t := from.Add(phase); t.Before(to); t = t.Add(30 * time.Second) {
		if _, passed := window(pts, t, w); float64(passed) < float64(e.Window-e.Failed)+0.5 {
			return true
		}
	}
	return false
}

// pagesNew is the plan's condition: stamped on the slot, at least Failed
// failed runs (0s of success) in the window, offset by one interval.
func pagesNew(runs []simRun, e Env, iv time.Duration, from, to time.Time, phase time.Duration) bool {
	pts := store(runs, func(r scenarios.Result) time.Time { return metrics.Stamp(r, iv) })
	w := time.Duration(e.Window) * iv
	for t := from.Add(phase); t.Before(to); t = t.Add(30 * time.Second) {
		if n, passed := windowOffset(pts, t, w, iv); n-passed >= e.Failed {
			return true
		}
	}
	return false
}

type jitter struct {
	lateStart float64 // probability of a start delay of 1–1.5 intervals
	missing   float64 // probability that a run records nothing
	lateWrite float64 // probability that a write lands up to 2 intervals late
}

// schedule builds n runs of one scenario with the given failed slots.
func schedule(rng *rand.Rand, base time.Time, iv time.Duration, n int, failed map[int]bool, j jitter) []simRun {
	runs := make([]simRun, n)
	for k := range runs {
		delay := time.Duration(rng.Float64() * 0.7 * float64(iv)) // scheduler + Cloud Run start
		if rng.Float64() < j.lateStart {
			delay = iv + time.Duration(rng.Float64()*0.5*float64(iv))
		}
		d := time.Second + time.Duration(rng.Float64()*0.25*float64(iv))
		start := base.Add(time.Duration(k)*iv + delay)
		wr := start.Add(d + time.Duration(rng.Float64()*float64(2*time.Second)))
		if rng.Float64() < j.lateWrite {
			wr = wr.Add(time.Duration(rng.Float64() * float64(2*iv)))
		}
		runs[k] = simRun{slot: k, fail: failed[k], start: start, duration: d, written: wr, missing: rng.Float64() < j.missing}
	}
	return runs
}

// startSlots counts, for every Window consecutive slots, the failed runs
// that STARTED in them and were recorded: what the slotted condition counts.
func maxFailedStartedInWindow(runs []simRun, base time.Time, iv time.Duration, window int) int {
	bySlot := map[int]int{}
	for _, r := range runs {
		if r.fail && !r.missing {
			bySlot[int(metrics.Slot(r.start, iv).Sub(base)/iv)]++
		}
	}
	most := 0
	for k := -1; k < len(runs)+2; k++ {
		n := 0
		for j := k; j < k+window; j++ {
			n += min(bySlot[j], 1) // one point per slot at most
		}
		most = max(most, n)
	}
	return most
}

func TestSimulationRollingWindow(t *testing.T) {
	if EnvsErr != nil {
		t.Fatal(EnvsErr)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	const n, trials = 30, 300
	for _, e := range Envs {
		seen := map[time.Duration]bool{}
		for _, sc := range e.Scenarios {
			iv := sc.Interval
			if seen[iv] {
				continue
			}
			seen[iv] = true
			from, to := base.Add(time.Duration(e.Window)*iv), base.Add(time.Duration(n+1)*iv)
			t.Run(e.Name+"/"+iv.String(), func(t *testing.T) {
				// 1. Today's condition pages on 2 adjacent failures.
				oldPages := 0
				for range trials {
					runs := schedule(rng, base, iv, n, map[int]bool{12: true, 13: true}, jitter{})
					if pagesOld(runs, e, iv, from, to, time.Duration(rng.IntN(30))*time.Second) {
						oldPages++
					}
				}
				if oldPages < trials/4 {
					t.Errorf("end-time stamping paged on 2 failures in %d of %d trials; the false page is not reproduced", oldPages, trials)
				}
				t.Logf("end-time stamping: 2 adjacent failures paged %d of %d times", oldPages, trials)

				// 2. The plan's condition: at most Failed-1 failed runs in any
				// Window slots never page; Failed always do.
				hard := jitter{lateStart: 0.1, missing: 0.1, lateWrite: 0.1}
				for trial := range trials {
					failed := map[int]bool{}
					for len(failed) < 2 {
						failed[e.Window+rng.IntN(n-2*e.Window)] = true
					}
					runs := schedule(rng, base, iv, n, failed, hard)
					if maxFailedStartedInWindow(runs, base, iv, e.Window) >= e.Failed {
						continue // a run started an interval late joined another failure's window
					}
					if pagesNew(runs, e, iv, from, to, time.Duration(rng.IntN(30))*time.Second) {
						t.Fatalf("trial %d: 2 failures (slots %v) paged", trial, failed)
					}
				}
				for trial := range trials {
					k := e.Window + rng.IntN(n-3*e.Window)
					failed := map[int]bool{k: true, k + 1 + rng.IntN(2): true, k + e.Window - 1: true}
					// Jitter, missing passing runs and late passing writes;
					// the failed runs start within their slot and record.
					runs := schedule(rng, base, iv, n, failed, jitter{missing: 0.1, lateWrite: 0.1})
					for i := range runs {
						if failed[i] {
							runs[i].missing = false
							runs[i].written = runs[i].start.Add(runs[i].duration)
						}
					}
					if !pagesNew(runs, e, iv, from, to, time.Duration(rng.IntN(30))*time.Second) {
						t.Fatalf("trial %d: %d failures in %d slots (%v) did not page", trial, len(failed), e.Window, failed)
					}
				}
			})
		}
	}
}
