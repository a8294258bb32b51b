package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/bacalhau-project/bacalhau/pkg/bacerrors"

	"github.com/bacalhau-project/bacalhau-canary/pkg/logging"
	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// versioned is a Jobs whose replies said a server version.
func TestResultSaysWhereAndWhat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		scenario    Scenario
		fail        string // method of the fake that fails
		version     *string
		wantPhase   string
		wantVersion string
		wantNodes   []string
	}{
		{name: "passing submit", scenario: Submit, version: ptr("v1.9.3"), wantVersion: "v1.9.3", wantNodes: []string{"node-0"}},
		{name: "submit refused", scenario: Submit, fail: "Put", version: ptr("v1.7.0"), wantPhase: "submit", wantVersion: "v1.7.0"},
		{name: "wait fails", scenario: SubmitAndGet, fail: "Get", wantPhase: "wait", wantVersion: UnknownVersion},
		{name: "executions fail", scenario: SubmitAndDescribe, fail: "History", wantPhase: "history", wantVersion: UnknownVersion, wantNodes: []string{"node-0"}},
		{name: "three nodes", scenario: SubmitWithConcurrency, version: ptr(""), wantVersion: UnknownVersion, wantNodes: []string{"node-0", "node-1", "node-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			if tc.fail != "" {
				f.failErr[tc.fail] = apiErr(http.StatusInternalServerError, bacerrors.InternalError)
			}
			var buf bytes.Buffer
			r := newRunner(f, nil)
			if tc.version != nil {
				version := *tc.version
				r.Connect = func(context.Context) (Conn, error) {
					return Conn{Jobs: f, Fetcher: fakeFetcher{stdout: DefaultText}, Version: func() string { return version }}, nil
				}
			}
			r.Log = logging.New(&buf)
			r.Endpoint, r.CanaryVersion, r.CanaryImage = "https://bootstrap.example:1234", "abc1234", "europe-west1-docker.pkg.dev/p/r/canary@sha256:00"
			res := r.Run(t.Context(), tc.scenario)
			if res.Success != (tc.fail == "") {
				t.Fatalf("success=%v (%s: %s)", res.Success, res.Class, res.Error)
			}
			if res.FailedPhase != tc.wantPhase {
				t.Errorf("failed phase %q, want %q", res.FailedPhase, tc.wantPhase)
			}
			if res.ServerVersion != tc.wantVersion {
				t.Errorf("server version %q, want %q", res.ServerVersion, tc.wantVersion)
			}
			if !reflect.DeepEqual(res.NodeIDs, tc.wantNodes) && !(len(res.NodeIDs) == 0 && len(tc.wantNodes) == 0) {
				t.Errorf("node IDs %v, want %v", res.NodeIDs, tc.wantNodes)
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("result line: %v: %q", err, buf.String())
			}
			for k, want := range map[string]any{
				"failed_phase": tc.wantPhase, "server_version": tc.wantVersion, "canary_version": "abc1234",
				"canary_image": r.CanaryImage, "endpoint": r.Endpoint,
			} {
				if line[k] != want {
					t.Errorf("result line %s = %v, want %v", k, line[k], want)
				}
			}
			if nodes, ok := line["node_ids"].([]any); !ok || len(nodes) != len(tc.wantNodes) {
				t.Errorf("result line node_ids = %v, want %v", line["node_ids"], tc.wantNodes)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// Node IDs come from the network: a bounded number, each bounded, each
// once (the result line's JSON escapes them).
func TestNodeIDsAreBounded(t *testing.T) {
	t.Parallel()
	p := &Probe{res: &Result{}}
	for _, id := range []string{"node-0", "node-0", "", "QmX\n\"evil\"", strings.Repeat("n", 200)} {
		p.noteNode(id)
	}
	want := []string{"node-0", "QmX\n\"evil\"", text.Clip(strings.Repeat("n", 200), maxNodeIDLen)}
	if !reflect.DeepEqual(p.res.NodeIDs, want) {
		t.Errorf("node IDs %q, want %q", p.res.NodeIDs, want)
	}
	for i := 0; i < 2*maxNodeIDs; i++ {
		p.noteNode(strings.Repeat("x", i+1))
	}
	if len(p.res.NodeIDs) != maxNodeIDs {
		t.Errorf("%d node IDs kept, want at most %d", len(p.res.NodeIDs), maxNodeIDs)
	}
}

func TestSanitizeVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"v1.9.3": "v1.9.3", "v1.7.0": "v1.7.0", "1.8.0+build.5": "1.8.0+build.5", "v1.10.0-rc.2": "v1.10.0-rc.2",
		"": UnknownVersion, "latest": UnknownVersion, "v1.9": UnknownVersion, "v1.9.3 ": UnknownVersion,
		"v1.9.3\r\nX-Evil: 1": UnknownVersion, "v1.9.3-" + strings.Repeat("a", 33): UnknownVersion,
	} {
		if got := SanitizeVersion(in); got != want {
			t.Errorf("SanitizeVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
