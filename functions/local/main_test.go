package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	var stdout, stderr bytes.Buffer
	code := realMain(t.Context(), args, envconfig.MapLookuper(env), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr string
	}{
		{"help", []string{"--help"}, nil, canary.ExitPass, "submitAndDescribe"},
		{"nothing to run", nil, nil, canary.ExitUsage, "--scenario NAME or --all"},
		{"unknown flag", []string{"--scenerio", "submit"}, nil, canary.ExitUsage, "flag provided but not defined"},
		{"unknown scenario", []string{"--scenario", "nope"}, nil, canary.ExitUsage, "CANARY_SCENARIO: unknown scenario"},
		{"both", []string{"--all", "--scenario", "list"}, nil, canary.ExitUsage, "exclude each other"},
		{"bad endpoint", []string{"--all", "--endpoint", "localhost"}, nil, canary.ExitUsage, "--endpoint"},
		{"bad timeout flag", []string{"--all", "--timeout", "soon"}, nil, canary.ExitUsage, "invalid value"},
		{"zero timeout", []string{"--all", "--timeout", "0"}, nil, canary.ExitUsage, "--timeout"},
		{"endpoint without host", []string{"--all", "--endpoint", ":1234"}, nil, canary.ExitUsage, "no host"},
		{"endpoint bad host", []string{"--all", "--endpoint", "127.0.0.1#:1234"}, nil, canary.ExitUsage, "--endpoint"},
		{"endpoint port 0", []string{"--all", "--endpoint", "127.0.0.1:0"}, nil, canary.ExitUsage, "--endpoint"},
		{"key with newline", []string{"--all"}, map[string]string{"BACALHAU_API_HOST": "127.0.0.1", "BACALHAU_API_KEY": "k\n"}, canary.ExitUsage, "BACALHAU_API_KEY"},
		{"key in clear text", []string{"--all", "--endpoint", "api.example:1234"}, map[string]string{"BACALHAU_API_KEY": "k"}, canary.ExitUsage, "CANARY_ALLOW_PLAINTEXT_CREDENTIALS"},
		{"bad engine", []string{"--all", "--engine", "podman"}, nil, canary.ExitUsage, "CANARY_ENGINE"},
		{"bad env var", []string{"--all"}, map[string]string{"BACALHAU_API_PORT": "x"}, canary.ExitUsage, "BACALHAU_API_PORT"},
		{"secret locally", []string{"--all"}, map[string]string{"BACALHAU_API_HOST": "h", "BACALHAU_API_KEY_SECRET": "projects/p/secrets/s/versions/1"}, canary.ExitUsage, "BACALHAU_API_KEY_SECRET"},
		{"stray argument", []string{"--all", "submit"}, nil, canary.ExitUsage, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.stderr)
			}
			if tt.code == canary.ExitUsage && (stdout != "" || strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(stderr, "Usage")) {
				t.Errorf("usage error: want one stderr line and no stdout, got stdout %q stderr %q", stdout, stderr)
			}
		})
	}
}

// TestIPv6Endpoint: an IPv6 literal endpoint is dialled (and refused:
// exit 1, not a usage error).
func TestIPv6Endpoint(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	code, stdout, stderr := run(t, nil, "--scenario", "list", "--endpoint", addr, "--metrics", "none")
	if code != canary.ExitFail || !strings.Contains(stdout, "unavailable") {
		t.Errorf("exit %d stdout %q stderr %q: want a refused connection, class unavailable", code, stdout, stderr)
	}
}

func TestTextOutputCannotBeForged(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	printResult(&buf, scenarios.Result{Scenario: "list", JobID: "j-1\nPASS  list", Class: scenarios.ErrProtocol,
		Error: "reply said \"ok\"\nPASS  submit  0.1s"})
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 4 {
		t.Errorf("%d lines, want 4: %q", n, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "PASS") {
			t.Errorf("forged line %q in %q", line, out)
		}
	}
}

func TestRefusedEndpointExitsOne(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	code, stdout, _ := run(t, nil, "--scenario", "submit", "--endpoint", addr, "--engine", "wasm")
	if code != canary.ExitFail || !strings.Contains(stdout, "FAIL") || !strings.Contains(stdout, "error_class: unavailable") {
		t.Errorf("exit %d, stdout %q; want 1 and an unavailable failure", code, stdout)
	}
}

func TestAllAgainstEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("real Bacalhau network: skipped under -short")
	}
	t.Parallel()
	n, err := devnet.Start(t.Context(), devnet.Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	env := map[string]string{"BACALHAU_API_HOST": n.Host, "BACALHAU_API_PORT": strconv.Itoa(n.Port), "CANARY_ENGINE": "wasm", "CANARY_METRICS": "none"}
	code, stdout, stderr := run(t, env, "--all", "--json")
	if code != canary.ExitPass {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if want := len(scenarios.Names()); len(lines) != want {
		t.Fatalf("want %d JSON result lines (one a scenario), got %d: %q", want, len(lines), stdout)
	}
	for _, l := range lines {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if r["success"] != true || r["severity"] != "INFO" {
			t.Errorf("result %v", r)
		}
	}
}

func TestEmbeddedNetworkByDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("real Bacalhau network: skipped under -short")
	}
	t.Parallel()
	code, stdout, stderr := run(t, nil, "--scenario", "submit")
	if code != canary.ExitPass || !strings.HasPrefix(stdout, "PASS  submit") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "embedded devnet") {
		t.Errorf("stderr does not say it started the embedded network: %q", stderr)
	}
}

func TestFailingScenarioExitsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("real Bacalhau network: skipped under -short")
	}
	t.Parallel()
	// One compute node cannot run three executions.
	n, err := devnet.Start(t.Context(), devnet.Options{Compute: -1, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	code, stdout, _ := run(t, nil, "--scenario", "submitWithConcurrency", "--endpoint", n.Addr(), "--engine", "wasm")
	if code != canary.ExitFail || !strings.Contains(stdout, "error_class: concurrency") {
		t.Errorf("exit %d, stdout %q; want 1 and a concurrency failure", code, stdout)
	}
}
