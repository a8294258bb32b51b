package scenarios

import (
	"context"
	"fmt"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

const listLimit = 10

// List lists the most recent jobs, newest first.
var List = Scenario{
	Name:   "list",
	Doc:    "list the 10 most recent jobs, newest first; the reply must be well-formed",
	Phases: []string{"list"},
	Run: func(ctx context.Context, p *Probe) error {
		return p.Phase("list", func() error {
			resp, err := p.Jobs.List(ctx, &apimodels.ListJobsRequest{
				BaseListRequest: apimodels.BaseListRequest{Limit: listLimit, OrderBy: "created_at", Reverse: true},
			})
			if err != nil {
				return fmt.Errorf("listing jobs: %w", err)
			}
			return checkJobList(resp)
		})
	},
}

func checkJobList(resp *apimodels.ListJobsResponse) error {
	if resp == nil {
		return fmt.Errorf("listing jobs: empty reply: %w", ErrProtocol)
	}
	if len(resp.Items) > listLimit {
		return fmt.Errorf("listing jobs: asked for %d, got %d: %w", listLimit, len(resp.Items), ErrProtocol)
	}
	seen := make(map[string]int, len(resp.Items))
	for i, job := range resp.Items {
		if job == nil || job.ID == "" {
			return fmt.Errorf("listing jobs: item %d has no job ID: %w", i, ErrProtocol)
		}
		id := text.Quote(job.ID, maxJobIDText)
		if first, dup := seen[job.ID]; dup {
			return fmt.Errorf("listing jobs: items %d and %d are the same job %s: %w", first, i, id, ErrProtocol)
		}
		seen[job.ID] = i
		if job.State.StateType.IsUndefined() {
			return fmt.Errorf("listing jobs: job %s has no state: %w", id, ErrProtocol)
		}
		if i > 0 && job.CreateTime > resp.Items[i-1].CreateTime {
			return fmt.Errorf("listing jobs: job %s is newer than the one before it, want newest first: %w", id, ErrProtocol)
		}
	}
	return nil
}
