package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"google.golang.org/grpc/codes"

	"github.com/bacalhau-project/bacalhau-canary/internal/fakebacalhau"
	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
)

func fakeAPI(t *testing.T) string {
	t.Helper()
	api, err := fakebacalhau.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Close)
	return net.JoinHostPort(api.Host(), strconv.Itoa(api.Port()))
}

func TestMetricsStdoutByDefault(t *testing.T) {
	code, stdout, stderr := run(t, nil, "--scenario", "list", "--endpoint", fakeAPI(t))
	if code != canary.ExitPass {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var pts []string
	for _, l := range strings.Split(stdout, "\n") {
		var p metrics.StdoutLine
		if json.Unmarshal([]byte(l), &p) == nil && p.Metric != "" {
			pts = append(pts, strings.TrimPrefix(p.Metric, metrics.Prefix))
		}
	}
	if strings.Join(pts, ",") != "success,duration_seconds,phase_duration_seconds,phase_duration_seconds,server_version,api_retries" {
		t.Errorf("points %v in stdout:\n%s", pts, stdout)
	}
}

func TestMetricsGCP(t *testing.T) {
	m, err := fakegcp.StartMonitoring()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	env := map[string]string{"CANARY_MONITORING_ENDPOINT": m.Addr()}
	if code, _, stderr := run(t, env, "--scenario", "list", "--endpoint", fakeAPI(t), "--metrics", "gcp"); code != canary.ExitUsage ||
		!strings.HasPrefix(stderr, "local: GOOGLE_CLOUD_PROJECT: required") {
		t.Errorf("gcp without a project: exit %d, %q", code, stderr)
	}
	env["GOOGLE_CLOUD_PROJECT"] = "demo"
	code, stdout, stderr := run(t, env, "--scenario", "list", "--endpoint", fakeAPI(t), "--metrics", "gcp")
	if code != canary.ExitPass || len(m.Accepted()) != 6 {
		t.Fatalf("exit %d, %d series written\n%s%s", code, len(m.Accepted()), stdout, stderr)
	}
	if loc := m.Accepted()[0].Series.GetResource().GetLabels()["location"]; loc != "global" {
		t.Errorf("location %q, want global without CANARY_LOCATION", loc)
	}
	m.Refuse(codes.PermissionDenied, "Permission monitoring.timeSeries.create denied (or the resource may not exist).")
	code, stdout, stderr = run(t, env, "--scenario", "list", "--endpoint", fakeAPI(t), "--metrics", "gcp")
	if code != canary.ExitRecorder || !strings.Contains(stderr, "local: result not recorded:") || !strings.HasPrefix(stdout, "PASS") {
		t.Errorf("write refused: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

// TestCtrlCWhileMonitoringHangs: interrupted while its metric write hangs,
// the runner gives the write a short grace and exits 3 within 5 s.
func TestCtrlCWhileMonitoringHangs(t *testing.T) {
	t.Parallel()
	monitoring, writing := fakegcp.SilentConnected(t)
	env := map[string]string{"CANARY_MONITORING_ENDPOINT": monitoring, "GOOGLE_CLOUD_PROJECT": "demo"}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- realMain(ctx, []string{"--scenario", "list", "--endpoint", fakeAPI(t), "--metrics", "gcp"}, envconfig.MapLookuper(env), &stdout, &stderr)
	}()
	select {
	case <-writing: // the run is over; the write hangs
	case code := <-done:
		t.Fatalf("exit %d before the metric write\n%s%s", code, stdout.String(), stderr.String())
	}
	interrupted := time.Now()
	cancel()
	select {
	case code := <-done:
		if d := time.Since(interrupted); d > 5*time.Second {
			t.Errorf("ended %s after the interrupt, want ≤ 5 s", d)
		}
		if code != canary.ExitRecorder || !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("exit %d, stderr %q: want 3, result not recorded (interrupted)", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the runner did not end within 20 s of the interrupt")
	}
}

// TestMonitoringTextIsEscaped: Monitoring's message, with a carriage
// return and an escape sequence that would forge a PASS line, reaches
// the terminal quoted on one line.
func TestMonitoringTextIsEscaped(t *testing.T) {
	t.Parallel()
	m, err := fakegcp.StartMonitoring()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Refuse(codes.PermissionDenied, "denied\r\x1b[2KPASS  list   0.001s\n"+strings.Repeat("x", 300<<10))
	env := map[string]string{"CANARY_MONITORING_ENDPOINT": m.Addr(), "GOOGLE_CLOUD_PROJECT": "demo"}
	code, stdout, stderr := run(t, env, "--scenario", "list", "--endpoint", fakeAPI(t), "--metrics", "gcp")
	if code != canary.ExitRecorder {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.ContainsAny(stdout+stderr, "\r\x1b") || strings.Contains(stderr, "\nPASS") {
		t.Errorf("raw control text reached the terminal: %q", stderr)
	}
	for _, l := range strings.Split(stdout+stderr, "\n") {
		if len(l) > 16<<10 {
			t.Errorf("a line of %d bytes", len(l))
		}
	}
}
