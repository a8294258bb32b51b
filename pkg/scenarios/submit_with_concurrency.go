package scenarios

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// concurrency is how many executions (partitions) the concurrency scenario
// asks for.
const concurrency = 3

// SubmitWithConcurrency submits the canary job with Count = 3 and checks
// each of its three partitions completed exactly once, on three distinct
// nodes. Bacalhau keeps one active execution per partition and retries a
// failed one, so a healthy, recovered job may hold more executions (Failed,
// BidRejected, Cancelled): those are counted in the result
// (extra_executions), not a failure.
var SubmitWithConcurrency = Scenario{
	Name:    "submitWithConcurrency",
	Submits: true,
	Doc:     "submit with Count=3 and wait; each partition 0..2 completed exactly once, on 3 distinct nodes (retried executions are reported, not failed)",
	Phases:  []string{"submit", "wait", "executions"},
	Run: func(ctx context.Context, p *Probe) error {
		var id string
		var waitErr error // a job that failed is judged by its executions
		return p.steps(
			p.submitStep(ctx, concurrency, &id),
			step{"wait", func() error {
				_, waitErr = p.Wait(ctx, id)
				if errors.Is(waitErr, ErrJobFailed) {
					return nil
				}
				return waitErr
			}},
			step{"executions", func() error {
				execs, err := p.Executions(ctx, id)
				if err != nil {
					return err
				}
				p.res.ExtraExecutions, err = checkConcurrency(execs, concurrency, waitErr)
				if !errors.Is(err, ErrConcurrency) {
					return err
				}
				// Say how many of the nodes it needs were there, by version.
				ctx, cancel := context.WithTimeout(ctx, censusBudget)
				defer cancel()
				c, cerr := p.Census(ctx)
				if cerr != nil {
					return fmt.Errorf("%w (node census failed: %v)", err, cerr)
				}
				return fmt.Errorf("%w; node census: %s", err, c)
			}},
		)
	},
}

// checkConcurrency checks a job of count partitions by partition: exactly
// one Completed execution for each of 0..count-1, on distinct nodes. It
// returns how many executions are beyond those (retried or rejected ones)
// and tells a job that could not get its nodes (concurrency) from one
// whose executions failed (job_failed).
func checkConcurrency(execs []*models.Execution, count int, waitErr error) (int, error) {
	done := make(map[int]*models.Execution, count) // partition → its Completed execution
	nodes := map[string]string{}                   // node → execution that completed on it
	extra, failed := 0, 0
	var problem error
	for _, e := range execs {
		if e.ComputeState.StateType != models.ExecutionStateCompleted {
			extra++
			if e.ComputeState.StateType == models.ExecutionStateFailed {
				failed++
			}
			continue
		}
		if e.RunOutput != nil && e.RunOutput.ExitCode != 0 {
			return extra, fmt.Errorf("execution %s exited %d: %w", text.Quote(e.ID, maxJobIDText), e.RunOutput.ExitCode, ErrJobFailed)
		}
		switch prev, dup := done[e.PartitionIndex], nodes[e.NodeID]; {
		case problem != nil:
		case e.PartitionIndex < 0 || e.PartitionIndex >= count:
			problem = fmt.Errorf("execution %s completed partition %d of a job with %d: %w", text.Quote(e.ID, maxJobIDText), e.PartitionIndex, count, ErrConcurrency)
		case prev != nil:
			problem = fmt.Errorf("partition %d completed twice (executions %s and %s): %w", e.PartitionIndex, text.Quote(prev.ID, maxJobIDText), text.Quote(e.ID, maxJobIDText), ErrConcurrency)
		case dup != "":
			problem = fmt.Errorf("executions %s and %s completed on the same node %s, want %d distinct nodes: %w", text.Quote(dup, maxJobIDText), text.Quote(e.ID, maxJobIDText), text.Quote(e.NodeID, maxNodeIDLen), count, ErrConcurrency)
		}
		done[e.PartitionIndex] = e
		nodes[e.NodeID] = e.ID
	}
	if waitErr != nil {
		if failed > 0 {
			return extra, fmt.Errorf("%d of %d executions failed: %w", failed, len(execs), waitErr)
		}
		if len(done) < count {
			return extra, fmt.Errorf("asked for %d partitions, %d completed (%v): %w", count, len(done), waitErr, ErrConcurrency)
		}
		return extra, waitErr
	}
	if problem != nil {
		return extra, problem
	}
	for i := range count {
		if done[i] == nil {
			return extra, fmt.Errorf("asked for %d partitions, partition %d has no completed execution (%d of %d executions completed): %w",
				count, i, len(done), len(execs), ErrConcurrency)
		}
	}
	return extra, nil
}

// censusBudget bounds the node census a concurrency failure takes to say
// how many nodes could have run the job.
const censusBudget = 2 * time.Second
