package metrics_test

import (
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// TestCause: the code is class code times 100 plus phase code, and the
// codes are the lists' positions plus one, pinned here: a code once
// written must keep naming the same class and phase.
func TestCause(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		class scenarios.Class
		phase string
		want  int64
	}{
		{scenarios.ErrUnavailable, scenarios.PhaseConnect, 101},
		{scenarios.ErrTimeout, "wait", 204},
		{scenarios.ErrAuth, "list", 402},
		{scenarios.ErrPublisher, "download", 809},
		{scenarios.ErrConcurrency, "nodes", 1110},
		{scenarios.ErrProtocol, "", 700},
		{scenarios.ErrServer, metrics.NoPhase, 600},
		{scenarios.Class("new"), "wait", 4},
	} {
		if got := metrics.Cause(tc.class, tc.phase); got != tc.want {
			t.Errorf("Cause(%q, %q) = %d, want %d", tc.class, tc.phase, got, tc.want)
		}
	}
	// Every code, pinned: a code once written must keep its meaning.
	classes := map[scenarios.Class]int64{
		scenarios.ErrUnavailable: 1, scenarios.ErrTimeout: 2, scenarios.ErrCertificate: 3, scenarios.ErrAuth: 4,
		scenarios.ErrBadRequest: 5, scenarios.ErrServer: 6, scenarios.ErrProtocol: 7, scenarios.ErrPublisher: 8,
		scenarios.ErrJobFailed: 9, scenarios.ErrOutputMismatch: 10, scenarios.ErrConcurrency: 11, scenarios.ErrCanary: 12,
	}
	for c, want := range classes {
		if got := metrics.ClassCode(c); got != want {
			t.Errorf("ClassCode(%s) = %d, want %d", c, got, want)
		}
	}
	if len(scenarios.Classes) != len(classes) {
		t.Errorf("%d classes, %d pinned: pin the new class's code here", len(scenarios.Classes), len(classes))
	}
	phases := []string{"connect", "list", "submit", "wait", "describe", "executions", "history", "results", "download", "nodes"}
	for i, ph := range phases {
		if got := metrics.PhaseCode(ph); got != int64(i+1) {
			t.Errorf("PhaseCode(%s) = %d, want %d", ph, got, i+1)
		}
	}
	if len(metrics.CausePhases) != len(phases) {
		t.Errorf("%d phases, %d pinned: pin the new phase's code here", len(metrics.CausePhases), len(phases))
	}
	seen := map[int64]string{}
	for _, c := range scenarios.Classes {
		for _, ph := range append([]string{""}, metrics.CausePhases...) {
			code := metrics.Cause(c, ph)
			if prev, dup := seen[code]; dup {
				t.Errorf("%s in %q and %s share code %d", c, ph, prev, code)
			}
			seen[code] = string(c) + " in " + ph
			if code/100 != metrics.ClassCode(c) || code%100 != metrics.PhaseCode(ph) {
				t.Errorf("%d does not split into %s's code and %q's", code, c, ph)
			}
		}
	}
	if len(metrics.CausePhases) >= 100 {
		t.Errorf("%d phases: a phase code must stay below 100", len(metrics.CausePhases))
	}
}

// TestCausePhasesCoverTheRegistry: every phase a scenario may fail in has
// a code.
func TestCausePhasesCoverTheRegistry(t *testing.T) {
	t.Parallel()
	for _, s := range scenarios.All() {
		for _, ph := range s.AllPhases() {
			if metrics.PhaseCode(ph) == 0 {
				t.Errorf("%s: phase %q has no code: append it to metrics.CausePhases", s.Name, ph)
			}
		}
	}
}

// TestFailureCausePoint: a failed run of a network class writes its cause
// code; a passing run and a canary-class run write none.
func TestFailureCausePoint(t *testing.T) {
	t.Parallel()
	s, _ := scenarios.Lookup("submit")
	at := time.Date(2026, 12, 2, 10, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		ok    bool
		class scenarios.Class
		phase string
		want  []int64
	}{
		{"timeout in wait", false, scenarios.ErrTimeout, "wait", []int64{204}},
		{"outside any phase", false, scenarios.ErrProtocol, "", []int64{700}},
		{"canary class", false, scenarios.ErrCanary, scenarios.PhaseConnect, nil},
		{"passed", true, "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := result(s, tc.ok, at)
			if !tc.ok {
				r.Class, r.FailedPhase = tc.class, tc.phase
			}
			var got []int64
			for _, p := range metrics.Points(r, at) {
				if p.Metric == metrics.FailureCause {
					got = append(got, p.Int64)
				}
			}
			if len(got) != len(tc.want) || (len(got) == 1 && got[0] != tc.want[0]) {
				t.Errorf("failure_cause points %v, want %v", got, tc.want)
			}
		})
	}
}
