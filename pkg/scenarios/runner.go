package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// stopBudget bounds the stop of a failed run's job, so a run still ends
// within a second of its deadline when the API hangs.
const stopBudget = 600 * time.Millisecond

// Runner runs scenarios and owns their outcome: the deadline, total and
// per-phase timings, the error class, stopping the submitted job on failure
// and the one log line per run.
type Runner struct {
	Jobs     Jobs
	Fetcher  Fetcher
	Spec     JobSpec
	Env      string
	Timeout  time.Duration // whole-run deadline
	Log      *slog.Logger  // gets the result line; nil: no line
	Progress func(string)  // notes on long waits; nil: none
	Secrets  []string      // values never to appear in an error text
}

// Run runs s once and returns its result. It never panics: a scenario that
// panics fails as ErrCanary.
func (r *Runner) Run(ctx context.Context, s Scenario) Result {
	res := Result{Scenario: s.Name, Env: r.Env, Start: time.Now()}
	p := &Probe{
		Jobs:     r.Jobs,
		Fetcher:  r.Fetcher,
		Spec:     r.Spec,
		scenario: s.Name,
		env:      r.Env,
		deadline: r.Timeout,
		progress: r.Progress,
		phases:   make([]Phase, len(s.Phases)),
	}
	for i, name := range s.Phases {
		p.phases[i].Name = name
	}

	runCtx, cancel := context.WithTimeout(ctx, r.Timeout)
	err := safeRun(runCtx, s, p)
	deadlinePassed := errors.Is(runCtx.Err(), context.DeadlineExceeded)
	cancel()

	if err != nil && p.jobID != "" && !p.terminal {
		switch stopErr := r.stop(ctx, p.jobID, s.Name); {
		case stopErr == nil:
			res.Stopped = true
		case !errors.Is(stopErr, errAlreadyEnded):
			err = fmt.Errorf("%w (and stopping job %s failed: %v)", err, p.jobID, stopErr)
		}
	}

	res.Duration = time.Since(res.Start)
	res.Phases = p.phases
	res.JobID = p.jobID
	res.ExtraExecutions = p.extraExecutions
	res.Success = err == nil
	if err != nil {
		res.Class = Classify(err)
		if deadlinePassed && ctx.Err() == nil {
			res.Class = ErrTimeout
			if !errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("run deadline of %s passed: %w", r.Timeout, err)
			}
		}
		res.Error = clipMiddle(r.redact(err.Error()), maxErrorText)
	}
	r.log(res)
	return res
}

func safeRun(ctx context.Context, s Scenario, p *Probe) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("scenario %s panicked: %v\n%s: %w", s.Name, v, debug.Stack(), ErrCanary)
		}
	}()
	if s.Run == nil {
		return fmt.Errorf("scenario %s has no Run: %w", s.Name, ErrCanary)
	}
	return s.Run(ctx, p)
}

// stop stops a job the failed run left running. It outlives the run's
// deadline on purpose, bounded by stopBudget.
func (r *Runner) stop(parent context.Context, jobID, scenario string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), stopBudget)
	defer cancel()
	_, err := r.Jobs.Stop(ctx, &apimodels.StopJobRequest{
		JobID:  jobID,
		Reason: "bacalhau-canary: " + scenario + " run failed or timed out",
	})
	if err == nil {
		return nil
	}
	// A job that ended while the canary was not looking (its own task
	// timeout, or it completed during a hung poll) cannot be stopped, and
	// needs not be: only a job still running is a leak.
	if resp, getErr := r.Jobs.Get(ctx, &apimodels.GetJobRequest{JobIDOrName: jobID}); getErr == nil &&
		resp != nil && resp.Job != nil && resp.Job.State.StateType.IsTerminal() {
		return errAlreadyEnded
	}
	return err
}

// errAlreadyEnded says the failed run's job had ended by itself.
var errAlreadyEnded = errors.New("job already ended")

// maxErrorText bounds a result's error text: the client quotes a server's
// reply in it whole, and Cloud Logging drops entries over 256 KB.
const maxErrorText = 4 << 10

// clipMiddle keeps the start and the end of s (where a failed stop is
// noted) within max bytes.
func clipMiddle(s string, max int) string {
	if len(s) <= max {
		return s
	}
	note := fmt.Sprintf(" …[%d bytes cut]… ", len(s)-max)
	head, tail := max*3/4, max/4
	return strings.ToValidUTF8(s[:head]+note+s[len(s)-tail:], "")
}

func (r *Runner) redact(s string) string {
	for _, secret := range r.Secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return s
}

func (r *Runner) log(res Result) {
	if r.Log == nil {
		return
	}
	level, msg := slog.LevelInfo, "scenario passed"
	if !res.Success {
		level, msg = slog.LevelError, "scenario failed"
	}
	r.Log.LogAttrs(context.Background(), level, msg, res.LogAttrs()...)
}
