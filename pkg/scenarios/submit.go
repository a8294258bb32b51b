package scenarios

import (
	"context"
	"fmt"
)

// Submit submits the canary job and waits until it completes with exit code 0.
var Submit = Scenario{
	Name:    "submit",
	Submits: true,
	Doc:     "submit the canary job and wait for it: state Completed, exit code 0",
	Phases:  []string{"submit", "wait"},
	Run: func(ctx context.Context, p *Probe) error {
		var id string
		return p.steps(
			p.submitStep(ctx, 1, &id),
			step{"wait", func() error { return waitCompleted(ctx, p, id) }},
		)
	},
}

// waitCompleted waits for the job and checks its completed executions
// exited 0.
func waitCompleted(ctx context.Context, p *Probe, id string) error {
	if _, err := p.Wait(ctx, id); err != nil {
		return err
	}
	execs, err := p.Executions(ctx, id)
	if err != nil {
		return err
	}
	if err := checkExitCodes(execs); err != nil {
		return fmt.Errorf("job %s: %w", id, err)
	}
	return nil
}
