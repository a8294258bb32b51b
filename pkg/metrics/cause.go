package metrics

import (
	"slices"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// CausePhases numbers the phases for failure_cause: a phase's code is its
// position here plus one. Append only: a code, once written, must keep
// naming the same phase (TestCausePhasesCoverTheRegistry fails when a
// scenario declares a phase missing here).
var CausePhases = []string{
	scenarios.PhaseConnect, "list", "submit", "wait", "describe", "executions", "history", "results", "download", "nodes",
}

// ClassCode is the class's code in failure_cause: its position in
// scenarios.Classes (a stable, append-only order) plus one; 0 for a class
// not in it.
func ClassCode(c scenarios.Class) int64 { return int64(slices.Index(scenarios.Classes, c) + 1) }

// PhaseCode is the phase's code in failure_cause: its position in
// CausePhases plus one; 0 for none or a phase not in it.
func PhaseCode(phase string) int64 { return int64(slices.Index(CausePhases, phase) + 1) }

// Cause is the value of a failed run's failure_cause point: the class code
// times 100 plus the phase code, so 204 is timeout (2) in wait (4). The
// "network failing" page shows it as the firing series' value, and its
// body lists the codes (terraform/scenarios.json, generated from here).
func Cause(c scenarios.Class, phase string) int64 { return ClassCode(c)*100 + PhaseCode(phase) }
