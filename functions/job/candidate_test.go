package main

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/logging"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func TestCandidateExit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code  int
		class scenarios.Class
		want  int
	}{
		{canary.ExitPass, "", canary.ExitPass},
		{canary.ExitFail, scenarios.ErrUnavailable, canary.ExitPass},
		{canary.ExitFail, scenarios.ErrJobFailed, canary.ExitPass},
		{canary.ExitFail, scenarios.ErrPublisher, canary.ExitPass},
		{canary.ExitFail, scenarios.ErrCanary, canary.ExitFail},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if got := candidateExit(logging.New(&out), tt.code, tt.class); got != tt.want {
			t.Errorf("candidateExit(%d, %q) = %d, want %d", tt.code, tt.class, got, tt.want)
		}
		if tt.code != canary.ExitPass && !strings.Contains(out.String(), "candidate") {
			t.Errorf("class %q: no candidate verdict logged: %q", tt.class, out.String())
		}
	}
}

// TestCandidateRun runs the job against a closed port: a network failure
// is exit 1 normally and 0 as a candidate; bad configuration stays 2.
func TestCandidateRun(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	base := map[string]string{
		"CANARY_SCENARIO":   "list",
		"CANARY_METRICS":    "none",
		"CANARY_TIMEOUT":    "5s",
		"BACALHAU_API_HOST": "127.0.0.1",
		"BACALHAU_API_PORT": port,
		"GCE_METADATA_HOST": "127.0.0.1:1",
	}
	for _, tc := range []struct {
		name  string
		extra map[string]string
		want  int
	}{
		{"not a candidate", nil, canary.ExitFail},
		{"candidate", map[string]string{"CANARY_CANDIDATE": "true"}, canary.ExitPass},
		{"candidate, bad configuration", map[string]string{"CANARY_CANDIDATE": "true", "CANARY_TIMEOUT": "soon"}, canary.ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.extra {
				env[k] = v
			}
			var stdout, stderr bytes.Buffer
			if got := realMain(t.Context(), envconfig.MapLookuper(env), &stdout, &stderr); got != tc.want {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", got, tc.want, stdout.String(), stderr.String())
			}
			if tc.want != canary.ExitUsage && !strings.Contains(stdout.String(), `"error_class":"unavailable"`) {
				t.Errorf("result line does not say unavailable: %s", stdout.String())
			}
		})
	}
}
