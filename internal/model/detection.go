// Package model holds the canary's two back-of-the-envelope models, as code
// so they can be tested and kept in step with terraform/: how long a hard
// outage of the Bacalhau API takes to page (detection time) and what a month
// of canary runs costs on Google Cloud (cost). Inputs that are not ours —
// prices, Google's latencies — are named constants with their source.
package model

import (
	"math"
	"slices"
	"time"
)

// Evaluation is how an alert turns run results into "N of the last M
// failed".
type Evaluation int

const (
	// Sliding: Cloud Monitoring's threshold condition (our alert policy).
	// The alignment period is a look-back window ending at each evaluation;
	// ALIGN_SUM of the success metric over Window schedule intervals counts
	// the passed runs, and the condition holds when fewer than
	// Window-Failed+1 passed. A failed run writes 0 and a missing run writes
	// nothing, so both count as failed.
	Sliding Evaluation = iota
	// Closed: CloudWatch's "M out of N datapoints" alarm (the old canary).
	// Time is cut into fixed periods of one schedule interval; a period
	// becomes a datapoint only once it has ended, and it is bad when no run
	// in it passed.
	Closed
	// Slotted: our "network failing" condition. Every run's points are
	// stamped on its schedule slot (pkg/metrics.Slot), and the condition
	// counts the failed runs (0s of success) of the Window slots before the
	// current one (the range is offset by one interval); a point counts once
	// it is written. It holds once the Failed-th failed run since the
	// outage has recorded and its slot has ended.
	Slotted
)

// Policy is an alert on a scheduled scenario.
type Policy struct {
	Interval   time.Duration // time between two scheduled runs
	Failed     int           // alert when at least Failed ...
	Window     int           // ... of the last Window runs failed
	Evaluation Evaluation
}

// Span is a latency that varies between Min and Max from run to run.
type Span struct{ Min, Max time.Duration }

// Mid is the middle of the span.
func (s Span) Mid() time.Duration { return (s.Min + s.Max) / 2 }

// Latencies are the delays between a schedule tick and the metric point of a
// run (Scheduler + Start + Run; the point is stamped at the end of the run),
// and between the condition becoming true and the page (Alert).
type Latencies struct {
	Scheduler Span // schedule tick → the scheduler calls the job's :run
	Start     Span // :run → the container's process starts
	Run       Span // process start → end of a passing run (its point's timestamp)
	Alert     Span // condition true → notification delivered
}

// point is the lag of a run's metric point behind its schedule tick.
func (l Latencies) point() Span {
	return Span{
		Min: l.Scheduler.Min + l.Start.Min + l.Run.Min,
		Max: l.Scheduler.Max + l.Start.Max + l.Run.Max,
	}
}

// Detection is the time from the start of a hard outage (every API call
// fails from then on) to the page, over where in the schedule the outage
// starts and how the latencies fall.
type Detection struct {
	Best, Median, Worst time.Duration
}

// steps is how finely the outage's start is swept across one interval.
const steps = 600

// Detect computes the detection time of p under l. A run counts as passed
// when it ended before the outage; a run that was in flight fails. The
// median assumes every latency at the middle of its span; best and worst
// take every combination of span ends for the runs that matter.
func Detect(p Policy, l Latencies) Detection {
	if p.Interval <= 0 || p.Failed < 1 || p.Window < p.Failed {
		return Detection{}
	}
	pt := l.point()
	// The runs around the outage whose lag can change the outcome: the
	// Window before it and two after.
	n := p.Window + 3
	best, worst := time.Duration(math.MaxInt64), time.Duration(0)
	for mask := 0; mask < 1<<n; mask++ {
		lags := make([]time.Duration, n)
		for i := range lags {
			lags[i] = pt.Min
			if mask&(1<<i) != 0 {
				lags[i] = pt.Max
			}
		}
		for _, alert := range []time.Duration{l.Alert.Min, l.Alert.Max} {
			for _, d := range sweep(p, lags, alert) {
				best, worst = min(best, d), max(worst, d)
			}
		}
	}
	mid := make([]time.Duration, n)
	for i := range mid {
		mid[i] = pt.Mid()
	}
	ds := sweep(p, mid, l.Alert.Mid())
	slices.Sort(ds)
	return Detection{Best: best, Median: ds[len(ds)/2], Worst: worst}
}

// sweep moves the outage's start across one interval and returns the
// detection time for each position. Run k (0 ≤ k < len(lags)) is scheduled
// at k·Interval; the outage starts during run Window-1's interval, after
// that run's point, so the Window runs before it could all have passed.
func sweep(p Policy, lags []time.Duration, alert time.Duration) []time.Duration {
	last := p.Window - 1 // the last run scheduled before the outage
	from := time.Duration(last)*p.Interval + lags[last]
	out := make([]time.Duration, 0, steps)
	for s := 1; s <= steps; s++ {
		t0 := from + time.Duration(s)*p.Interval/steps
		fire, ok := fireTime(p, lags, t0)
		if !ok {
			continue
		}
		out = append(out, fire+alert-t0)
	}
	return out
}

// fireTime is when the condition first holds after an outage at t0, given
// the runs' lags. Runs past the slice are failures (the outage lasts).
func fireTime(p Policy, lags []time.Duration, t0 time.Duration) (time.Duration, bool) {
	var passed []time.Duration // timestamps of passing points, oldest first
	for k, lag := range lags {
		if at := time.Duration(k)*p.Interval + lag; at < t0 {
			passed = append(passed, at)
		}
	}
	allowed := p.Window - p.Failed // passes that still fire the alert
	switch p.Evaluation {
	case Sliding:
		// The count of passes in (T-W, T] drops to allowed when the
		// (allowed+1)-th newest pass leaves the window.
		w := time.Duration(p.Window) * p.Interval
		if len(passed) <= allowed {
			return t0, true
		}
		return max(t0, passed[len(passed)-1-allowed]+w), true
	case Slotted:
		// Runs from the first whose point is after t0 fail; the Failed-th
		// of them is visible at its slot plus its lag.
		for k, lag := range lags {
			if time.Duration(k)*p.Interval+lag < t0 {
				continue
			}
			j := k + p.Failed - 1
			l := lags[len(lags)-1]
			if j < len(lags) {
				l = lags[j]
			}
			return max(time.Duration(j+1)*p.Interval, time.Duration(j)*p.Interval+l), true
		}
		return 0, false
	case Closed:
		// Periods [m·I, (m+1)·I); evaluate at each period's end over the
		// last Window periods.
		good := map[int64]bool{}
		for _, at := range passed {
			good[int64(at/p.Interval)] = true
		}
		for m := int64(t0 / p.Interval); m < int64(len(lags)+p.Window+2); m++ {
			bad := 0
			for j := m - int64(p.Window) + 1; j <= m; j++ {
				if !good[j] {
					bad++
				}
			}
			if bad >= p.Failed {
				return time.Duration(m+1) * p.Interval, true
			}
		}
	}
	return 0, false
}
