package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// Fetcher downloads a published result from its URL.
type Fetcher interface {
	Fetch(ctx context.Context, url string) (io.ReadCloser, error)
}

// Polling while a job runs: start fast so a finished job is seen within
// milliseconds, back off so a slow one costs few calls. Each wait is a
// share of the time waited so far (pollShareFast in the first second,
// pollShare after it, at most pollMax), so a job is seen at most 15%, and
// later 30%, of its run time late, whatever the round trip: a 10 s job
// takes 15 GETs at 100 ms round trip.
const (
	pollFirst     = 5 * time.Millisecond
	pollMax       = 3 * time.Second
	pollShareFast = 0.15
	pollShare     = 0.3
	pollKnee      = time.Second
)

// Polls is how many state polls (GETs) Wait makes for a job that takes
// job to complete when each call takes rtt: the models count requests
// with it.
func Polls(job, rtt time.Duration) int {
	var waited time.Duration
	for n := 1; ; n++ {
		waited += rtt
		if waited >= job {
			return n
		}
		waited += pollDelay(waited)
	}
}

// pollDelay is the wait before the next poll after waited.
func pollDelay(waited time.Duration) time.Duration {
	share := pollShareFast
	if waited >= pollKnee {
		share = pollShare
	}
	return min(max(pollFirst, time.Duration(float64(waited)*share)), pollMax)
}

// Probe is a scenario's handle on one run: the API, the canary job and the
// phase clock. What the run learns (phases, the job, its nodes, the census)
// goes straight into the result the runner owns.
type Probe struct {
	Jobs     Jobs
	Fetcher  Fetcher
	Spec     JobSpec
	res      *Result
	deadline time.Duration
	progress func(string)

	submitTried bool // a submit was sent, whatever came back
	terminal    bool // the submitted job reached a terminal state
}

// Phase times fn as the named phase. Phases must be declared by the scenario.
// A phase that fails or panics is the run's failed phase.
func (p *Probe) Phase(name string, fn func() error) error {
	i := slices.IndexFunc(p.res.Phases, func(ph Phase) bool { return ph.Name == name })
	if i < 0 {
		return fmt.Errorf("phase %q is not declared by scenario %s: %w", name, p.res.Scenario, ErrCanary)
	}
	ph, start, before := &p.res.Phases[i], time.Now(), p.res.FailedPhase
	ph.Reached = true
	p.res.FailedPhase = name // until fn returns nil: it may panic
	defer func() { ph.Duration += time.Since(start) }()
	if err := fn(); err != nil {
		return err
	}
	p.res.FailedPhase = before
	return nil
}

// Submit puts the canary job with count executions and remembers its ID so
// the runner can stop it if the run fails.
func (p *Probe) Submit(ctx context.Context, count int) (string, error) {
	job, err := p.Spec.Build(p.res.Scenario, p.res.Env, p.res.RunID, count, p.deadline)
	if err != nil {
		return "", fmt.Errorf("building job: %v: %w", err, ErrCanary)
	}
	p.submitTried = true
	resp, err := p.Jobs.Put(ctx, &apimodels.PutJobRequest{Job: job})
	if errors.Is(err, ErrReplyLost) {
		// The server may have taken the job: go on with the one the
		// run's label finds (never a second submit). A list that fails
		// leaves the submit's own error standing.
		js, _ := runJobs(ctx, p.Jobs, p.res.RunID)
		for _, j := range js {
			if checkJobID(j.ID) == nil {
				p.res.JobID, p.res.SubmitReplyLost = j.ID, true
				return j.ID, nil
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("submitting job: %w", err)
	}
	if resp == nil || resp.JobID == "" {
		return "", fmt.Errorf("submitting job: reply has no job ID: %w", ErrProtocol)
	}
	if err := checkJobID(resp.JobID); err != nil {
		// Not a job ID this canary could put in a URL or a log line;
		// the job is found by its run label and stopped.
		return "", fmt.Errorf("submitting job: reply's %w", err)
	}
	p.res.JobID = resp.JobID
	return resp.JobID, nil
}

// runJobs lists the jobs labelled with the run's ID; a server that ignores
// the filter gives others too, which are dropped.
func runJobs(ctx context.Context, jobs Jobs, runID string) ([]*models.Job, error) {
	label, err := labels.NewRequirement(LabelRun, selection.Equals, []string{runID})
	if err != nil {
		return nil, fmt.Errorf("label %s=%s: %v: %w", LabelRun, runID, err, ErrCanary)
	}
	req := &apimodels.ListJobsRequest{Labels: []labels.Requirement{*label}}
	req.Limit = 10
	resp, err := jobs.List(ctx, req)
	if err != nil || resp == nil {
		return nil, err
	}
	var own []*models.Job
	for _, j := range resp.Items {
		if j != nil && j.Labels[LabelRun] == runID {
			own = append(own, j)
		}
	}
	return own, nil
}

// maxMessageText bounds a server's message quoted in an error text.
const maxMessageText = 300

// checkJobID is the one rule for a job ID that came from the network,
// applied before the ID goes into any URL (poll, describe, results, stop)
// or log line: 1 to maxJobIDText letters, digits, '-' and '_', starting
// with a letter or digit (Bacalhau's are j-<uuid>). Nothing else — no '.',
// '/', '%', '?', space or non-ASCII — so no ID can reach another path.
func checkJobID(id string) error {
	if !jobIDRE.MatchString(id) {
		return fmt.Errorf("job ID %s is not an ID: %w", text.Quote(id, 64), ErrProtocol)
	}
	return nil
}

var jobIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// step is one phase of a scenario's run: its name and what it does.
type step struct {
	phase string
	run   func() error
}

// steps runs each step as its phase, in order, up to the first that fails.
func (p *Probe) steps(steps ...step) error {
	for _, s := range steps {
		if err := p.Phase(s.phase, s.run); err != nil {
			return err
		}
	}
	return nil
}

// submitStep submits the canary job with count executions as the "submit"
// phase and sets *id to its ID.
func (p *Probe) submitStep(ctx context.Context, count int, id *string) step {
	return step{"submit", func() (err error) {
		*id, err = p.Submit(ctx, count)
		return err
	}}
}

// Wait polls the submitted job until it is terminal and returns it. A job
// that ended other than Completed is an ErrJobFailed error.
func (p *Probe) Wait(ctx context.Context, id string) (*models.Job, error) {
	started, nextNote := time.Now(), 2*time.Second
	for {
		resp, err := p.Jobs.Get(ctx, &apimodels.GetJobRequest{JobIDOrName: id})
		if err != nil {
			return nil, fmt.Errorf("getting job state: %w", err)
		}
		if resp == nil || resp.Job == nil {
			return nil, fmt.Errorf("getting job state: reply has no job: %w", ErrProtocol)
		}
		job := resp.Job
		if job.ID != id {
			return nil, fmt.Errorf("getting job state: asked for job %s, got %s: %w", id, text.Quote(job.ID, maxJobIDText), ErrProtocol)
		}
		state := job.State.StateType
		p.res.JobState, p.terminal = state.String(), state.IsTerminal()
		if state == models.JobStateTypeCompleted {
			return job, nil
		}
		if state.IsTerminal() {
			class := ErrJobFailed
			if state == models.JobStateTypeFailed && strings.Contains(strings.ToLower(job.State.Message), "timed out") {
				class = ErrTimeout // the job's own task timeout (below the run's deadline) fired
			}
			return job, fmt.Errorf("job ended %s: %s: %w", state, text.Quote(job.State.Message, maxMessageText), class)
		}
		if state == models.JobStateTypeUndefined {
			return nil, fmt.Errorf("getting job state: job has no state: %w", ErrProtocol)
		}
		if waited := time.Since(started); p.progress != nil && waited >= nextNote {
			p.progress(fmt.Sprintf("job %s is %s after %s", id, state, waited.Round(100*time.Millisecond)))
			nextNote = waited + 5*time.Second
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for job %s (last state %s): %w", id, state, ctx.Err())
		case <-time.After(pollDelay(time.Since(started))):
		}
	}
}

// Executions lists the job's executions.
func (p *Probe) Executions(ctx context.Context, id string) ([]*models.Execution, error) {
	resp, err := p.Jobs.Executions(ctx, &apimodels.ListJobExecutionsRequest{JobIDOrName: id})
	if err != nil {
		return nil, fmt.Errorf("listing executions: %w", err)
	}
	if resp == nil {
		return nil, fmt.Errorf("listing executions: empty reply: %w", ErrProtocol)
	}
	for _, e := range resp.Items {
		if e == nil || e.ID == "" {
			return nil, fmt.Errorf("listing executions: an execution without ID: %w", ErrProtocol)
		}
		if e.JobID != id {
			return nil, fmt.Errorf("listing executions: execution %s belongs to job %s, not %s: %w", text.Quote(e.ID, maxJobIDText), text.Quote(e.JobID, maxJobIDText), id, ErrProtocol)
		}
		if e.ComputeState.StateType == models.ExecutionStateCompleted && e.NodeID == "" {
			// Else it would count as a node of its own (concurrency).
			return nil, fmt.Errorf("listing executions: completed execution %s names no node: %w", text.Quote(e.ID, maxJobIDText), ErrProtocol)
		}
		p.noteNode(e.NodeID)
	}
	return resp.Items, nil
}

// At most maxNodeIDs node IDs of at most maxNodeIDLen bytes go into the
// result line: they came from the network.
const (
	maxNodeIDs   = 8
	maxNodeIDLen = 64
)

// noteNode adds a node of the job's executions, once, bounded (the
// result line's JSON escapes it).
func (p *Probe) noteNode(id string) {
	id = text.Clip(id, maxNodeIDLen)
	if id == "" || len(p.res.NodeIDs) >= maxNodeIDs || slices.Contains(p.res.NodeIDs, id) {
		return
	}
	p.res.NodeIDs = append(p.res.NodeIDs, id)
}

// checkExitCodes fails when a completed execution reports a non-zero exit.
func checkExitCodes(execs []*models.Execution) error {
	completed := 0
	for _, e := range execs {
		if e.ComputeState.StateType != models.ExecutionStateCompleted {
			continue
		}
		completed++
		if e.RunOutput != nil && e.RunOutput.ExitCode != 0 {
			return fmt.Errorf("execution %s exited %d: %w", text.Quote(e.ID, maxJobIDText), e.RunOutput.ExitCode, ErrJobFailed)
		}
	}
	if completed == 0 {
		return fmt.Errorf("job is Completed but none of its %d executions is: %w", len(execs), ErrProtocol)
	}
	return nil
}
