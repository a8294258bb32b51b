// Package scenarios holds the canary's call patterns against a Bacalhau
// network, one per file, and the runner that owns their outcome: deadline,
// timings, error class, the result log line and stopping what they submitted.
// A scenario only calls the API through its Probe and returns an error.
package scenarios

import (
	"context"
	"regexp"
	"slices"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// Scenario is one call pattern of the canary.
type Scenario struct {
	Name   string   // CLI, env and Terraform key
	Doc    string   // one line for --help and the README
	Phases []string // every phase it may time, in order, after the runner's connect phase
	// Submits says each run submits one job, which stays in the network's
	// job store: neither supported release deletes or collects jobs
	// (README, "Job store").
	Submits bool
	Run     func(ctx context.Context, p *Probe) error
}

// AllPhases are the phases of a run of s, in order: the runner's connect
// phase, then the scenario's own. Every run reports each of them.
func (s Scenario) AllPhases() []string {
	return append([]string{PhaseConnect}, s.Phases...)
}

// Jobs is the part of the Bacalhau v1.7 API the scenarios use; the
// client's (*clientv2.Jobs) satisfies it.
type Jobs interface {
	Put(ctx context.Context, r *apimodels.PutJobRequest) (*apimodels.PutJobResponse, error)
	Get(ctx context.Context, r *apimodels.GetJobRequest) (*apimodels.GetJobResponse, error)
	List(ctx context.Context, r *apimodels.ListJobsRequest) (*apimodels.ListJobsResponse, error)
	History(ctx context.Context, r *apimodels.ListJobHistoryRequest) (*apimodels.ListJobHistoryResponse, error)
	Executions(ctx context.Context, r *apimodels.ListJobExecutionsRequest) (*apimodels.ListJobExecutionsResponse, error)
	Results(ctx context.Context, r *apimodels.ListJobResultsRequest) (*apimodels.ListJobResultsResponse, error)
	Stop(ctx context.Context, r *apimodels.StopJobRequest) (*apimodels.StopJobResponse, error)
}

// UnknownVersion is the server version of a run whose API replies said
// none (or one that does not read as a version).
const UnknownVersion = "unknown"

// versionRE is what a server version may look like to become a metric
// label: v1.9.3, v1.7.0-rc1, 1.8.0+build.5; at most 48 bytes.
var versionRE = regexp.MustCompile(`^v?[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,6}([-+][0-9A-Za-z.-]{1,32})?$`)

// SanitizeVersion returns v when it reads as a version, else
// UnknownVersion: the value came from the network.
func SanitizeVersion(v string) string {
	if !versionRE.MatchString(v) {
		return UnknownVersion
	}
	return v
}

// all is every scenario, in the order operators read them: the one list
// the CLI, the job, the functions, Terraform (terraform/scenarios.json) and
// the docs take the scenarios from.
var all = []Scenario{List, Submit, SubmitAndDescribe, SubmitAndGet, SubmitWithConcurrency, Nodes}

// Lookup returns the scenario named name.
func Lookup(name string) (Scenario, bool) {
	i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return all[i], true
}

// Names lists the scenarios' names in order.
func Names() []string {
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	return names
}

// All returns every scenario in order.
func All() []Scenario { return slices.Clone(all) }
