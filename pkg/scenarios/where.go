package scenarios

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// describeBudget bounds the listing of a failed run's executions, so the
// stop after it keeps most of the cleanup's time.
const describeBudget = 5 * time.Second

// maxDescribed bounds the executions a description names.
const maxDescribed = 6

// withWhere notes in err where a failed run's job stood: each execution's
// partition, state and node ("partition 0 Completed on node-1; partition 1
// Running on node-2"), so a run that timed out on a partition names the
// node that holds it. The nodes go into the result's node_ids. err stands
// as it is when the executions cannot be listed (or listing them panics).
func withWhere(ctx context.Context, p *Probe, err error) error {
	ctx, cancel := context.WithTimeout(ctx, describeBudget)
	defer cancel()
	var execs []*models.Execution
	if safely("describing job", func() (lerr error) {
		execs, lerr = p.Executions(ctx, p.res.JobID)
		return lerr
	}) != nil || len(execs) == 0 {
		return err
	}
	slices.SortStableFunc(execs, func(a, b *models.Execution) int {
		return cmp.Or(cmp.Compare(a.PartitionIndex, b.PartitionIndex),
			cmp.Compare(stateRank(a), stateRank(b)))
	})
	var parts []string
	for i, e := range execs {
		if i == maxDescribed {
			parts = append(parts, fmt.Sprintf("%d more", len(execs)-i))
			break
		}
		node := "no node"
		if e.NodeID != "" {
			node = text.Quote(e.NodeID, maxNodeIDLen)
		}
		parts = append(parts, fmt.Sprintf("partition %d %s on %s", e.PartitionIndex, e.ComputeState.StateType, node))
	}
	return fmt.Errorf("%w (executions at the end: %s)", err, strings.Join(parts, "; "))
}

// stateRank puts a partition's completed execution first, then the ones
// still under way, then the rest.
func stateRank(e *models.Execution) int {
	switch s := e.ComputeState.StateType; {
	case s == models.ExecutionStateCompleted:
		return 0
	case !s.IsTerminal():
		return 1
	}
	return 2
}
