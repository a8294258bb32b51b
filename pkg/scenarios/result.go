package scenarios

import (
	"log/slog"
	"time"
)

// Result is one run of one scenario: what the log line and the metrics say.
type Result struct {
	Scenario string
	Env      string
	Success  bool
	Class    Class  // empty on success
	Error    string // empty on success; never holds a secret
	JobID    string // the job the run submitted, if any (bounded, redacted)
	RunID    string // the run's canary_run label
	Stopped  bool   // the runner stopped that job after a failure
	// JobLeftRunning says a failed run's job may still run: its stop
	// failed, or the job found by the run's label has an ID the canary
	// does not put in a URL (checkJobID).
	JobLeftRunning bool
	Start          time.Time
	Duration       time.Duration
	Phases         []Phase // every phase of the scenario, in order
	// ExtraExecutions counts the job's executions beyond one completed per
	// partition: retried (Failed), rejected or cancelled ones. Reported,
	// never a failure by itself (submitWithConcurrency).
	ExtraExecutions int
	// FailedPhase is the phase a failed run was in when it failed (the
	// last phase that returned an error; connect when the API key could
	// not be read); empty on success.
	FailedPhase string
	// ServerVersion is what the API's replies said (Conn.Version), or
	// UnknownVersion.
	ServerVersion string
	// CanaryVersion and CanaryImage say which canary ran: the version
	// stamped at build time and the image Terraform deployed.
	CanaryVersion string
	CanaryImage   string
	Endpoint      string   // the API's base URL
	NodeIDs       []string // nodes of the job's executions the run listed (bounded, sanitised)
	// Retries counts the API calls repeated after a transient fault;
	// RetryFaults names those faults (the Fault constants).
	Retries     int
	RetryFaults []string
	// SubmitReplyLost says the submit's reply was lost and the run went
	// on with the job its canary_run label found.
	SubmitReplyLost bool
	// JobState is the submitted job's state as the run last saw it (from
	// its polls, its stop or the check after a failed stop); "" unknown.
	JobState string
	// Cleanup is the time a failed run spent after its scenario ended:
	// describing and stopping its job (not part of Duration).
	Cleanup time.Duration
	// Census is the run's node census (the nodes scenario, and a failed
	// submitWithConcurrency); nil when it took none.
	Census *Census
}

// Phase is the time spent in one phase; zero when it was not reached.
type Phase struct {
	Name     string
	Duration time.Duration
	Reached  bool
}

// LogAttrs are the result as slog attributes, for the one line per run.
func (r Result) LogAttrs() []slog.Attr {
	var phases []any
	for _, p := range r.Phases {
		phases = append(phases, slog.Float64(p.Name, p.Duration.Seconds()))
	}
	attrs := []slog.Attr{
		slog.String("scenario", r.Scenario),
		slog.String("env", r.Env),
		slog.Bool("success", r.Success),
		slog.String("error_class", string(r.Class)),
		slog.String("error", r.Error),
		slog.String("job_id", r.JobID),
		slog.String("run_id", r.RunID),
		slog.Bool("job_stopped", r.Stopped),
		slog.Bool("job_left_running", r.JobLeftRunning),
		slog.Int("extra_executions", r.ExtraExecutions),
		slog.Time("start", r.Start),
		slog.Float64("duration_seconds", r.Duration.Seconds()),
		slog.Group("phase_duration_seconds", phases...),
		slog.String("failed_phase", r.FailedPhase),
		slog.String("server_version", r.ServerVersion),
		slog.String("canary_version", r.CanaryVersion),
		slog.String("canary_image", r.CanaryImage),
		slog.String("endpoint", r.Endpoint),
		slog.Any("node_ids", append([]string{}, r.NodeIDs...)), // [] rather than null
		slog.Int("retries", r.Retries),
		slog.Any("retry_faults", append([]string{}, r.RetryFaults...)),
		slog.Bool("submit_reply_lost", r.SubmitReplyLost),
		slog.String("job_state", r.JobState),
		slog.Float64("cleanup_seconds", r.Cleanup.Seconds()),
	}
	if c := r.Census; c != nil {
		var groups []any
		for _, g := range c.Groups {
			groups = append(groups, slog.Int(g.Version, g.Nodes))
		}
		attrs = append(attrs, slog.Group("nodes",
			slog.Int("matching", c.Matching), slog.Int("needed", c.Needed), slog.Int("connected", c.Connected),
			slog.String("engine", c.Engine), slog.Group("by_version", groups...)))
	}
	return attrs
}
