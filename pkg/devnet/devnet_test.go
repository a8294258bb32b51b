package devnet_test

import (
	"os"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/devnet"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func TestDevnetRunsJobsAndLeavesNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("real Bacalhau network: skipped under -short")
	}
	tmp := t.TempDir()
	// A BACALHAU_* variable in the caller's environment must not reach the nodes.
	t.Setenv("BACALHAU_API_PORT", "1")
	n, err := devnet.Start(t.Context(), devnet.Options{Hybrid: 1, Compute: 2, TempDir: tmp, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	if n.Host != "127.0.0.1" || n.Port <= 1 {
		t.Fatalf("API at %s, want 127.0.0.1 on a free port", n.Addr())
	}
	jobs, fetcher := bacalhau.New(bacalhau.Options{Host: n.Host, Port: n.Port, Timeout: 20 * time.Second})
	nodes := 0
	r := &scenarios.Runner{Jobs: jobs, Fetcher: fetcher, Spec: scenarios.JobSpec{Engine: scenarios.EngineWasm}, Env: "test", Timeout: 20 * time.Second}
	if res := r.Run(t.Context(), scenarios.SubmitWithConcurrency); !res.Success {
		t.Fatalf("3 executions on 3 nodes failed: %s: %s", res.Class, res.Error)
	} else {
		execs, err := jobs.Executions(t.Context(), &apimodels.ListJobExecutionsRequest{JobIDOrName: res.JobID})
		if err != nil {
			t.Fatal(err)
		}
		nodes = len(execs.Items)
	}
	if nodes != 3 {
		t.Errorf("%d executions, want 3", nodes)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) == 0 {
		t.Error("the network wrote nothing under its TMPDIR; is TMPDIR honoured?")
	}
	if err := n.Stop(); err != nil {
		t.Errorf("stop on SIGTERM: %v", err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left %d entries in its temp dir, e.g. %s", len(entries), entries[0].Name())
	}
}

func TestDevnetRejectsBadFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the devnet: skipped under -short")
	}
	t.Parallel()
	_, err := devnet.Start(t.Context(), devnet.Options{Hybrid: -1})
	if err == nil {
		t.Fatal("started a network with -hybrid -1")
	}
}

func TestStopComputeNode(t *testing.T) {
	if testing.Short() {
		t.Skip("real Bacalhau network: skipped under -short")
	}
	t.Parallel()
	n, err := devnet.Start(t.Context(), devnet.Options{Hybrid: 1, Compute: 2, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"node-2", "node-1", "none"} {
		got, err := n.StopComputeNode(t.Context())
		if err != nil || got != want {
			t.Fatalf("StopComputeNode = %q, %v; want %q", got, err, want)
		}
	}
	// The orchestrator (a hybrid node) still answers.
	jobs, _ := bacalhau.New(bacalhau.Options{Host: n.Host, Port: n.Port, Timeout: 5 * time.Second})
	if _, err := jobs.List(t.Context(), &apimodels.ListJobsRequest{}); err != nil {
		t.Errorf("API after stopping the compute nodes: %v", err)
	}
	if err := n.Stop(); err != nil {
		t.Errorf("stop after stopping compute nodes: %v", err)
	}
}
