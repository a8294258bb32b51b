package scenarios

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// SubmitAndDescribe submits the canary job, waits, then reads it back three
// ways (job with executions, executions, history) and checks they agree.
var SubmitAndDescribe = Scenario{
	Name:    "submitAndDescribe",
	Submits: true,
	Doc:     "submit, wait, then describe the job, list its executions and history; all three must agree",
	Phases:  []string{"submit", "wait", "describe", "executions", "history"},
	Run: func(ctx context.Context, p *Probe) error {
		var id string
		var described, completed []string
		return p.steps(
			p.submitStep(ctx, 1, &id),
			step{"wait", func() error {
				_, err := p.Wait(ctx, id)
				return err
			}},
			step{"describe", func() (err error) {
				described, err = describe(ctx, p, id)
				return err
			}},
			step{"executions", func() error {
				execs, err := p.Executions(ctx, id)
				if err != nil {
					return err
				}
				if err := checkExitCodes(execs); err != nil {
					return err
				}
				completed = completedIDs(execs)
				if !slices.Equal(completed, described) {
					return fmt.Errorf("executions list completed %s, job description says %s: %w",
						text.Quote(strings.Join(completed, " "), maxIDsText), text.Quote(strings.Join(described, " "), maxIDsText), ErrProtocol)
				}
				return nil
			}},
			step{"history", func() error { return checkHistory(ctx, p, id, completed) }},
		)
	},
}

// describe gets the job with its executions, checks it is the canary job,
// Completed, and returns its completed execution IDs.
func describe(ctx context.Context, p *Probe, id string) ([]string, error) {
	resp, err := p.Jobs.Get(ctx, &apimodels.GetJobRequest{JobIDOrName: id, Include: "executions"})
	if err != nil {
		return nil, fmt.Errorf("describing job: %w", err)
	}
	switch {
	case resp == nil || resp.Job == nil:
		return nil, fmt.Errorf("describing job: reply has no job: %w", ErrProtocol)
	case resp.Job.ID != id:
		return nil, fmt.Errorf("describing job %s: got job %s: %w", id, text.Quote(resp.Job.ID, maxJobIDText), ErrProtocol)
	case resp.Job.State.StateType != models.JobStateTypeCompleted:
		return nil, fmt.Errorf("describing job %s: state %s after it was Completed: %w", id, resp.Job.State.StateType, ErrProtocol)
	case resp.Job.Labels[LabelCanary] != "true":
		return nil, fmt.Errorf("describing job %s: label %s missing: %w", id, LabelCanary, ErrProtocol)
	case resp.Executions == nil:
		return nil, fmt.Errorf("describing job %s: executions were asked for but not included: %w", id, ErrProtocol)
	}
	for _, e := range resp.Executions.Items {
		if e == nil || e.JobID != id {
			return nil, fmt.Errorf("describing job %s: an included execution belongs to another job: %w", id, ErrProtocol)
		}
	}
	ids := completedIDs(resp.Executions.Items)
	if len(ids) == 0 {
		return nil, fmt.Errorf("describing job %s: no completed execution: %w", id, ErrProtocol)
	}
	return ids, nil
}

// checkHistory checks the job's history records it reaching Completed and
// events for each completed execution.
func checkHistory(ctx context.Context, p *Probe, id string, completed []string) error {
	resp, err := p.Jobs.History(ctx, &apimodels.ListJobHistoryRequest{JobIDOrName: id})
	if err != nil {
		return fmt.Errorf("listing history: %w", err)
	}
	if resp == nil || len(resp.Items) == 0 {
		return fmt.Errorf("listing history: no events for job %s: %w", id, ErrProtocol)
	}
	for _, h := range resp.Items {
		if h == nil || h.JobID != id {
			return fmt.Errorf("listing history: an event belongs to another job: %w", ErrProtocol)
		}
	}
	// The order of events is their sequence number (then time), not the
	// reply's order.
	slices.SortStableFunc(resp.Items, func(a, b *models.JobHistory) int {
		return cmp.Or(cmp.Compare(a.SeqNum, b.SeqNum), a.Time.Compare(b.Time))
	})
	var states []models.JobStateType
	execEvents := map[string]int{}
	for _, h := range resp.Items {
		switch h.Type {
		case models.JobHistoryTypeJobLevel:
			state, err := h.Event.GetJobStateIfPresent()
			if err != nil {
				return fmt.Errorf("listing history: unreadable job state: %v: %w", err, ErrProtocol)
			}
			if !state.IsUndefined() {
				states = append(states, state)
			}
		case models.JobHistoryTypeExecutionLevel:
			execEvents[h.ExecutionID]++
		}
	}
	if len(states) == 0 || states[len(states)-1] != models.JobStateTypeCompleted {
		return fmt.Errorf("listing history: job state transitions %v do not end in Completed: %w", states, ErrProtocol)
	}
	for _, e := range completed {
		if execEvents[e] == 0 {
			return fmt.Errorf("listing history: no events for completed execution %s: %w", text.Quote(e, maxJobIDText), ErrProtocol)
		}
	}
	return nil
}

// maxIDsText bounds a list of execution IDs quoted in an error text.
const maxIDsText = 300

// completedIDs are the IDs of the completed executions, sorted.
func completedIDs(execs []*models.Execution) []string {
	var ids []string
	for _, e := range execs {
		if e.ComputeState.StateType == models.ExecutionStateCompleted {
			ids = append(ids, e.ID)
		}
	}
	slices.Sort(ids)
	return ids
}
