package scenarios

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
)

func exec(id, node string, partition int, state models.ExecutionStateType) *models.Execution {
	return &models.Execution{ID: id, NodeID: node, PartitionIndex: partition, ComputeState: models.NewExecutionState(state)}
}

func TestCheckConcurrencyByPartition(t *testing.T) {
	t.Parallel()
	const (
		done   = models.ExecutionStateCompleted
		failed = models.ExecutionStateFailed
	)
	jobFailed := fmt.Errorf("job ended Failed: %w", ErrJobFailed)
	tests := []struct {
		name      string
		execs     []*models.Execution
		waitErr   error
		wantClass Class // empty: passes
		wantExtra int
	}{
		{"three partitions on three nodes", []*models.Execution{exec("a", "n0", 0, done), exec("b", "n1", 1, done), exec("c", "n2", 2, done)}, nil, "", 0},
		{"retried partition on a fourth node", []*models.Execution{
			exec("a", "n0", 0, done), exec("b", "n1", 1, failed), exec("c", "n2", 2, done), exec("d", "n3", 1, done),
		}, nil, "", 1},
		{"retry on the node that failed another partition", []*models.Execution{
			exec("a", "n0", 0, failed), exec("b", "n1", 1, done), exec("c", "n2", 2, done), exec("d", "n0", 0, failed), exec("e", "n3", 0, done),
		}, nil, "", 2},
		{"rejected and cancelled extras", []*models.Execution{
			exec("a", "n0", 0, done), exec("b", "n1", 1, done), exec("c", "n2", 2, done),
			exec("x", "n3", 0, models.ExecutionStateBidRejected), exec("y", "n4", 2, models.ExecutionStateCancelled),
		}, nil, "", 2},
		{"partition completed twice", []*models.Execution{exec("a", "n0", 0, done), exec("b", "n1", 0, done), exec("c", "n2", 2, done)}, nil, ErrConcurrency, 0},
		{"two partitions on one node", []*models.Execution{exec("a", "n0", 0, done), exec("b", "n0", 1, done), exec("c", "n2", 2, done)}, nil, ErrConcurrency, 0},
		{"partition missing", []*models.Execution{exec("a", "n0", 0, done), exec("b", "n1", 1, done), exec("c", "n2", 1, failed)}, nil, ErrConcurrency, 1},
		{"partition out of range", []*models.Execution{exec("a", "n0", 0, done), exec("b", "n1", 1, done), exec("c", "n2", 3, done)}, nil, ErrConcurrency, 0},
		{"negative partition", []*models.Execution{exec("a", "n0", 0, done), exec("b", "n1", 1, done), exec("c", "n2", -1, done)}, nil, ErrConcurrency, 0},
		{"too few executions", []*models.Execution{exec("a", "n0", 0, done), exec("b", "n1", 1, done)}, nil, ErrConcurrency, 0},
		{"no executions", nil, nil, ErrConcurrency, 0},
		{"failed job with failed executions", []*models.Execution{exec("a", "n0", 0, failed), exec("b", "n1", 1, done), exec("c", "n2", 2, done)}, jobFailed, ErrJobFailed, 1},
		{"failed job without enough nodes", []*models.Execution{exec("a", "n0", 0, done), exec("b", "n1", 1, done)}, jobFailed, ErrConcurrency, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			extra, err := checkConcurrency(tt.execs, 3, tt.waitErr)
			if got := Classify(err); err != nil && got != tt.wantClass || err == nil && tt.wantClass != "" {
				t.Errorf("error %v (class %q), want class %q", err, Classify(err), tt.wantClass)
			}
			if extra != tt.wantExtra {
				t.Errorf("extra executions %d, want %d", extra, tt.wantExtra)
			}
		})
	}
}

func TestConcurrencyExitCodeIsAFailedJob(t *testing.T) {
	t.Parallel()
	e := exec("a", "n0", 0, models.ExecutionStateCompleted)
	e.RunOutput = &models.RunCommandResult{ExitCode: 1}
	_, err := checkConcurrency([]*models.Execution{e, exec("b", "n1", 1, models.ExecutionStateCompleted), exec("c", "n2", 2, models.ExecutionStateCompleted)}, 3, nil)
	if !errors.Is(err, ErrJobFailed) {
		t.Errorf("error %v, want job_failed", err)
	}
}

// A retried execution on the fake (one bad node, a spare node) passes and
// reaches the result and its log line as extra_executions.
func TestRetriedExecutionIsReportedNotFailed(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.nodes, f.badNode = 4, "node-1"
	r := newRunner(f, nil)
	r.Timeout = 2 * time.Second
	res := r.Run(t.Context(), SubmitWithConcurrency)
	if !res.Success {
		t.Fatalf("failed: %s: %s", res.Class, res.Error)
	}
	if res.ExtraExecutions != 1 {
		t.Errorf("ExtraExecutions = %d, want 1", res.ExtraExecutions)
	}
	found := false
	for _, a := range res.LogAttrs() {
		if a.Key == "extra_executions" {
			found = a.Value.Int64() == 1
		}
	}
	if !found {
		t.Error("log line has no extra_executions=1")
	}

	// Without a spare node the partition cannot be retried: the job fails.
	f = newFake()
	f.nodes, f.badNode = 3, "node-1"
	r = newRunner(f, nil)
	r.Timeout = 2 * time.Second
	if res := r.Run(t.Context(), SubmitWithConcurrency); res.Success || res.Class != ErrJobFailed {
		t.Errorf("no spare node: success=%v class=%q (%s), want job_failed", res.Success, res.Class, res.Error)
	}
}
