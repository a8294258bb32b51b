package scenarios

import (
	"context"
	"errors"
	"fmt"

	"github.com/bacalhau-project/bacalhau/pkg/models"
)

// concurrency is how many executions the concurrency scenario asks for.
const concurrency = 3

// SubmitWithConcurrency submits the canary job with Count = 3 and checks
// three executions completed, on three distinct nodes.
var SubmitWithConcurrency = Scenario{
	Name:   "submitWithConcurrency",
	Doc:    "submit with Count=3 and wait; exactly 3 executions, all completed, on 3 distinct nodes",
	Phases: []string{"submit", "wait", "executions"},
	Run: func(ctx context.Context, p *Probe) error {
		id, err := submitPhase(ctx, p, concurrency)
		if err != nil {
			return err
		}
		var waitErr error
		if err := p.Phase("wait", func() error {
			_, waitErr = p.Wait(ctx, id)
			if waitErr != nil && !errors.Is(waitErr, ErrJobFailed) {
				return waitErr
			}
			return nil
		}); err != nil {
			return err
		}
		return p.Phase("executions", func() error {
			execs, err := p.Executions(ctx, id)
			if err != nil {
				return err
			}
			return checkConcurrency(execs, waitErr)
		})
	},
}

// checkConcurrency tells a job that could not get three nodes (concurrency)
// from one whose executions failed (job_failed).
func checkConcurrency(execs []*models.Execution, waitErr error) error {
	completed, failed := 0, 0
	nodes := map[string]bool{}
	for _, e := range execs {
		switch e.ComputeState.StateType {
		case models.ExecutionStateCompleted:
			completed++
			nodes[e.NodeID] = true
			if e.RunOutput != nil && e.RunOutput.ExitCode != 0 {
				return fmt.Errorf("execution %s exited %d: %w", e.ID, e.RunOutput.ExitCode, ErrJobFailed)
			}
		case models.ExecutionStateFailed:
			failed++
		}
	}
	if waitErr != nil {
		if failed > 0 {
			return fmt.Errorf("%d of %d executions failed: %w", failed, len(execs), waitErr)
		}
		if completed < concurrency {
			return fmt.Errorf("asked for %d executions, %d completed (%v): %w", concurrency, completed, waitErr, ErrConcurrency)
		}
		return waitErr
	}
	switch {
	case len(execs) != concurrency:
		return fmt.Errorf("asked for %d executions, the job has %d: %w", concurrency, len(execs), ErrConcurrency)
	case completed != concurrency:
		return fmt.Errorf("asked for %d executions, %d completed: %w", concurrency, completed, ErrConcurrency)
	case len(nodes) != concurrency:
		return fmt.Errorf("%d executions ran on %d distinct nodes, want %d: %w", completed, len(nodes), concurrency, ErrConcurrency)
	}
	return nil
}
