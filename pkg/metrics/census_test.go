package metrics_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// A run that took a node census writes compute_nodes, one point per
// version group with the catalogue's labels; a census with no matching node
// writes one 0; a run without one writes none.
func TestComputeNodesPoints(t *testing.T) {
	t.Parallel()
	d, ok := lookup(metrics.Catalogue(), metrics.ComputeNodes)
	if !ok {
		t.Fatal("compute_nodes is not in the catalogue")
	}
	var keys []string
	for _, l := range d.Labels {
		keys = append(keys, l.Key)
	}
	tests := []struct {
		name   string
		census *scenarios.Census
		want   map[string]int64 // version → value
	}{
		{"no census", nil, map[string]int64{}},
		{"two versions", &scenarios.Census{Engine: "docker", Groups: []scenarios.CensusGroup{
			{Version: "v1.7.0", Nodes: 2}, {Version: "v1.9.4", Nodes: 1},
		}}, map[string]int64{"v1.7.0": 2, "v1.9.4": 1}},
		{"none match", &scenarios.Census{Engine: "docker"}, map[string]int64{scenarios.UnknownVersion: 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := scenarios.Result{Scenario: "nodes", Env: "prod", Success: tc.census == nil || len(tc.census.Groups) > 0, Census: tc.census, Duration: time.Second}
			if !r.Success {
				r.Class, r.FailedPhase = scenarios.ErrConcurrency, "nodes"
			}
			got := map[string]int64{}
			for _, p := range metrics.Points(r, time.Now()) {
				if p.Metric != metrics.ComputeNodes {
					continue
				}
				if k := slices.Sorted(maps.Keys(p.Labels)); !slices.Equal(k, slices.Sorted(slices.Values(keys))) {
					t.Errorf("labels %v, catalogue says %v", k, keys)
				}
				if p.Labels[metrics.LabelEngine] != "docker" || p.Labels[metrics.LabelEnv] != "prod" {
					t.Errorf("labels %v", p.Labels)
				}
				got[p.Labels[metrics.LabelVersion]] = p.Int64
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("compute_nodes %v, want %v", got, tc.want)
			}
		})
	}
}
