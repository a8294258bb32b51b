package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/logging"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func TestSlot(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		t        string
		interval time.Duration
		want     string
	}{
		{"2026-11-03T10:07:42.5Z", time.Minute, "2026-11-03T10:07:00Z"},
		{"2026-11-03T10:07:00Z", time.Minute, "2026-11-03T10:07:00Z"},
		{"2026-11-03T10:07:42Z", 5 * time.Minute, "2026-11-03T10:05:00Z"},
		{"2026-11-03T10:04:59.999Z", 5 * time.Minute, "2026-11-03T10:00:00Z"},
		{"2026-11-03T10:59:59Z", 15 * time.Minute, "2026-11-03T10:45:00Z"},
		// Another zone: the slots are UTC clock minutes, as cron's (time_zone Etc/UTC).
		{"2026-11-03T15:37:10+05:30", 30 * time.Minute, "2026-11-03T10:00:00Z"},
		{"1969-12-31T23:59:30Z", time.Minute, "1969-12-31T23:59:00Z"},
	}
	for _, tt := range tests {
		if got := metrics.Slot(at(tt.t), tt.interval); !got.Equal(at(tt.want)) {
			t.Errorf("Slot(%s, %s) = %s, want %s", tt.t, tt.interval, got, tt.want)
		}
	}
	if now := time.Now(); !metrics.Slot(now, 0).Equal(now) {
		t.Error("without an interval the time is left alone")
	}
}

func TestStamp(t *testing.T) {
	t.Parallel()
	s, _ := scenarios.Lookup("submit")
	end := time.Date(2026, 11, 3, 10, 8, 20, 0, time.UTC)
	r := result(s, true, end) // 1.5 s long
	if got := metrics.Stamp(r, 0); !got.Equal(end) {
		t.Errorf("no interval: stamped %s, want the end %s", got, end)
	}
	if got, want := metrics.Stamp(r, time.Minute), time.Date(2026, 11, 3, 10, 8, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("1m interval: stamped %s, want the slot %s", got, want)
	}
	// A run that starts in one slot and ends in the next stays on its start's slot.
	r.Start, r.Duration = time.Date(2026, 11, 3, 10, 8, 50, 0, time.UTC), 40*time.Second
	if got, want := metrics.Stamp(r, time.Minute), time.Date(2026, 11, 3, 10, 8, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("run across slots: stamped %s, want %s", got, want)
	}
}

func slotSink(t *testing.T, m *fakegcp.Monitoring, log *slog.Logger, interval time.Duration) *metrics.GCP {
	t.Helper()
	g := newSink(t, m, log)
	g.Interval = interval
	return g
}

func runAt(s scenarios.Scenario, ok bool, start time.Time, d time.Duration) scenarios.Result {
	r := result(s, ok, start.Add(d))
	r.Start, r.Duration = start, d
	return r
}

// TestGCPStampsOnTheSlot: every series of the run carries its slot's start,
// and runs whose end times jitter across slots write one point per slot.
func TestGCPStampsOnTheSlot(t *testing.T) {
	t.Parallel()
	m := startFake(t)
	g := slotSink(t, m, nil, time.Minute)
	s, _ := scenarios.Lookup("submitAndGet")
	slot := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Minute)
	// Start delays of 5 s and 50 s, lengths of 40 s and 1 s: the second run
	// ends 11 s before the first would have in end-time stamping.
	for i, run := range []struct{ delay, d time.Duration }{{5 * time.Second, 40 * time.Second}, {50 * time.Second, time.Second}, {20 * time.Second, 12 * time.Second}} {
		r := runAt(s, i != 1, slot.Add(time.Duration(i)*time.Minute+run.delay), run.d)
		if err := g.Record(context.Background(), r); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	stamps := map[string][]time.Time{}
	for _, w := range m.Accepted() {
		name := strings.TrimPrefix(w.Series.GetMetric().GetType(), metrics.Prefix)
		iv := w.Series.GetPoints()[0].GetInterval()
		if !iv.GetStartTime().AsTime().Equal(iv.GetEndTime().AsTime()) {
			t.Errorf("%s: a gauge's start and end differ", name)
		}
		stamps[name] = append(stamps[name], iv.GetEndTime().AsTime())
	}
	for _, name := range []string{metrics.Success, metrics.Duration} {
		got := stamps[name]
		if len(got) != 3 {
			t.Fatalf("%s: %d points, want 3", name, len(got))
		}
		for i, at := range got {
			if want := slot.Add(time.Duration(i) * time.Minute); !at.Equal(want) {
				t.Errorf("%s point %d stamped %s, want its slot %s", name, i, at, want)
			}
		}
	}
	if got := stamps[metrics.Failure]; len(got) != 1 || !got[0].Equal(slot.Add(time.Minute)) {
		t.Errorf("failure stamped %v, want the second slot", got)
	}
}

// TestGCPLateRunIsNotInTheWindow: a run that claims a slot another run
// already recorded (started more than an interval late), or that writes an
// older slot after a newer one was recorded (overtaken), is refused by
// Monitoring's in-order rule; the sink logs it and reports no recording
// failure, and the slot keeps the one run it had.
func TestGCPLateRunIsNotInTheWindow(t *testing.T) {
	t.Parallel()
	s, _ := scenarios.Lookup("list")
	slot := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Minute)
	tests := []struct {
		name   string
		first  scenarios.Result
		second scenarios.Result
	}{
		{"second run in one slot", runAt(s, true, slot.Add(3*time.Second), time.Second), runAt(s, false, slot.Add(10*time.Second), 2*time.Second)},
		{"overtaken by the next slot", runAt(s, true, slot.Add(time.Minute+2*time.Second), time.Second), runAt(s, false, slot.Add(20*time.Second), 45*time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := startFake(t)
			var buf bytes.Buffer
			g := slotSink(t, m, logging.New(&buf), time.Minute)
			if err := g.Record(context.Background(), tt.first); err != nil {
				t.Fatal(err)
			}
			if err := g.Record(context.Background(), tt.second); err != nil {
				t.Fatalf("a run refused only for its slot is not a recording failure (exit 3): %v", err)
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line: %v: %q", err, buf.String())
			}
			if !strings.Contains(line["message"].(string), "not in the alert window") || line["severity"] != "WARNING" || line["scenario"] != "list" {
				t.Errorf("log line %v", line)
			}
			success := 0
			for _, w := range m.Accepted() {
				if strings.HasSuffix(w.Series.GetMetric().GetType(), "/"+metrics.Success) {
					success++
					if v := w.Series.GetPoints()[0].GetValue().GetInt64Value(); v != 1 {
						t.Errorf("the late failed run's success point landed (%d)", v)
					}
				}
			}
			if success != 1 {
				t.Errorf("%d success points, want the first run's only", success)
			}
		})
	}
}

// TestGCPOtherRefusalsStillFail: only the in-order refusals mean "slot
// taken"; a point refused for another reason is a recording failure.
func TestGCPOtherRefusalsStillFail(t *testing.T) {
	t.Parallel()
	m := startFake(t)
	g := slotSink(t, m, nil, time.Minute)
	s, _ := scenarios.Lookup("list")
	old := time.Now().Add(-26 * time.Hour)
	if err := g.Record(context.Background(), runAt(s, true, old, time.Second)); err == nil || !strings.Contains(err.Error(), fakegcp.MsgTooOld) {
		t.Errorf("a point over 25 h old: %v, want the age error", err)
	}
}

func TestCanaryClassWritesNoSuccess(t *testing.T) {
	t.Parallel()
	s, _ := scenarios.Lookup("submit")
	r := result(s, false, time.Now())
	r.Class = scenarios.ErrCanary
	for _, p := range metrics.Points(r, time.Now()) {
		if p.Metric == metrics.Success || p.Metric == metrics.FailureCause {
			t.Errorf("a canary-class run wrote %s=%d: it is neither a pass nor a network failure", p.Metric, p.Int64)
		}
	}
	var classes []string
	for _, p := range metrics.Points(r, time.Now()) {
		if p.Metric == metrics.Failure {
			classes = append(classes, p.Labels[metrics.LabelErrorClass])
		}
	}
	if len(classes) != 1 || classes[0] != "canary" {
		t.Errorf("failure classes %v, want [canary]", classes)
	}
}
