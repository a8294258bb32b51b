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

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// stopBudget bounds the stop of a failed run's job, so a run still ends
// within a second of its deadline when the API hangs.
const stopBudget = 600 * time.Millisecond

// PhaseConnect is the phase every run starts with: the runner's Connect
// step (the API key from Secret Manager, the client).
const PhaseConnect = "connect"

// Conn is what a run's Connect step gives it: the API, the result fetcher
// and the secret it read, if any (kept out of the run's text).
type Conn struct {
	Jobs    Jobs
	Fetcher Fetcher
	Secret  string
}

// Runner runs scenarios and owns their outcome: the deadline, total and
// per-phase timings (the connect phase first), the error class, stopping
// the submitted job on failure and the one log line per run.
type Runner struct {
	// Connect builds the run's API client, within the run's deadline and
	// timed as the connect phase; nil uses Jobs and Fetcher as they are.
	Connect  func(ctx context.Context) (Conn, error)
	Jobs     Jobs
	Fetcher  Fetcher
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
func (r *Runner) Run(ctx context.Context, s Scenario) (res Result) {
	res = Result{Scenario: s.Name, Env: r.Env, Start: time.Now()}
	p := &Probe{
		Spec:     r.Spec,
		scenario: s.Name,
		env:      r.Env,
		runID:    newRunID(),
		deadline: r.Timeout,
		progress: r.Progress,
	}
	for _, name := range s.AllPhases() {
		p.phases = append(p.phases, Phase{Name: name})
	}
	secrets := r.Secrets
	runCtx, cancel := context.WithTimeout(ctx, r.Timeout)
	err := safely(s.Name+" run", func() error {
		if err := p.Phase(PhaseConnect, func() error {
			c, err := r.connect(runCtx)
			if c.Secret != "" {
				secrets = append(slices.Clip(secrets), c.Secret)
			}
			p.Jobs, p.Fetcher = c.Jobs, c.Fetcher
			return err
		}); err != nil {
			return err
		}
		if s.Run == nil {
			return fmt.Errorf("scenario %s has no Run: %w", s.Name, ErrCanary)
		}
		return s.Run(runCtx, p)
	})
	deadlinePassed := errors.Is(runCtx.Err(), context.DeadlineExceeded)
	cancel()

	if err != nil {
		jobs := p.Jobs
		switch {
		case p.jobID != "" && !p.terminal:
			stopErr := safely("stopping job", func() error { return r.stop(ctx, jobs, p.jobID, s.Name) })
			switch {
			case stopErr == nil:
				res.Stopped = true
			case !errors.Is(stopErr, errAlreadyEnded):
				err = fmt.Errorf("%w (and stopping job %s failed: %v)", err, p.jobID, stopErr)
			}
		case p.jobID == "" && p.submitTried:
			// The submit failed or its reply was lost: the job may
			// exist all the same. Find it by the run's label.
			var found string
			var stopped bool
			stopErr := safely("stopping job", func() (err error) {
				found, stopped, err = r.stopByRun(ctx, jobs, p.runID, s.Name)
				return err
			})
			p.jobID, res.Stopped = found, stopped
			if stopErr != nil {
				err = fmt.Errorf("%w (and finding the run's job by label %s=%s failed: %v)", err, LabelRun, p.runID, stopErr)
			}
		}
	}

	redactor := NewRedactor(secrets...)
	res.Duration = time.Since(res.Start)
	res.Phases = p.phases
	res.RunID = p.runID
	res.JobID = Clip(redactor.Redact(p.jobID), maxJobIDText)
	res.ExtraExecutions = p.extraExecutions
	res.Census = p.census
	res.NodeIDs = p.nodeIDs
	res.Endpoint, res.CanaryVersion, res.CanaryImage = r.Endpoint, r.CanaryVersion, r.CanaryImage
	res.ServerVersion = UnknownVersion
	if vs, ok := p.Jobs.(VersionSource); ok {
		res.ServerVersion = SanitizeVersion(vs.ServerVersion())
	}
	res.Success = err == nil
	if err != nil {
		res.FailedPhase = p.failedPhase
		res.Class = Classify(err)
		switch {
		case deadlinePassed && ctx.Err() == nil:
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
	}
	r.log(res)
	return res
}

// connect is the run's Connect step, or the runner's own Jobs and Fetcher.
func (r *Runner) connect(ctx context.Context) (Conn, error) {
	if r.Connect == nil {
		return Conn{Jobs: r.Jobs, Fetcher: r.Fetcher}, nil
	}
	c, err := r.Connect(ctx)
	if err == nil && (c.Jobs == nil || c.Fetcher == nil) {
		err = fmt.Errorf("connect gave no API client: %w", ErrCanary)
	}
	return c, err
}

// safely calls fn and turns a panic into an ErrCanary error naming where
// it happened (no stack: the error text is a log field).
func safely(what string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%s panicked: %s%s: %w", what, Quote(fmt.Sprint(v), 300), panicSite(), ErrCanary)
		}
	}()
	return fn()
}

// panicSite is " at func (file:line)" of the frame that panicked.
func panicSite() string {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") && f.Function != "" {
			return fmt.Sprintf(" at %s (%s:%d)", f.Function, path.Base(f.File), f.Line)
		}
		if !more {
			return ""
		}
	}
}

// stop stops a job the failed run left running. It outlives the run's
// deadline on purpose, bounded by stopBudget.
func (r *Runner) stop(parent context.Context, jobs Jobs, jobID, scenario string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), stopBudget)
	defer cancel()
	_, err := jobs.Stop(ctx, &apimodels.StopJobRequest{
		JobID:  jobID,
		Reason: "bacalhau-canary: " + scenario + " run failed or timed out",
	})
	if err == nil {
		return nil
	}
	// A job that ended while the canary was not looking (its own task
	// timeout, or it completed during a hung poll) cannot be stopped, and
	// needs not be: only a job still running is a leak.
	if resp, getErr := jobs.Get(ctx, &apimodels.GetJobRequest{JobIDOrName: jobID}); getErr == nil &&
		resp != nil && resp.Job != nil && resp.Job.State.StateType.IsTerminal() {
		return errAlreadyEnded
	}
	return err
}

// stopByRun finds the job of a run whose submit failed or lost its reply,
// by the run's label, and stops it when it is still running. It returns
// the job's ID ("" when the run left no job) and whether it stopped it.
// Only called after a failed submit: a label-filtered list reads the whole
// job store on v1.7 and v1.9.
func (r *Runner) stopByRun(parent context.Context, jobs Jobs, runID, scenario string) (found string, stopped bool, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), stopBudget)
	defer cancel()
	req, err := runListRequest(runID)
	if err != nil {
		return "", false, err
	}
	resp, err := jobs.List(ctx, req)
	if err != nil || resp == nil {
		return "", false, err
	}
	for _, j := range resp.Items {
		if j == nil || j.ID == "" || j.Labels[LabelRun] != runID || len(j.ID) > maxJobIDText {
			continue // a server that ignores the filter: not this run's job
		}
		found = j.ID
		if j.State.StateType.IsTerminal() {
			continue
		}
		if _, err := jobs.Stop(ctx, &apimodels.StopJobRequest{
			JobID:  j.ID,
			Reason: "bacalhau-canary: " + scenario + " run failed at its submit",
		}); err != nil {
			return found, stopped, fmt.Errorf("stopping job %s: %w", Quote(j.ID, maxJobIDText), err)
		}
		stopped = true
	}
	return found, stopped, nil
}

// maxJobIDText bounds a job ID in the result: Bacalhau's are ~40 bytes.
const maxJobIDText = 128

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
	note := fmt.Sprintf(clipNote+"%d bytes cut]… ", len(s)-max)
	head, tail := max*3/4, max/4
	return strings.ToValidUTF8(s[:head]+note+s[len(s)-tail:], "")
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
