// Package scenarios holds the canary's call patterns against a Bacalhau
// network, one per file, and the runner that owns their outcome: deadline,
// timings, error class, the result log line and stopping what they submitted.
// A scenario only calls the API through its Probe and returns an error.
package scenarios

import (
	"context"
	"sort"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// Scenario is one call pattern of the canary.
type Scenario struct {
	Name   string   // CLI, env and Terraform key
	Doc    string   // one line for --help and the README
	Phases []string // every phase it may time, in order
	Run    func(ctx context.Context, p *Probe) error
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

// registry holds every scenario by name; each scenario file adds itself.
var registry = map[string]Scenario{}

func register(s Scenario) Scenario {
	if _, dup := registry[s.Name]; dup {
		panic("scenarios: duplicate scenario " + s.Name)
	}
	registry[s.Name] = s
	return s
}

// Lookup returns the scenario registered under name.
func Lookup(name string) (Scenario, bool) {
	s, ok := registry[name]
	return s, ok
}

// Names lists the registered scenarios in the order operators read them.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	order := map[string]int{"list": 0, "submit": 1, "submitAndDescribe": 2, "submitAndGet": 3, "submitWithConcurrency": 4}
	sort.Slice(names, func(i, j int) bool {
		oi, iok := order[names[i]]
		oj, jok := order[names[j]]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return names[i] < names[j]
	})
	return names
}

// All returns every registered scenario in Names order.
func All() []Scenario {
	out := make([]Scenario, 0, len(registry))
	for _, n := range Names() {
		out = append(out, registry[n])
	}
	return out
}
