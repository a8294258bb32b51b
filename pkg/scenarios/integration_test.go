package scenarios_test

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// The real-network tests share one devnet per package run.
var (
	shared     *devnet.Network
	sharedErr  error
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping devnet:", err)
		}
	}
	os.Exit(code)
}

// network returns the shared devnet (1 hybrid + 2 compute nodes).
func network(t testing.TB) *devnet.Network {
	t.Helper()
	if testing.Short() {
		t.Skip("real Bacalhau network: skipped under -short")
	}
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		shared, sharedErr = devnet.Start(ctx, devnet.Options{Stderr: os.Stderr})
	})
	if sharedErr != nil {
		t.Fatalf("devnet: %v", sharedErr)
	}
	return shared
}

func runner(host string, port int, spec scenarios.JobSpec, timeout time.Duration) *scenarios.Runner {
	jobs, fetcher := bacalhau.New(bacalhau.Options{Host: host, Port: port, Timeout: timeout})
	if spec.Engine == "" {
		spec.Engine = scenarios.EngineWasm
	}
	if spec.Publisher == "" {
		spec.Publisher = scenarios.PublisherLocal // the canary's default (CANARY_PUBLISHER)
	}
	return &scenarios.Runner{Jobs: jobs, Fetcher: fetcher, Spec: spec, Env: "test", Timeout: timeout}
}

// assertNoCanaryJobRunning lists the network's canary jobs and fails on any
// that is not in a terminal state.
func assertNoCanaryJobRunning(t *testing.T, n *devnet.Network) {
	t.Helper()
	jobs, _ := bacalhau.New(bacalhau.Options{Host: n.Host, Port: n.Port, Timeout: 10 * time.Second})
	req := &apimodels.ListJobsRequest{}
	req.Limit = 1000
	resp, err := jobs.List(t.Context(), req)
	if err != nil {
		t.Fatalf("listing jobs: %v", err)
	}
	for _, j := range resp.Items {
		if j.Labels[scenarios.LabelCanary] == "true" && !j.State.StateType.IsTerminal() {
			t.Errorf("canary job %s (%s) left %s", j.ID, j.Labels[scenarios.LabelScenario], j.State.StateType)
		}
	}
}

func TestScenariosAgainstDevnet(t *testing.T) {
	n := network(t)
	for _, s := range scenarios.All() {
		t.Run(s.Name, func(t *testing.T) {
			res := runner(n.Host, n.Port, scenarios.JobSpec{}, 30*time.Second).Run(t.Context(), s)
			if !res.Success {
				t.Fatalf("%s failed: %s: %s", s.Name, res.Class, res.Error)
			}
			for _, p := range res.Phases {
				if !p.Reached || p.Duration <= 0 {
					t.Errorf("phase %s: reached=%v duration=%s", p.Name, p.Reached, p.Duration)
				}
			}
		})
	}
	assertNoCanaryJobRunning(t, n)
}

func TestWrongExpectedOutputIsAMismatch(t *testing.T) {
	n := network(t)
	spec := scenarios.JobSpec{Expect: "Hello from somewhere else\n"}
	res := runner(n.Host, n.Port, spec, 30*time.Second).Run(t.Context(), scenarios.SubmitAndGet)
	if res.Success || res.Class != scenarios.ErrOutputMismatch {
		t.Fatalf("got success=%v class=%q (%s), want output_mismatch", res.Success, res.Class, res.Error)
	}
}

func TestNonZeroExitIsAFailedJob(t *testing.T) {
	n := network(t)
	res := runner(n.Host, n.Port, scenarios.JobSpec{ExitCode: 3}, 30*time.Second).Run(t.Context(), scenarios.Submit)
	if res.Success || res.Class != scenarios.ErrJobFailed {
		t.Fatalf("got success=%v class=%q (%s), want job_failed", res.Success, res.Class, res.Error)
	}
	assertNoCanaryJobRunning(t, n)
}

func TestJobOutlivingTheDeadlineIsStopped(t *testing.T) {
	n := network(t)
	// The module sleeps 8 s; the run's deadline is 3 s. The job's own task
	// timeout (below the deadline) or the canary's deadline fires first;
	// either way the run is a timeout and the job ends up terminal.
	r := runner(n.Host, n.Port, scenarios.JobSpec{SleepMS: 8000}, 3*time.Second)
	res := r.Run(t.Context(), scenarios.Submit)
	if res.Success || res.Class != scenarios.ErrTimeout {
		t.Fatalf("got success=%v class=%q (%s), want timeout", res.Success, res.Class, res.Error)
	}
	if res.Duration > r.Timeout+time.Second {
		t.Errorf("run took %s, over its deadline %s plus 1s", res.Duration, r.Timeout)
	}
	jobs, _ := bacalhau.New(bacalhau.Options{Host: n.Host, Port: n.Port, Timeout: 10 * time.Second})
	got, err := jobs.Get(t.Context(), &apimodels.GetJobRequest{JobIDOrName: res.JobID})
	if err != nil {
		t.Fatal(err)
	}
	if st := got.Job.State.StateType; !st.IsTerminal() {
		t.Errorf("job %s is %s after the run, want it stopped", res.JobID, st)
	}
	if !res.Stopped && got.Job.State.StateType != models.JobStateTypeFailed {
		t.Errorf("job %s neither stopped by the canary nor failed by its own timeout: %s", res.JobID, got.Job.State.StateType)
	}
	assertNoCanaryJobRunning(t, n)
}

func TestSingleComputeNodeFailsConcurrency(t *testing.T) {
	if testing.Short() {
		t.Skip("real Bacalhau network: skipped under -short")
	}
	t.Parallel()
	n, err := devnet.Start(t.Context(), devnet.Options{Hybrid: 1, Compute: -1, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	res := runner(n.Host, n.Port, scenarios.JobSpec{}, 30*time.Second).Run(t.Context(), scenarios.SubmitWithConcurrency)
	if res.Success || res.Class != scenarios.ErrConcurrency {
		t.Fatalf("got success=%v class=%q (%s), want concurrency", res.Success, res.Class, res.Error)
	}
	assertNoCanaryJobRunning(t, n)
}

func TestStoppedNetworkIsUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("real Bacalhau network: skipped under -short")
	}
	t.Parallel()
	n, err := devnet.Start(t.Context(), devnet.Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, s := range scenarios.All() {
		res := runner(n.Host, n.Port, scenarios.JobSpec{}, 30*time.Second).Run(t.Context(), s)
		if res.Success || res.Class != scenarios.ErrUnavailable {
			t.Errorf("%s: got success=%v class=%q (%s), want unavailable", s.Name, res.Success, res.Class, res.Error)
		}
		if res.Duration > 2*time.Second {
			t.Errorf("%s: took %s to notice a stopped network, want under 2s", s.Name, res.Duration)
		}
	}
}

func TestUnresolvableHostIsUnavailable(t *testing.T) {
	t.Parallel()
	// .invalid never resolves (RFC 2606); no packet leaves the machine.
	res := runner("canary-test.invalid", 1234, scenarios.JobSpec{}, 5*time.Second).Run(t.Context(), scenarios.List)
	if res.Class != scenarios.ErrUnavailable {
		t.Errorf("class = %q (%s), want unavailable", res.Class, res.Error)
	}
}

func TestRefusedPortIsUnavailable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	res := runner("127.0.0.1", port, scenarios.JobSpec{}, 5*time.Second).Run(t.Context(), scenarios.Submit)
	if res.Class != scenarios.ErrUnavailable {
		t.Errorf("class = %q (%s), want unavailable", res.Class, res.Error)
	}
}

// BenchmarkSubmit measures the submit scenario against the devnet and
// reports the canary's overhead over the server-side completion time (job
// history: first to last event).
func BenchmarkSubmit(b *testing.B) {
	n := network(b)
	r := runner(n.Host, n.Port, scenarios.JobSpec{}, 30*time.Second)
	jobs, _ := bacalhau.New(bacalhau.Options{Host: n.Host, Port: n.Port, Timeout: 10 * time.Second})
	var overhead, server time.Duration
	for b.Loop() {
		res := r.Run(b.Context(), scenarios.Submit)
		if !res.Success {
			b.Fatalf("submit failed: %s: %s", res.Class, res.Error)
		}
		b.StopTimer()
		h, err := jobs.History(b.Context(), &apimodels.ListJobHistoryRequest{JobIDOrName: res.JobID})
		if err != nil || len(h.Items) < 2 {
			b.Fatalf("history: %v", err)
		}
		first, last := h.Items[0].Occurred(), h.Items[len(h.Items)-1].Occurred()
		server += last.Sub(first)
		overhead += res.Duration - last.Sub(first)
		b.StartTimer()
	}
	b.ReportMetric(float64(server.Microseconds())/float64(b.N)/1000, "server-ms/op")
	b.ReportMetric(float64(overhead.Microseconds())/float64(b.N)/1000, "overhead-ms/op")
}
