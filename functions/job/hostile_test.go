package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/internal/fakebacalhau"
	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// maxPeakRSS is the most the job may hold against any reply: far above
// what it takes (~20 MiB), far below the task's 512 MiB.
const maxPeakRSS = 64 << 20

// TestSIGTERM: after SIGTERM the job logs its result line and exits 3
// within 5 s, whatever hangs: a run waiting on a silent API (class
// canary), or the metric write of a run that passed (its "result not
// recorded" line says it passed).
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the job: skipped under -short")
	}
	t.Parallel()
	api, err := fakebacalhau.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	silentAPI, calling := fakegcp.SilentConnected(t)
	silentMonitoring, writing := fakegcp.SilentConnected(t)
	for _, tc := range []struct {
		name       string
		api        string
		monitoring string
		signalWhen <-chan struct{} // a call to what hangs is in flight
		first      string          // the result line's message
		class      string
		success    bool // of the result not recorded line
	}{
		{"API hangs", silentAPI, fakegcp.Silent(t), calling, "scenario failed", "canary", false},
		{"metric write hangs", net.JoinHostPort(api.Host(), strconv.Itoa(api.Port())), silentMonitoring, writing, "scenario passed", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, port, _ := net.SplitHostPort(tc.api)
			var signalled time.Time
			r := execJobWith(t, map[string]string{
				"CANARY_SCENARIO":            "list",
				"BACALHAU_API_HOST":          host,
				"BACALHAU_API_PORT":          port,
				"CANARY_MONITORING_ENDPOINT": tc.monitoring,
				"GOOGLE_CLOUD_PROJECT":       "demo",
				"CANARY_LOCATION":            "europe-west4",
			}, func(p *os.Process) {
				select {
				case <-tc.signalWhen:
				case <-time.After(20 * time.Second):
					return
				}
				signalled = time.Now()
				_ = p.Signal(syscall.SIGTERM)
			})
			if signalled.IsZero() {
				t.Fatalf("the job exited before the signal: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if d := r.ended.Sub(signalled); d > 5*time.Second {
				t.Errorf("exited %s after SIGTERM, want ≤ 5 s", d)
			}
			last := map[string]any{}
			if len(r.lines) > 0 {
				last = r.lines[len(r.lines)-1]
			}
			if r.code != canary.ExitRecorder || len(r.lines) < 2 || r.lines[0]["message"] != tc.first || r.lines[0]["error_class"] != tc.class ||
				last["message"] != "result not recorded" || last["success"] != tc.success {
				t.Errorf("exit %d, lines %v: want 3, the result line (%s, class %q), then result not recorded with success %v",
					r.code, r.lines, tc.first, tc.class, tc.success)
			}
		})
	}
}

// hostileAPI is a loopback Bacalhau API whose replies are as large and as
// inflating as they can be: the largest the canary accepts, a gzip bomb,
// and a published result whose stdout inflates far beyond the job's text.
type hostileAPI struct {
	lis  net.Listener
	list []byte // the list reply, gzip
	bomb []byte // a gzip stream of zeros
	tgz  []byte // the result: a tar.gz whose stdout is huge
}

func startHostile(t *testing.T, mode string) *hostileAPI {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileAPI{lis: lis}
	switch mode {
	case "list-largest":
		// The largest list the canary reads: one job whose name fills the bound.
		job := &models.Job{ID: "j-1", Name: strings.Repeat("n", bacalhau.MaxReplyBytes-4096), State: models.NewJobState(models.JobStateTypeCompleted), CreateTime: 1}
		raw, _ := json.Marshal(apimodels.ListJobsResponse{Items: []*models.Job{job}})
		h.list = gzipped(raw)
	case "list-big-jobs":
		// Ten user jobs of 10 MB each (an inline input of base64 random
		// data) are the newest ten: the list streams past their inputs.
		raw := make([]byte, 15<<19) // 7.5 MiB: 10 MiB as base64
		_, _ = rand.Read(raw)
		url := "data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(raw)
		var items []*models.Job
		for i := range 10 {
			items = append(items, &models.Job{ID: fmt.Sprintf("j-%d", i), Type: models.JobTypeBatch, Count: 1, CreateTime: int64(10 - i),
				State: models.NewJobState(models.JobStateTypeCompleted),
				Tasks: []*models.Task{{Name: "t", Engine: &models.SpecConfig{Type: "wasm"}, InputSources: []*models.InputSource{{
					Target: "/in", Source: &models.SpecConfig{Type: "inline", Params: map[string]any{"URL": url}}}}}}})
		}
		h.list, _ = json.Marshal(apimodels.ListJobsResponse{Items: items})
	case "list-bomb":
		h.bomb = gzipZeros(128 << 20)
	case "result-bomb":
		h.tgz = bombTar(128 << 20)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, mode) })}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return h
}

func (h *hostileAPI) serve(w http.ResponseWriter, r *http.Request, mode string) {
	w.Header().Set("Content-Type", "application/json")
	const jobs = "/api/v1/orchestrator/jobs"
	switch {
	case r.URL.Path == "/result.tar.gz":
		_, _ = w.Write(h.tgz)
	case r.Method == http.MethodGet && r.URL.Path == jobs && mode == "list-largest":
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(h.list)
	case r.Method == http.MethodGet && r.URL.Path == jobs && mode == "list-big-jobs":
		_, _ = w.Write(h.list)
	case r.Method == http.MethodGet && r.URL.Path == jobs && mode == "list-bomb":
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(h.bomb)
	case r.Method == http.MethodPut && r.URL.Path == jobs:
		_, _ = io.WriteString(w, `{"JobID":"j-1"}`)
	case r.URL.Path == jobs+"/j-1" && r.Method == http.MethodGet:
		_, _ = io.WriteString(w, `{"Job":{"ID":"j-1","Type":"batch","Count":1,"State":{"StateType":"Completed"},"Labels":{"bacalhau_canary":"true"}}}`)
	case r.URL.Path == jobs+"/j-1/executions":
		_ = json.NewEncoder(w).Encode(apimodels.ListJobExecutionsResponse{Items: []*models.Execution{{
			ID: "e-1", JobID: "j-1", NodeID: "n-1",
			ComputeState: models.NewExecutionState(models.ExecutionStateCompleted),
			RunOutput:    &models.RunCommandResult{},
		}}})
	case r.URL.Path == jobs+"/j-1/results":
		fmt.Fprintf(w, `{"Items":[{"Type":"urlDownload","Params":{"URL":"http://%s/result.tar.gz"}}]}`, r.Host)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"Status":404,"Message":"not here"}`)
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func gzipZeros(n int) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	chunk := make([]byte, 1<<20)
	for i := 0; i < n; i += len(chunk) {
		_, _ = w.Write(chunk)
	}
	_ = w.Close()
	return buf.Bytes()
}

func bombTar(n int) []byte {
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: "stdout", Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg})
	chunk := make([]byte, 1<<20)
	for i := 0; i < n; i += len(chunk) {
		_, _ = tw.Write(chunk)
	}
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

var (
	peakOnce sync.Once
	peakBin  string
	peakErr  error
)

// execPeak runs the built job through internal/peakrss and reads its peak
// RSS (see there why not from this process's wait).
func execPeak(t *testing.T, env map[string]string) run {
	t.Helper()
	peakOnce.Do(func() {
		peakBin = filepath.Join(filepath.Dir(jobBinary(t)), "peakrss")
		cmd := exec.Command("go", "build", "-o", peakBin, "../../internal/peakrss")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			peakErr = fmt.Errorf("building peakrss: %v\n%s", err, out)
		}
	})
	if peakErr != nil {
		t.Fatal(peakErr)
	}
	out := filepath.Join(t.TempDir(), "rss")
	r := execArgv(t, []string{peakBin, out, jobBinary(t)}, env, nil)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("peak RSS not written: %v\n%s", err, r.stderr)
	}
	r.maxRSS, _ = strconv.ParseInt(string(b), 10, 64)
	return r
}

// TestPeakRSSAgainstHostileReplies runs the built job against the largest
// and most inflating replies and fails when its peak RSS passes 64 MiB.
func TestPeakRSSAgainstHostileReplies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the job: skipped under -short")
	}
	for _, tc := range []struct {
		mode, scenario string
		class          scenarios.Class
	}{
		{"list-largest", "list", ""},
		{"list-big-jobs", "list", ""},
		{"list-bomb", "list", scenarios.ErrProtocol},
		{"result-bomb", "submitAndGet", scenarios.ErrOutputMismatch},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			h := startHostile(t, tc.mode)
			r := execPeak(t, map[string]string{
				"CANARY_SCENARIO":   tc.scenario,
				"CANARY_ENGINE":     "wasm",
				"BACALHAU_API_HOST": "127.0.0.1",
				"BACALHAU_API_PORT": strconv.Itoa(h.lis.Addr().(*net.TCPAddr).Port),
				"CANARY_METRICS":    "none",
			})
			l := r.line("scenario passed")
			if tc.class != "" {
				l = r.line("scenario failed")
			}
			if l == nil || l["error_class"] != string(tc.class) {
				t.Errorf("result line %v, want class %q\n%s", l, tc.class, r.stderr)
			}
			t.Logf("peak RSS %.1f MiB", float64(r.maxRSS)/(1<<20))
			if r.maxRSS == 0 || r.maxRSS > maxPeakRSS {
				t.Errorf("peak RSS %d bytes, want 0 < RSS ≤ %d", r.maxRSS, maxPeakRSS)
			}
		})
	}
}
