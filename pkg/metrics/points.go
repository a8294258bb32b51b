package metrics

import (
	"cmp"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// NoPhase is the phase label of a run that failed outside any phase.
const NoPhase = "none"

// Point is one value of one metric for one run.
type Point struct {
	Metric    string            // name in the catalogue, e.g. "success"
	ValueType string            // TypeInt64 or TypeDouble
	Int64     int64             // the value when ValueType is TypeInt64
	Double    float64           // the value when ValueType is TypeDouble
	Labels    map[string]string // metric labels
}

// Points are what one run writes: success (not for a canary-class run,
// which says nothing about the network: it counts neither as a pass nor as
// a failure), duration_seconds, one phase_duration_seconds per phase of the
// scenario (0 when not reached), server_version (1, labelled with the
// sanitised server version), api_retries (the calls repeated after a
// transient fault) and, on failure only, failure_cause (the class and
// phase as one code: Cause; not for a canary-class run), failure labelled
// with the error class and failed_run labelled with the class and the
// failed phase, valued at the Unix minute of at, the points' stamp; a run that
// took a node census adds compute_nodes, one point per version (0 labelled
// unknown when no node matches).
func Points(r scenarios.Result, at time.Time) []Point {
	pts := make([]Point, 0, 7+len(r.Phases))
	// add appends a point labelled with the env and the label pairs kv.
	add := func(p Point, kv ...string) {
		p.Labels = map[string]string{LabelEnv: r.Env}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
		pts = append(pts, p)
	}
	integer := func(metric string, v int64, kv ...string) {
		add(Point{Metric: metric, ValueType: TypeInt64, Int64: v}, kv...)
	}
	class := r.Class
	if !r.Success && class == "" {
		class = scenarios.ErrCanary
	}
	if class != scenarios.ErrCanary {
		success := int64(0)
		if r.Success {
			success = 1
		}
		integer(Success, success)
	}
	add(Point{Metric: Duration, ValueType: TypeDouble, Double: r.Duration.Seconds()})
	for _, ph := range r.Phases {
		add(Point{Metric: PhaseDuration, ValueType: TypeDouble, Double: ph.Duration.Seconds()}, LabelPhase, ph.Name)
	}
	integer(ServerVersion, 1, LabelVersion, scenarios.SanitizeVersion(r.ServerVersion))
	integer(Retries, int64(r.Retries))
	if c := r.Census; c != nil {
		for _, g := range c.Groups {
			integer(ComputeNodes, int64(g.Nodes), LabelVersion, g.Version, LabelEngine, c.Engine)
		}
		if len(c.Groups) == 0 { // none match: say so, rather than write nothing
			integer(ComputeNodes, 0, LabelVersion, scenarios.UnknownVersion, LabelEngine, c.Engine)
		}
	}
	if !r.Success {
		phase := cmp.Or(r.FailedPhase, NoPhase)
		if class != scenarios.ErrCanary {
			integer(FailureCause, Cause(class, r.FailedPhase))
		}
		integer(Failure, 1, LabelErrorClass, string(class))
		integer(FailedRun, at.Unix()/60, LabelErrorClass, string(class), LabelPhase, phase)
	}
	return pts
}

// ResourceLabels are the labels of the generic_task resource a scenario's
// points are written against.
func ResourceLabels(project, location, scenario string) map[string]string {
	return map[string]string{
		"project_id": project,
		"location":   location,
		"namespace":  Namespace,
		"job":        scenario,
		"task_id":    TaskID,
	}
}
