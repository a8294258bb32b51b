package scenarios

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
)

// A submit whose reply was lost after the server took the job: the run
// goes on with the job its label finds, never submits again, and says so.
func TestLostSubmitReplyGoesOnWithTheLabelledJob(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.putLost = fmt.Errorf("put job: connection reset by peer: %w (%w)", ErrUnavailable, ErrReplyLost)
	for _, s := range []Scenario{Submit, SubmitAndDescribe, SubmitAndGet} {
		res := newRunner(f, nil).Run(t.Context(), s)
		if !res.Success || !res.SubmitReplyLost || res.JobID == "" || res.JobState != "Completed" {
			t.Errorf("%s: success %v reply lost %v job %q state %q (%s): want a pass on the job the label found",
				s.Name, res.Success, res.SubmitReplyLost, res.JobID, res.JobState, res.Error)
		}
	}
	if got := f.calls["Put"]; got != 3 {
		t.Errorf("%d submits for 3 runs: the submit was repeated", got)
	}
}

// A lost reply whose job the label does not find keeps the submit's error.
func TestLostSubmitReplyWithoutAJobFails(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.failErr["Put"] = fmt.Errorf("put job: EOF: %w (%w)", ErrUnavailable, ErrReplyLost)
	res := newRunner(f, nil).Run(t.Context(), Submit)
	if res.Success || res.Class != ErrUnavailable || res.SubmitReplyLost {
		t.Errorf("success %v class %q reply lost %v: want unavailable", res.Success, res.Class, res.SubmitReplyLost)
	}
}

// A refused submit was never sent: no label search follows it.
func TestRefusedSubmitIsNotSearchedFor(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.failErr["Put"] = fmt.Errorf("put job: connection refused: %w (%w)", ErrUnavailable, ErrNotSent)
	res := newRunner(f, nil).Run(t.Context(), Submit)
	if res.Class != ErrUnavailable || f.calls["List"] != 0 {
		t.Errorf("class %q, %d lists: want unavailable and no list", res.Class, f.calls["List"])
	}
}

// A run that times out names where its job stood: each partition's state
// and node, in the error and in node_ids.
func TestTimeoutNamesThePartitionsAndTheirNodes(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.polls = 1 << 20 // runs for ever
	r := newRunner(f, nil)
	r.Timeout = 300 * time.Millisecond
	res := r.Run(t.Context(), SubmitWithConcurrency)
	if res.Class != ErrTimeout || !res.Stopped || res.JobState != "Stopped" {
		t.Fatalf("class %q stopped %v state %q: want a timeout, the job stopped", res.Class, res.Stopped, res.JobState)
	}
	for i := range 3 {
		want := fmt.Sprintf("partition %d Running on %q", i, fmt.Sprintf("node-%d", i))
		if !strings.Contains(res.Error, want) {
			t.Errorf("error %q does not say %q", res.Error, want)
		}
		if !slices.Contains(res.NodeIDs, fmt.Sprintf("node-%d", i)) {
			t.Errorf("node_ids %v lack node-%d", res.NodeIDs, i)
		}
	}
	if res.Duration > r.Timeout+time.Second || res.Cleanup <= 0 {
		t.Errorf("duration %s cleanup %s", res.Duration, res.Cleanup)
	}
}

// A stop whose reply was lost is checked once more: it landed, so the job
// counts as stopped and the line says it ended Stopped.
func TestStopThatLandedIsAStop(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.polls = 1 << 20
	f.stopLost = fmt.Errorf("stop job: EOF: %w", ErrUnavailable)
	r := newRunner(f, nil)
	r.Timeout = 200 * time.Millisecond
	res := r.Run(t.Context(), Submit)
	if res.Class != ErrTimeout || !res.Stopped || res.JobState != models.JobStateTypeStopped.String() || strings.Contains(res.Error, "stopping job") {
		t.Errorf("class %q stopped %v state %q error %q: want a timeout whose job was stopped", res.Class, res.Stopped, res.JobState, res.Error)
	}
}

// A stop that failed leaves a job still running: the line says so.
func TestFailedStopSaysHowTheJobIs(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.polls = 1 << 20
	f.failErr["Stop"] = fmt.Errorf("stop job: HTTP 503: %w", ErrServer)
	r := newRunner(f, nil)
	r.Timeout = 200 * time.Millisecond
	res := r.Run(t.Context(), Submit)
	if res.Stopped || res.JobState != "Running" || !strings.Contains(res.Error, `the job is "Running"`) {
		t.Errorf("stopped %v state %q error %q: want the job's state named", res.Stopped, res.JobState, res.Error)
	}
}

// Cleanup gets the time the task has left after an ordinary failure (a
// slow stop still lands), and only stopBudget after an interrupt.
func TestCleanupTime(t *testing.T) {
	t.Parallel()
	t.Run("after-a-timeout", func(t *testing.T) {
		t.Parallel()
		f := newFake()
		f.polls = 1 << 20
		f.stopDelay = 1500 * time.Millisecond // past the 600 ms interrupt budget
		r := newRunner(f, nil)
		r.Timeout = 200 * time.Millisecond
		res := r.Run(t.Context(), Submit)
		if !res.Stopped || res.Cleanup < f.stopDelay {
			t.Errorf("stopped %v after %s (%s): want the slow stop to land", res.Stopped, res.Cleanup, res.Error)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		r := newRunner(newFake(), nil)
		start := time.Now()
		ctx, cancel := r.cleanupContext(t.Context(), start)
		defer cancel()
		if d, ok := ctx.Deadline(); !ok || !d.Equal(start.Add(r.Timeout+CleanupGrace)) {
			t.Errorf("cleanup deadline %s (%v), want the run's deadline + %s", d, ok, CleanupGrace)
		}
	})
	t.Run("interrupted-during-cleanup", func(t *testing.T) {
		t.Parallel()
		f := newFake()
		f.polls = 1 << 20
		f.stopDelay = time.Hour
		ctx, cancel := context.WithCancel(t.Context())
		r := newRunner(f, nil)
		r.Timeout = 200 * time.Millisecond
		time.AfterFunc(500*time.Millisecond, cancel) // SIGTERM while the stop hangs
		start := time.Now()
		res := r.Run(ctx, Submit)
		if res.Stopped || time.Since(start) > 500*time.Millisecond+stopBudget+2*time.Second {
			t.Errorf("stopped %v after %s: an interrupt must cut the cleanup short", res.Stopped, time.Since(start))
		}
	})
	t.Run("after-an-interrupt", func(t *testing.T) {
		t.Parallel()
		f := newFake()
		f.polls = 1 << 20
		f.stopDelay = time.Hour
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		r := newRunner(f, nil)
		start := time.Now()
		res := r.Run(ctx, Submit)
		if res.Class != ErrCanary || time.Since(start) > 100*time.Millisecond+stopBudget+2*time.Second {
			t.Errorf("class %q after %s: want canary within the stop budget", res.Class, time.Since(start))
		}
	})
}

// Polls are spaced for a remote API without slowing a short job down:
// a 10 s job at 100 ms round trip takes at most 15 GETs.
func TestPollSpacing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		job, rtt time.Duration
		max      int
	}{
		{10 * time.Second, 100 * time.Millisecond, 15},
		{2 * time.Second, 100 * time.Millisecond, 10},
		{60 * time.Second, 100 * time.Millisecond, 32},
	} {
		if gets := Polls(tt.job, tt.rtt); gets > tt.max {
			t.Errorf("a %s job at %s round trip: %d GETs, want at most %d", tt.job, tt.rtt, gets, tt.max)
		}
	}
	if d := pollDelay(200 * time.Millisecond); d > 30*time.Millisecond {
		t.Errorf("at 200 ms a poll waits %s: too slow for a short job on loopback", d)
	}
}
