package metrics

import (
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Stamping on schedule slots.
//
// A scheduled scenario runs once per slot: Cloud Scheduler fires its cron
// (`*/N * * * *`, N dividing 60, UTC) at the slot's start, and Cloud Run
// starts the job some seconds later. Cloud Scheduler passes no slot to a
// Cloud Run job run, so the slot is derived from the run's start and the
// interval (CANARY_SCHEDULE_INTERVAL, set by Terraform from the same value
// as the cron): the slot is the newest multiple of the interval since the
// Unix epoch at or before the start. The tolerance is one interval: a run
// whose start is delayed by less than an interval lands on its own slot; a
// run delayed by more lands on the slot it started in.
//
// Every point of a run is stamped on the slot's start, so a rolling window
// of M intervals always covers exactly M slots, however the runs' start and
// end times jitter, and holds at most one run per slot: the second run to
// claim a slot (a run started more than an interval late), or a run that
// writes after a newer slot's run wrote (a long run overtaken), is refused
// by Cloud Monitoring's in-order rule. The sink treats exactly that refusal
// as "not in the window" (logged, not a recording failure), so such a run
// neither exits 3 nor lands in a window it does not belong to.
//
// Monitoring's write rules hold by construction: points of one series are an
// interval (≥ 1 min) apart and in order, in the past (never ahead), and a
// run is at most CANARY_TIMEOUT plus its start delay older than its slot.

// epoch is the origin of the slots: cron's minutes are UTC clock minutes.
var epoch = time.Unix(0, 0).UTC()

// Slot is the start of the interval-long slot that holds t.
func Slot(t time.Time, interval time.Duration) time.Time {
	if interval <= 0 {
		return t
	}
	d := t.Sub(epoch)
	s := d / interval * interval
	if d < 0 && s != d {
		s -= interval
	}
	return epoch.Add(s)
}

// Stamp is the time a run's points carry: with an interval, the start of the
// slot the run started in; without one (a run by hand, the local runner),
// the end of the run.
func Stamp(r scenarios.Result, interval time.Duration) time.Time {
	if interval <= 0 {
		return r.Start.Add(r.Duration)
	}
	return Slot(r.Start, interval)
}

// slotTaken reports whether every per-series error of a refused write's
// summary says the series already holds this or a newer point: the run's
// slot was taken by another run, or a newer slot was recorded first. Those
// are Cloud Monitoring's in-order and sampling-period refusals.
func slotTaken(s *monitoringpb.CreateTimeSeriesSummary) bool {
	if s == nil || len(s.GetErrors()) == 0 {
		return false
	}
	for _, e := range s.GetErrors() {
		m := e.GetStatus().GetMessage()
		if !strings.Contains(m, "Points must be written in order") && !strings.Contains(m, "more frequently than the maximum sampling period") {
			return false
		}
	}
	return true
}
