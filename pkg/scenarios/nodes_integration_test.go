package scenarios_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// The census on a real network of 3 compute-capable nodes (node-0, which
// also orchestrates, + 2 compute) passes; when one compute node leaves (goes
// silent, as if its machine had gone away), the orchestrator marks it
// disconnected once its heartbeats are missed and the scenario fails,
// saying 2 of 3.
func TestNodesCensusWhenANodeLeaves(t *testing.T) {
	skipShort(t)
	forEachVersion(t, func(t *testing.T, v devnet.Version) {
		n := ownNetwork(t, devnet.Options{Version: v, Auth: true})
		run := func() scenarios.Result {
			return runner(n, n.APIKey, scenarios.JobSpec{}, 30*time.Second).Run(t.Context(), scenarios.Nodes)
		}
		res := run()
		if !res.Success {
			t.Fatalf("3 nodes: %s: %s", res.Class, res.Error)
		}
		c := res.Census
		if c == nil || c.Matching != 3 || len(c.Groups) != 1 || c.Groups[0].Version != string(v) || c.Groups[0].Nodes != 3 || c.Engine != scenarios.EngineWasm {
			t.Fatalf("census %+v, want 3 %s wasm nodes", c, v)
		}
		if res.JobID != "" {
			t.Errorf("the census created job %s", res.JobID)
		}

		left, err := n.StopComputeNode(t.Context())
		if err != nil || left == "none" {
			t.Fatalf("stopping a compute node: %q %v", left, err)
		}
		deadline := time.Now().Add(3 * time.Minute)
		for res.Success && time.Now().Before(deadline) {
			time.Sleep(2 * time.Second)
			res = run()
		}
		if res.Success {
			t.Fatalf("node %s left 3 minutes ago; the census still passes: %+v", left, res.Census)
		}
		want := "2 of 3 matching compute nodes connected (" + string(v) + " wasm: 2)"
		if res.Class != scenarios.ErrConcurrency || !strings.Contains(res.Error, want) || res.FailedPhase != "nodes" {
			t.Fatalf("after node %s left: class %s, phase %s, error %q; want concurrency in phase nodes saying %q", left, res.Class, res.FailedPhase, res.Error, want)
		}
		t.Logf("%s: %s", v, res.Error)
	})
}
