package devnet_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
	clientv2 "github.com/bacalhau-project/bacalhau/pkg/publicapi/client/v2"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("real Bacalhau network: skipped under -short")
	}
}

func TestDevnetRunsJobsAndLeavesNothingBehind(t *testing.T) {
	skipShort(t)
	for _, v := range devnet.Versions {
		t.Run(string(v), func(t *testing.T) {
			tmp := t.TempDir()
			// A BACALHAU_* variable in the caller's environment must not reach the nodes.
			t.Setenv("BACALHAU_API_PORT", "1")
			n, err := devnet.Start(t.Context(), devnet.Options{Version: v, Compute: 2, TempDir: tmp, Stderr: os.Stderr})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Stop()
			if n.Host != "127.0.0.1" || n.Port <= 1 {
				t.Fatalf("API at %s, want 127.0.0.1 on a free port", n.Addr())
			}
			conn, r := wasmRunner(n)
			res := r.Run(t.Context(), scenarios.SubmitWithConcurrency)
			if !res.Success {
				t.Fatalf("3 executions on 3 nodes failed: %s: %s", res.Class, res.Error)
			}
			execs, err := conn.Jobs.Executions(t.Context(), &apimodels.ListJobExecutionsRequest{JobIDOrName: res.JobID})
			if err != nil {
				t.Fatal(err)
			}
			if len(execs.Items) != 3 {
				t.Errorf("%d executions, want 3", len(execs.Items))
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
		})
	}
}

// Each devnet is built with its release stamped in, and its API says so.
func TestDevnetReportsItsVersion(t *testing.T) {
	skipShort(t)
	t.Parallel()
	for _, v := range devnet.Versions {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			n, err := devnet.Start(t.Context(), devnet.Options{Version: v, Compute: -1, Stderr: os.Stderr})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Stop()
			got, err := clientv2.New("http://" + n.Addr()).Agent().Version(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got.BuildVersionInfo == nil || got.GitVersion != string(v) {
				t.Errorf("/api/v1/agent/version = %+v, want GitVersion %s", got.BuildVersionInfo, v)
			}
		})
	}
}

func TestDevnetRejectsBadOptions(t *testing.T) {
	skipShort(t)
	t.Parallel()
	for name, o := range map[string]devnet.Options{
		"all compute nodes bad":   {Compute: 1, BadCompute: 2},
		"publisher not an IP":     {Publisher: "localhost"},
		"unsupported version":     {Version: "v1.8.0"},
		"publisher not an IP 1.9": {Version: devnet.V1_9, Publisher: "x"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if n, err := devnet.Start(t.Context(), o); err == nil {
				n.Stop()
				t.Fatalf("started a network with %+v", o)
			}
		})
	}
}

func TestStopComputeNode(t *testing.T) {
	skipShort(t)
	t.Parallel()
	n, err := devnet.Start(t.Context(), devnet.Options{Compute: 2, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	for _, want := range []string{"node-2", "node-1", "none"} {
		got, err := n.StopComputeNode(t.Context())
		if err != nil || got != want {
			t.Fatalf("StopComputeNode = %q, %v; want %q", got, err, want)
		}
	}
	// The orchestrator still answers, and still counts the silent nodes
	// connected: nothing told it they went (it notices missed heartbeats
	// after 30 s).
	if got := connectedNodes(t, clientv2.New(fmt.Sprintf("http://%s", n.Addr()))); got != 3 {
		t.Errorf("%d nodes counted connected, want 3: the stopped node-1 and node-2 too", got)
	}
	if _, err := n.ExecutionRunning(t.Context(), "e-no-such-execution"); err == nil {
		t.Error("ExecutionRunning of an unknown execution: no error")
	}
	// A restart longer than the devnet allows is refused, not started.
	if _, err := n.RestartOrchestrator(t.Context(), time.Minute); err == nil || !strings.Contains(err.Error(), "at most 20s") {
		t.Errorf("a 1m restart: %v, want the devnet's refusal", err)
	}
	if err := n.Stop(); err != nil {
		t.Errorf("stop after stopping compute nodes: %v", err)
	}
}

// A restarted orchestrator refuses connections while it is down, comes back
// on the same address with its job store, and its compute nodes join again.
func TestRestartOrchestrator(t *testing.T) {
	skipShort(t)
	t.Parallel()
	for _, v := range devnet.Versions {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			n, err := devnet.Start(t.Context(), devnet.Options{Version: v, Compute: 2, Stderr: os.Stderr})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Stop()
			conn, r := wasmRunner(n)
			before := r.Run(t.Context(), scenarios.Submit)
			if !before.Success {
				t.Fatalf("submit before the restart: %s: %s", before.Class, before.Error)
			}

			// Dial the API every 100 ms while the orchestrator restarts.
			restarted := make(chan struct{})
			refused := make(chan error, 1)
			go func() {
				var err error
				for ; !errors.Is(err, syscall.ECONNREFUSED); time.Sleep(100 * time.Millisecond) {
					select {
					case <-restarted:
						refused <- err
						return
					default:
					}
					var c net.Conn
					if c, err = net.DialTimeout("tcp", n.Addr(), time.Second); err == nil {
						c.Close()
					}
				}
				refused <- err
			}()
			away, err := n.RestartOrchestrator(t.Context(), 3*time.Second)
			close(restarted)
			if err != nil {
				t.Fatal(err)
			}
			back := time.Now()
			if err := <-refused; !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("dials while the orchestrator was away: last %v, want connection refused", err)
			}

			got, err := conn.Jobs.Get(t.Context(), &apimodels.GetJobRequest{JobIDOrName: before.JobID})
			if err != nil || got.Job == nil || got.Job.State.StateType.String() != "Completed" {
				t.Fatalf("the job of before the restart: %+v, %v; want it kept, Completed", got, err)
			}
			// The compute nodes dial the restarted NATS server again: three
			// partitions run on three nodes.
			api := clientv2.New(fmt.Sprintf("http://%s", n.Addr()))
			for start := time.Now(); connectedNodes(t, api) < 3; time.Sleep(100 * time.Millisecond) {
				if time.Since(start) > 30*time.Second {
					t.Fatalf("%d of 3 nodes connected 30 s after the restart", connectedNodes(t, api))
				}
			}
			t.Logf("orchestrator away %s; its compute nodes connected again %s after it came back", away, time.Since(back).Round(time.Millisecond))
			after := r.Run(t.Context(), scenarios.SubmitWithConcurrency)
			if !after.Success {
				t.Fatalf("three partitions after the restart: %s: %s", after.Class, after.Error)
			}
		})
	}
}

// wasmRunner is a connection to the network and a runner of wasm jobs
// through it, with a 20 s deadline.
func wasmRunner(n *devnet.Network) (scenarios.Conn, *scenarios.Runner) {
	conn := bacalhau.New(bacalhau.Options{Host: n.Host, Port: n.Port, Timeout: 20 * time.Second})
	return conn, &scenarios.Runner{Connect: func(context.Context) (scenarios.Conn, error) {
		return conn, nil
	}, Spec: scenarios.JobSpec{Engine: scenarios.EngineWasm}, Env: "test", Timeout: 20 * time.Second}
}

// connectedNodes counts the nodes the orchestrator says are connected.
func connectedNodes(t *testing.T, api clientv2.API) int {
	t.Helper()
	nodes, err := api.Nodes().List(t.Context(), &apimodels.ListNodesRequest{})
	if err != nil {
		t.Fatalf("listing nodes: %v", err)
	}
	n := 0
	for _, s := range nodes.Nodes {
		if s.ConnectionState.Status.String() == "CONNECTED" {
			n++
		}
	}
	return n
}

// The devnet ends when its standard input does, so it cannot outlive the
// process that started it.
func TestDevnetEndsWithItsInput(t *testing.T) {
	skipShort(t)
	t.Parallel()
	n, err := devnet.Start(t.Context(), devnet.Options{Compute: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	pid := n.PID()
	n.CloseInput()
	if !waitGone(pid, 20*time.Second) {
		t.Fatalf("devnet %d still running 20s after its input ended", pid)
	}
}

func waitGone(pid int, limit time.Duration) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		// A zombie (exited, not yet reaped by Stop) counts as gone.
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(b), ") Z ") {
			return true
		}
	}
	return false
}

// startTwoHost starts a devnet across a veth link, or skips/fails as the
// capability and CANARY_TEST_REQUIRE_NETNS say.
func startTwoHost(t *testing.T, o devnet.Options) *devnet.Network {
	t.Helper()
	o.TwoHost = true
	n, err := devnet.Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	t.Log(n.Where())
	return n
}

func TestTwoHostNetwork(t *testing.T) {
	skipShort(t)
	t.Parallel()
	for _, v := range devnet.Versions {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			n := startTwoHost(t, devnet.Options{Version: v})
			if n.Link == nil {
				t.Skipf("no two-host network here: %v", n.Fallback)
			}
			ip := net.ParseIP(n.Host)
			if ip == nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() || !ip.IsPrivate() || n.Host != n.Link.Remote {
				t.Fatalf("API host %s, want the namespace's private link address %s", n.Host, n.Link.Remote)
			}
			if n.Publisher != n.Link.Remote {
				t.Errorf("publisher advertises %s, want the routable link address %s", n.Publisher, n.Link.Remote)
			}
			jobs := bacalhau.New(bacalhau.Options{Host: n.Host, Port: n.Port, Timeout: 5 * time.Second}).Jobs
			if _, err := jobs.List(t.Context(), &apimodels.ListJobsRequest{}); err != nil {
				t.Fatalf("API over the link: %v", err)
			}
			// The network's loopback is not ours: the same port on 127.0.0.1
			// reaches nothing from here.
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Port)), time.Second)
			if err == nil {
				c.Close()
				t.Errorf("the API port %d answers on the test's own loopback", n.Port)
			}
			ns, veth := n.Link.Namespace, n.Link.Local
			if err := n.Stop(); err != nil {
				t.Errorf("stop: %v", err)
			}
			if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), ns) {
				t.Errorf("namespace %s left behind", ns)
			}
			if out, _ := exec.Command("ip", "-4", "addr", "show").Output(); strings.Contains(string(out), veth+"/30") {
				t.Errorf("link address %s left behind", veth)
			}
		})
	}
}

// Without the capability, TwoHost falls back to loopback and says why;
// with CANARY_TEST_REQUIRE_NETNS=1 it is an error instead.
func TestTwoHostFallback(t *testing.T) {
	skipShort(t)
	if os.Geteuid() == 0 {
		// Make the capability missing: an ip that always fails.
		dir := t.TempDir()
		if err := os.WriteFile(dir+"/ip", []byte("#!/bin/sh\necho 'ip: Operation not permitted' >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	}
	t.Setenv(devnet.RequireNetnsEnv, "")
	n, err := devnet.Start(t.Context(), devnet.Options{TwoHost: true, Compute: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if n.Link != nil || !errors.Is(n.Fallback, devnet.ErrNoNetns) || n.Host != "127.0.0.1" {
		t.Fatalf("link %v, fallback %v, host %s; want loopback with ErrNoNetns", n.Link, n.Fallback, n.Host)
	}
	if !strings.Contains(n.Where(), "loopback") || !strings.Contains(n.Where(), "unavailable") {
		t.Errorf("Where() = %q does not say it fell back", n.Where())
	}
	n.Stop()

	t.Setenv(devnet.RequireNetnsEnv, "1")
	if n, err := devnet.Start(t.Context(), devnet.Options{TwoHost: true, Compute: -1}); err == nil {
		n.Stop()
		t.Fatal("started on loopback although the two-host network is required")
	} else if !errors.Is(err, devnet.ErrNoNetns) {
		t.Errorf("error %v, want ErrNoNetns", err)
	}
}

// A devnet in a namespace dies with the process that started it, through
// `ip netns exec` (which execs it), even when that process is SIGKILLed and
// runs no cleanup.
func TestTwoHostDevnetDiesWithParent(t *testing.T) {
	skipShort(t)
	if os.Getenv("DEVNET_TEST_HELPER") == "1" {
		helper()
		return
	}
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestTwoHostDevnetDiesWithParent$")
	cmd.Env = append(os.Environ(), "DEVNET_TEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var ns, where string
	if _, err := fmt.Fscan(out, &pid, &ns, &where); err != nil {
		cmd.Process.Kill()
		t.Fatalf("helper: %v", err)
	}
	if ns != "-" {
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		// The helper's veth goes with the namespace's end of the pair.
	}
	t.Logf("devnet %d (namespace %s, %s)", pid, ns, where)
	cmd.Process.Kill()
	cmd.Wait()
	if !waitGone(pid, 20*time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("devnet %d still running 20s after its parent was killed", pid)
	}
}

// helper starts a two-host devnet, prints "PID NAMESPACE WHERE" and waits
// to be killed.
func helper() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n, err := devnet.Start(ctx, devnet.Options{TwoHost: true, Compute: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	ns, where := "-", "loopback"
	if n.Link != nil {
		ns, where = n.Link.Namespace, "link"
	}
	fmt.Println(n.PID(), ns, where)
	<-ctx.Done()
}
