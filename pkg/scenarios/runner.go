package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// Cleanup (describing and stopping a failed run's job) may outlive the
// run's deadline: by CleanupGrace past it after an ordinary failure, so a
// slow API still gets its stop, and by stopBudget only after an interrupt
// (SIGTERM: Cloud Run kills 10 s later). CleanupGrace keeps the task
// within its Cloud Run timeout (CANARY_TIMEOUT + 60 s, terraform/jobs.tf):
// 20 s of cleanup, then at most 30 s of recording (pkg/metrics).
const (
	CleanupGrace = 20 * time.Second
	stopBudget   = 600 * time.Millisecond
)

// PhaseConnect is the phase every run starts with: the runner's Connect
// step (the API key from Secret Manager, the client).
const PhaseConnect = "connect"

// Conn is what a run's Connect step gives it: the API, the result fetcher,
// the server's version as its replies said it (nil: unknown) and the
// secret it read, if any (kept out of the run's text).
type Conn struct {
	Jobs    Jobs
	Fetcher Fetcher
	Version func() string
	Secret  string
}

// Runner runs scenarios and owns their outcome: the deadline, total and
// per-phase timings (the connect phase first), the error class, stopping
// the submitted job on failure and the one log line per run.
type Runner struct {
	// Connect builds the run's API client, within the run's deadline and
	// timed as the connect phase.
	Connect  func(ctx context.Context) (Conn, error)
	Spec     JobSpec
	Env      string
	Timeout  time.Duration // whole-run deadline
	Log      *slog.Logger  // gets the result line; nil: no line
	Progress func(string)  // notes on long waits; nil: none
	Secrets  []string      // values never to appear in an error text
	// Endpoint, CanaryVersion and CanaryImage go into the result as they
	// are: where the API is and which canary ran.
	Endpoint      string
	CanaryVersion string
	CanaryImage   string
}

// Run runs s once and returns its result. It never panics: a panic in the
// scenario or in the stop of its job fails the run as ErrCanary (the Jobs
// layer turns a reply that makes the client panic into ErrProtocol), and
// the result line is logged in every case.
func (r *Runner) Run(ctx context.Context, s Scenario) Result {
	res := &Result{Scenario: s.Name, Env: r.Env, Start: time.Now(), RunID: newRunID(), ServerVersion: UnknownVersion,
		Endpoint: r.Endpoint, CanaryVersion: r.CanaryVersion, CanaryImage: r.CanaryImage}
	for _, name := range s.AllPhases() {
		res.Phases = append(res.Phases, Phase{Name: name})
	}
	p := &Probe{Spec: r.Spec, res: res, deadline: r.Timeout, progress: r.Progress}
	var conn Conn
	retries := &retryNote{}
	runCtx, cancel := context.WithTimeout(context.WithValue(ctx, retryNoteKey{}, retries), r.Timeout)
	err := safely(s.Name+" run", func() error {
		if err := p.Phase(PhaseConnect, func() (err error) {
			conn, err = r.Connect(runCtx)
			if err == nil && (conn.Jobs == nil || conn.Fetcher == nil) {
				err = fmt.Errorf("connect gave no API client: %w", ErrCanary)
			}
			p.Jobs, p.Fetcher = conn.Jobs, conn.Fetcher
			return err
		}); err != nil {
			return err
		}
		return s.Run(runCtx, p)
	})
	deadlinePassed := errors.Is(runCtx.Err(), context.DeadlineExceeded)
	cancel()
	res.Duration = time.Since(res.Start)
	redactor := NewRedactor(append(slices.Clip(r.Secrets), conn.Secret)...)
	res.Success = err == nil
	if err != nil {
		err = r.cleanup(ctx, p, err)
		res.Cleanup = time.Since(res.Start) - res.Duration
		res.Class = Classify(err)
		switch {
		case deadlinePassed && ctx.Err() == nil && res.FailedPhase != PhaseConnect:
			// (A failed connect is the canary's: its key read has a
			// budget of its own, below the deadline.)
			res.Class = ErrTimeout
			if !errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("run deadline of %s passed: %w", r.Timeout, err)
			}
		case ctx.Err() != nil:
			// Interrupted (SIGTERM, Ctrl-C): whatever the step in
			// flight made of it, the network is not to blame.
			res.Class = ErrCanary
			err = fmt.Errorf("run interrupted: %w", err)
		}
		res.Error = clipMiddle(redactor.Redact(err.Error()), maxErrorText)
	} else {
		res.FailedPhase = ""
	}
	res.Retries, res.RetryFaults = retries.read()
	res.JobID = redactor.Redact(res.JobID)
	if conn.Version != nil {
		res.ServerVersion = SanitizeVersion(conn.Version())
	}
	if r.Log != nil {
		level, msg := slog.LevelInfo, "scenario passed"
		if !res.Success {
			level, msg = slog.LevelError, "scenario failed"
		}
		r.Log.LogAttrs(context.Background(), level, msg, res.LogAttrs()...)
	}
	return *res
}

// cleanup stops what a failed run left running and says where its job
// stood; it returns the run's error with what it found noted.
func (r *Runner) cleanup(ctx context.Context, p *Probe, err error) error {
	res := p.res
	cctx, cancel := r.cleanupContext(ctx, res.Start)
	defer cancel()
	if res.JobID != "" && ctx.Err() == nil && (!p.terminal || errors.Is(err, ErrJobFailed) || errors.Is(err, ErrTimeout)) {
		err = withWhere(cctx, p, err)
	}
	switch {
	case res.JobID != "" && !p.terminal:
		if stopErr := safely("stopping job", func() error { return stop(cctx, ctx, p.Jobs, res) }); stopErr != nil {
			res.JobLeftRunning = true
			state := "in an unknown state"
			if res.JobState != "" {
				state = text.Quote(res.JobState, 40)
			}
			err = fmt.Errorf("%w (and stopping job %s failed: %v; the job is %s)", err, res.JobID, stopErr, state)
		}
	case res.JobID == "" && p.submitTried && !errors.Is(err, ErrNotSent):
		// The submit failed or its reply was lost: the job may
		// exist all the same. Find it by the run's label.
		stopErr := safely("stopping job", func() error { return stopByRun(cctx, p.Jobs, res) })
		switch {
		case stopErr != nil:
			res.JobLeftRunning = true
			err = fmt.Errorf("%w (and finding the run's job by label %s=%s or stopping it failed: %v; it may be left running)", err, LabelRun, res.RunID, stopErr)
		case res.JobLeftRunning:
			err = fmt.Errorf("%w (and the run's job, found by label %s=%s, has an ID the canary does not use: left running)", err, LabelRun, res.RunID)
		}
	}
	return err
}

// safely calls fn and turns a panic into an ErrCanary error naming the
// frame that panicked (no stack: the error text is a log field).
func safely(what string, fn func() error) (err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		site, pcs := "", make([]uintptr, 32)
		frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
		for more := true; more && site == ""; {
			var f runtime.Frame
			f, more = frames.Next()
			if f.Function != "" && !strings.HasPrefix(f.Function, "runtime.") {
				site = fmt.Sprintf(" at %s (%s:%d)", f.Function, path.Base(f.File), f.Line)
			}
		}
		err = fmt.Errorf("%s panicked: %s%s: %w", what, text.Quote(fmt.Sprint(v), 300), site, ErrCanary)
	}()
	return fn()
}

// cleanupContext bounds a failed run's cleanup: CleanupGrace past the
// run's deadline, and stopBudget from the interrupt once the run is
// interrupted (before or during the cleanup). It outlives the run's own
// context on purpose.
func (r *Runner) cleanupContext(parent context.Context, start time.Time) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(parent)
	if parent.Err() != nil {
		return context.WithTimeout(base, stopBudget)
	}
	ctx, cancel := context.WithDeadline(base, start.Add(r.Timeout+CleanupGrace))
	stopWatch := context.AfterFunc(parent, func() { time.AfterFunc(stopBudget, cancel) })
	return ctx, func() { stopWatch(); cancel() }
}

// stop stops the job a failed run left running and notes in res the job's
// state when it knows it and whether it stopped it. A stop that failed (or
// timed out) is checked once more with a get, in a moment of its own when
// the stop used up the cleanup's time: a stop that landed although its
// reply did not is a stop, and a job that ended while the canary was not
// looking (its own task timeout, or it completed during a hung poll) needs
// none. parent is the run's own: once it is interrupted, no new moment is
// given.
func stop(ctx, parent context.Context, jobs Jobs, res *Result) error {
	if err := checkJobID(res.JobID); err != nil {
		return err
	}
	_, err := jobs.Stop(ctx, &apimodels.StopJobRequest{
		JobID:  res.JobID,
		Reason: "bacalhau-canary: " + res.Scenario + " run failed or timed out",
	})
	if err == nil {
		res.JobState, res.Stopped = models.JobStateTypeStopped.String(), true
		return nil
	}
	check := ctx
	if ctx.Err() != nil && parent.Err() == nil {
		check = context.WithoutCancel(ctx)
	}
	check, cancel := context.WithTimeout(check, recheckBudget)
	defer cancel()
	resp, getErr := jobs.Get(check, &apimodels.GetJobRequest{JobIDOrName: res.JobID})
	if getErr != nil || resp == nil || resp.Job == nil || resp.Job.ID != res.JobID {
		return err
	}
	state := resp.Job.State.StateType
	res.JobState, res.Stopped = state.String(), state == models.JobStateTypeStopped
	if state.IsTerminal() {
		return nil
	}
	return err
}

// recheckBudget bounds the one check of a job after its stop timed out.
const recheckBudget = 2 * time.Second

// stopByRun finds the job of a run whose submit failed or lost its reply,
// by the run's label, and stops it when it is still running. It notes in
// res the job's ID, whether it stopped it, and whether a job of the run is
// left running because its ID breaks checkJobID (it never goes into a
// URL). Only called after a failed submit: a label-filtered list reads the
// whole job store on v1.7 and v1.9.
func stopByRun(ctx context.Context, jobs Jobs, res *Result) error {
	js, err := runJobs(ctx, jobs, res.RunID)
	if err != nil {
		return err
	}
	for _, j := range js {
		running := !j.State.StateType.IsTerminal()
		if checkJobID(j.ID) != nil {
			res.JobLeftRunning = res.JobLeftRunning || running
			continue
		}
		res.JobID = j.ID
		if !running {
			continue
		}
		if _, err := jobs.Stop(ctx, &apimodels.StopJobRequest{
			JobID:  j.ID,
			Reason: "bacalhau-canary: " + res.Scenario + " run failed at its submit",
		}); err != nil {
			return fmt.Errorf("stopping job %s: %w", j.ID, err)
		}
		res.Stopped = true
	}
	return nil
}

// maxJobIDText bounds a job ID in the result: Bacalhau's are ~40 bytes.
const maxJobIDText = 128

// maxErrorText bounds a result's error text: the client quotes a server's
// reply in it whole, and Cloud Logging drops entries over 256 KB.
const maxErrorText = 4 << 10

// clipMiddle keeps the start and the end of s (where a failed stop is
// noted) within max bytes.
func clipMiddle(s string, max int) string {
	if len(s) <= max {
		return s
	}
	note := fmt.Sprintf(text.ClipNote+"%d bytes cut]… ", len(s)-max)
	head, tail := max*3/4, max/4
	return strings.ToValidUTF8(s[:head]+note+s[len(s)-tail:], "")
}
