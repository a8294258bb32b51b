// Package metrics turns a scenario run into metric points and records them
// through a Sink: Google Cloud Monitoring (gcp), JSON lines (stdout) or
// nowhere (none). The catalogue of metrics is the contract with Terraform:
// terraform/metrics.json is generated from it (go generate ./internal/catalogue).
package metrics

// Prefix starts every metric type of the canary.
const Prefix = "custom.googleapis.com/bacalhau_canary/"

// The monitored resource every point is written against. generic_task with
// fixed labels keeps each scenario's series continuous across runs.
const (
	ResourceType = "generic_task"
	Namespace    = "bacalhau-canary"
	TaskID       = "0"
)

// Metric names, relative to Prefix.
const (
	Success       = "success"
	Duration      = "duration_seconds"
	PhaseDuration = "phase_duration_seconds"
	Failure       = "failure"
	FailedRun     = "failed_run"
	FailureCause  = "failure_cause"
	ServerVersion = "server_version"
	Retries       = "api_retries"
	ComputeNodes  = "compute_nodes"
)

// Metric label keys.
const (
	LabelEnv        = "env"
	LabelPhase      = "phase"
	LabelErrorClass = "error_class"
	LabelVersion    = "version"
	LabelEngine     = "engine"
)

// Kinds and value types, spelled as in the Monitoring API.
const (
	KindGauge  = "GAUGE"
	TypeInt64  = "INT64"
	TypeDouble = "DOUBLE"
	envDoc     = "Canary environment (prod, staging, dev)."
	// A label's description is part of the descriptor's labels, which
	// cannot change in place: a new text would make Terraform replace the
	// descriptor, deleting its data. So phaseDoc predates the connect phase,
	// and errClassDoc the certificate class.
	phaseDoc    = "Scenario phase (list, submit, wait, describe, executions, history, results, download)."
	versionDoc  = "Bacalhau server version (v1.7.0, v1.9.3, ...), or unknown when the replies said none or one that does not read as a version."
	errClassDoc = "Why the run failed: unavailable, timeout, auth, bad_request, server, protocol, publisher, job_failed, output_mismatch, concurrency, canary."
	nodeVerDoc  = "Bacalhau version the compute nodes report (v1.7.0, v1.9.4, ...), unknown, or other for the smallest groups beyond seven."
	engineDoc   = "The canary's engine (docker, wasm), which the counted nodes support."
	failedDoc   = "The phase the run failed in (connect, list, submit, wait, describe, executions, history, results, download), or none when it failed outside any phase."
)

// Catalog is every metric the canary writes, in the shape of
// terraform/metrics.json.
type Catalog struct {
	Prefix  string       `json:"prefix"`
	Metrics []Descriptor `json:"metrics"`
}

// Descriptor describes one metric.
type Descriptor struct {
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	ValueType   string  `json:"value_type"`
	Unit        string  `json:"unit"`
	Description string  `json:"description"`
	Labels      []Label `json:"labels"`
	// SupersededBy names the metric that carries the same and more: this
	// one is still written for the charts and queries built on it, and the
	// project's own charts read the other.
	SupersededBy string `json:"superseded_by,omitempty"`
	// ChartedAs names the metric the dashboard charts in this one's place
	// (it carries the same as labels); this one is written for the query
	// that reads it.
	ChartedAs string `json:"charted_as,omitempty"`
	// WrittenBy names the only scenarios whose runs write the metric (the
	// dashboard charts it for those); empty: every scenario's.
	WrittenBy []string `json:"written_by,omitempty"`
}

// Label is one metric label.
type Label struct {
	Key         string `json:"key"`
	Description string `json:"description"`
}

// Type is the full metric type, e.g. custom.googleapis.com/bacalhau_canary/success.
func (d Descriptor) Type() string { return Prefix + d.Name }

// Catalogue returns the descriptors of every metric the canary writes.
func Catalogue() Catalog {
	env := Label{Key: LabelEnv, Description: envDoc}
	return Catalog{
		Prefix: Prefix,
		Metrics: []Descriptor{
			{
				Name: Success, Kind: KindGauge, ValueType: TypeInt64, Unit: "1",
				Description: "1 when the scenario run passed every check, 0 when it failed; not written for a run of class canary. Stamped on the run's schedule slot.",
				Labels:      []Label{env},
			},
			{
				Name: Duration, Kind: KindGauge, ValueType: TypeDouble, Unit: "s",
				Description: "Wall time of the whole scenario run.",
				Labels:      []Label{env},
			},
			{
				Name: PhaseDuration, Kind: KindGauge, ValueType: TypeDouble, Unit: "s",
				Description: "Wall time of one phase of the scenario run; 0 when the phase was not reached.",
				Labels:      []Label{env, {Key: LabelPhase, Description: phaseDoc}},
			},
			{
				Name: Failure, Kind: KindGauge, ValueType: TypeInt64, Unit: "1",
				Description:  "1 for a failed run, labelled with its error class; written only on failure.",
				Labels:       []Label{env, {Key: LabelErrorClass, Description: errClassDoc}},
				SupersededBy: FailedRun,
			},
			{
				// failure with the failed phase: a metric type of its own,
				// since a descriptor's labels cannot change in place. Its
				// value orders a scenario's failures by recency, so a
				// query can pick the latest one's class and phase.
				Name: FailedRun, Kind: KindGauge, ValueType: TypeInt64, Unit: "min",
				Description: "Written only for a failed run, labelled with its error class and failed phase; the value is the run's stamp (its schedule slot) in Unix minutes, so the newest failure has the largest value.",
				Labels:      []Label{env, {Key: LabelErrorClass, Description: errClassDoc}, {Key: LabelPhase, Description: failedDoc}},
			},
			{
				// The cause as a value, not as labels: the "network
				// failing" page names it through the firing series' value,
				// which, unlike a label, is not part of the incident's
				// identity, so a cause that changes keeps one incident.
				Name: FailureCause, Kind: KindGauge, ValueType: TypeInt64, Unit: "1",
				Description: "Written only for a failed run of a network class (not canary): its class code times 100 plus its failed phase's code (0 for none), so 204 is timeout in wait; the codes are listed in terraform/scenarios.json and docs/metrics.md.",
				Labels:      []Label{env},
				ChartedAs:   FailedRun,
			},
			{
				// A metric type of its own: a descriptor's labels cannot
				// change in place, so the version is no label of success.
				Name: ServerVersion, Kind: KindGauge, ValueType: TypeInt64, Unit: "1",
				Description: "1 for every recorded run, labelled with the Bacalhau server version its API replies said (X-Bacalhau-Git-Version), or unknown.",
				Labels:      []Label{env, {Key: LabelVersion, Description: versionDoc}},
			},
			{
				Name: Retries, Kind: KindGauge, ValueType: TypeInt64, Unit: "1",
				Description: "API calls the run repeated after a transient fault (HTTP 502, 503 or 504, a reset, an EOF before the reply, a refused connection on a read); written for every recorded run, 0 when none.",
				Labels:      []Label{env},
			},
			{
				// The node census (the nodes scenario; a failed
				// submitWithConcurrency): written only by a run that took one.
				Name: ComputeNodes, Kind: KindGauge, ValueType: TypeInt64, Unit: "1",
				Description: "Connected, approved compute nodes that match the canary's node selectors and support its engine (and publisher), by Bacalhau version; written by a run that took a node census, one point per version.",
				Labels:      []Label{env, {Key: LabelVersion, Description: nodeVerDoc}, {Key: LabelEngine, Description: engineDoc}},
				WrittenBy:   []string{"nodes", "submitWithConcurrency"},
			},
		},
	}
}
