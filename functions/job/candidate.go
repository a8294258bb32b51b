package main

import (
	"context"
	"log/slog"

	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// candidateExit is the deploy pipeline's verdict on a run of a new image
// (CANARY_CANDIDATE=true): a passing run, or one that failed for a reason of
// the network, passes (a red network must not block a canary fix); class
// canary fails. Exit 2 and 3 never reach here and keep failing.
func candidateExit(log *slog.Logger, code int, class scenarios.Class) int {
	if code == canary.ExitPass {
		return canary.ExitPass
	}
	if class == scenarios.ErrCanary {
		log.LogAttrs(context.Background(), slog.LevelError, "candidate rejected: the run failed as class canary",
			slog.String("error_class", string(class)))
		return canary.ExitFail
	}
	log.LogAttrs(context.Background(), slog.LevelWarn, "candidate accepted: the run failed for a reason of the network, not of the canary",
		slog.String("error_class", string(class)))
	return canary.ExitPass
}
