package scenarios

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// Fetcher downloads a published result from its URL.
type Fetcher interface {
	Fetch(ctx context.Context, url string) (io.ReadCloser, error)
}

// Polling while a job runs: start fast so a finished job is seen within
// milliseconds, back off so a slow one costs few calls. Each wait is 1.2
// times the last, so a job is seen at most ~20% of its run time late
// (until pollMax); against the devnet this halves the run's overhead above
// the server's completion time compared with 10 ms × 1.5 (bench/), at
// about twice the calls for a job of a few seconds (~30 for 5 s).
const (
	pollFirst = 5 * time.Millisecond
	pollMax   = 500 * time.Millisecond
	pollGrow  = 1.2
)

// Probe is a scenario's handle on one run: the API, the canary job and the
// phase clock. The runner reads back what the scenario submitted.
type Probe struct {
	Jobs     Jobs
	Fetcher  Fetcher
	Spec     JobSpec
	scenario string
	env      string
	runID    string // the canary_run label of this run's jobs
	deadline time.Duration
	progress func(string)

	phases      []Phase
	failedPhase string
	nodeIDs     []string
	jobID       string
	submitTried bool // a submit was sent, whatever came back
	terminal    bool // the submitted job reached a terminal state

	extraExecutions int     // executions beyond one completed per partition (concurrency)
	census          *Census // the node census, when the run took one
}

// Phase times fn as the named phase. Phases must be declared by the scenario.
// A phase that fails or panics is the run's failed phase.
func (p *Probe) Phase(name string, fn func() error) error {
	for i := range p.phases {
		if p.phases[i].Name != name {
			continue
		}
		start, before := time.Now(), p.failedPhase
		p.phases[i].Reached = true
		p.failedPhase = name // until fn returns nil: it may panic
		defer func() { p.phases[i].Duration += time.Since(start) }()
		if err := fn(); err != nil {
			return err
		}
		p.failedPhase = before
		return nil
	}
	return fmt.Errorf("phase %q is not declared by scenario %s: %w", name, p.scenario, ErrCanary)
}

// Submit puts the canary job with count executions and remembers its ID so
// the runner can stop it if the run fails.
func (p *Probe) Submit(ctx context.Context, count int) (string, error) {
	job, err := p.Spec.Build(p.scenario, p.env, p.runID, count, p.deadline)
	if err != nil {
		return "", fmt.Errorf("building job: %v: %w", err, ErrCanary)
	}
	p.submitTried = true
	resp, err := p.Jobs.Put(ctx, &apimodels.PutJobRequest{Job: job})
	if err != nil {
		return "", fmt.Errorf("submitting job: %w", err)
	}
	if resp == nil || resp.JobID == "" {
		return "", fmt.Errorf("submitting job: reply has no job ID: %w", ErrProtocol)
	}
	if len(resp.JobID) > maxJobIDText || strings.ContainsFunc(resp.JobID, notIDRune) {
		// Not a job ID this canary could put in a URL or a log line;
		// the job is found by its run label and stopped.
		return "", fmt.Errorf("submitting job: reply's job ID %s is not an ID: %w", Quote(resp.JobID, 64), ErrProtocol)
	}
	p.jobID = resp.JobID
	return resp.JobID, nil
}

// maxMessageText bounds a server's message quoted in an error text.
const maxMessageText = 300

// notIDRune says r cannot be in a job ID (Bacalhau's are j-<uuid>).
func notIDRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

// submitPhase submits the canary job with count executions, timed as the
// "submit" phase.
func submitPhase(ctx context.Context, p *Probe, count int) (string, error) {
	var id string
	err := p.Phase("submit", func() (err error) {
		id, err = p.Submit(ctx, count)
		return err
	})
	return id, err
}

// Wait polls the job until it is terminal and returns it. A job that ended
// other than Completed is an ErrJobFailed error.
func (p *Probe) Wait(ctx context.Context, id string) (*models.Job, error) {
	delay := pollFirst
	started := time.Now()
	nextNote := 2 * time.Second
	var last models.JobStateType
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
			return nil, fmt.Errorf("getting job state: asked for job %s, got %s: %w", id, Quote(job.ID, maxJobIDText), ErrProtocol)
		}
		state := job.State.StateType
		if state.IsTerminal() {
			if id == p.jobID {
				p.terminal = true
			}
			switch {
			case state == models.JobStateTypeFailed && strings.Contains(strings.ToLower(job.State.Message), "timed out"):
				// The job's own task timeout (set below the run's deadline) fired.
				return job, fmt.Errorf("job ended %s: %s: %w", state, Quote(job.State.Message, maxMessageText), ErrTimeout)
			case state != models.JobStateTypeCompleted:
				return job, fmt.Errorf("job ended %s: %s: %w", Quote(state.String(), 40), Quote(job.State.Message, maxMessageText), ErrJobFailed)
			}
			return job, nil
		}
		if state == models.JobStateTypeUndefined {
			return nil, fmt.Errorf("getting job state: job has no state: %w", ErrProtocol)
		}
		if waited := time.Since(started); p.progress != nil && (waited >= nextNote || state != last && waited >= nextNote/2) {
			p.progress(fmt.Sprintf("job %s is %s after %s", id, state, waited.Round(100*time.Millisecond)))
			nextNote = waited + 5*time.Second
		}
		last = state
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for job %s (last state %s): %w", id, state, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(time.Duration(float64(delay)*pollGrow), pollMax)
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
			return nil, fmt.Errorf("listing executions: execution %s belongs to job %s, not %s: %w", Quote(e.ID, maxJobIDText), Quote(e.JobID, maxJobIDText), id, ErrProtocol)
		}
	}
	for _, e := range resp.Items {
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

// noteNode adds a node of the job's executions, once, sanitised.
func (p *Probe) noteNode(id string) {
	id = sanitizeID(id, maxNodeIDLen)
	if id == "" || len(p.nodeIDs) >= maxNodeIDs || slices.Contains(p.nodeIDs, id) {
		return
	}
	p.nodeIDs = append(p.nodeIDs, id)
}

// sanitizeID keeps letters, digits and ._:- of at most max bytes of s;
// anything else becomes '_'.
func sanitizeID(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._:-", r):
			return r
		}
		return '_'
	}, s)
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
			return fmt.Errorf("execution %s exited %d: %w", Quote(e.ID, maxJobIDText), e.RunOutput.ExitCode, ErrJobFailed)
		}
	}
	if completed == 0 {
		return fmt.Errorf("job is Completed but none of its %d executions is: %w", len(execs), ErrProtocol)
	}
	return nil
}
