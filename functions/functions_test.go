package functions_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"google.golang.org/grpc/codes"

	"github.com/bacalhau-project/bacalhau-canary/functions"
	"github.com/bacalhau-project/bacalhau-canary/internal/fakebacalhau"
	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

type fixture struct {
	api *fakebacalhau.API
	mon *fakegcp.Monitoring
	log bytes.Buffer
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	var err error
	if f.api, err = fakebacalhau.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.api.Close)
	if f.mon, err = fakegcp.StartMonitoring(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.mon.Close)
	return f
}

func (f *fixture) env(over map[string]string) map[string]string {
	env := map[string]string{
		"BACALHAU_API_HOST":          f.api.Host(),
		"BACALHAU_API_PORT":          strconv.Itoa(f.api.Port()),
		"GOOGLE_CLOUD_PROJECT":       "demo",
		"CANARY_LOCATION":            "europe-west4",
		"CANARY_MONITORING_ENDPOINT": f.mon.Addr(),
		"CANARY_ENV":                 "test",
		"CANARY_TIMEOUT":             "10s",
	}
	for k, v := range over {
		env[k] = v
	}
	return env
}

func (f *fixture) do(t *testing.T, h http.HandlerFunc, method string) (int, functions.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(method, "/", nil))
	body := rec.Body.String()
	var resp functions.Response
	_ = json.Unmarshal(rec.Body.Bytes(), &resp)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return rec.Code, resp, body
}

func TestPass(t *testing.T) {
	f := setup(t)
	h := functions.NewServer(envconfig.MapLookuper(f.env(nil)), &f.log).Handler("list")
	code, resp, body := f.do(t, h, http.MethodGet)
	if code != http.StatusOK || !resp.Success || !resp.Recorded || resp.Scenario != "list" || resp.Env != "test" {
		t.Fatalf("HTTP %d %s", code, body)
	}
	if _, ok := resp.PhaseDurationSeconds["list"]; !ok || resp.DurationSeconds <= 0 {
		t.Errorf("timings missing: %s", body)
	}
	if f.mon.Requests() != 1 || len(f.mon.Accepted()) != 6 {
		t.Errorf("%d writes, %d series; want 1 write of success, duration, the connect and list phases, server_version and api_retries", f.mon.Requests(), len(f.mon.Accepted()))
	}
	if !strings.Contains(f.log.String(), `"message":"scenario passed"`) {
		t.Errorf("no result line in the log:\n%s", f.log.String())
	}
	// The same scenario again within 5 s: Monitoring refuses the points.
	code, resp, body = f.do(t, h, http.MethodPost)
	if code != http.StatusInternalServerError || resp.Recorded || !resp.Success || !strings.Contains(resp.RecordError, fakegcp.MsgSamplingPeriod) {
		t.Errorf("second call within 5 s: HTTP %d %s", code, body)
	}
}

func TestFail(t *testing.T) {
	f := setup(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	h := functions.NewServer(envconfig.MapLookuper(f.env(map[string]string{"BACALHAU_API_PORT": strconv.Itoa(closed)})), &f.log).Handler("submit")
	code, resp, body := f.do(t, h, http.MethodGet)
	if code != http.StatusServiceUnavailable || resp.Success || !resp.Recorded || resp.ErrorClass != "unavailable" {
		t.Fatalf("HTTP %d %s; want 503, recorded, unavailable", code, body)
	}
	if len(resp.PhaseDurationSeconds) != 3 {
		t.Errorf("phases %v, want connect and both of submit", resp.PhaseDurationSeconds)
	}
	var failure bool
	for _, w := range f.mon.Accepted() {
		if strings.HasSuffix(w.Series.GetMetric().GetType(), "/failure") && w.Series.GetMetric().GetLabels()["error_class"] == "unavailable" {
			failure = true
		}
	}
	if !failure {
		t.Error("failure{error_class=unavailable} not written")
	}
}

func TestNotRecorded(t *testing.T) {
	f := setup(t)
	f.mon.Refuse(codes.PermissionDenied, "Permission monitoring.timeSeries.create denied (or the resource may not exist).")
	h := functions.NewServer(envconfig.MapLookuper(f.env(nil)), &f.log).Handler("list")
	code, resp, body := f.do(t, h, http.MethodGet)
	if code != http.StatusInternalServerError || resp.Recorded || !resp.Success || !strings.Contains(resp.RecordError, "PermissionDenied") {
		t.Fatalf("HTTP %d %s; want 500 with the passing result and why it was not recorded", code, body)
	}
	if !strings.Contains(f.log.String(), `"message":"result not recorded"`) {
		t.Errorf("log:\n%s", f.log.String())
	}
}

func TestBadRequests(t *testing.T) {
	f := setup(t)
	bad := functions.NewServer(envconfig.MapLookuper(f.env(map[string]string{"BACALHAU_API_HOST": ""})), &f.log)
	code, _, body := f.do(t, bad.Handler("list"), http.MethodGet)
	if code != http.StatusInternalServerError || !strings.Contains(body, "BACALHAU_API_HOST: required") {
		t.Errorf("bad config: HTTP %d %s", code, body)
	}
	good := functions.NewServer(envconfig.MapLookuper(f.env(nil)), &f.log)
	if code, _, body := f.do(t, good.Handler("list"), http.MethodDelete); code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: HTTP %d %s", code, body)
	}
	if code, _, _ := f.do(t, good.Handler("nope"), http.MethodGet); code != http.StatusNotFound {
		t.Errorf("unknown scenario: HTTP %d", code)
	}
	if n, _ := f.api.First(); !n.IsZero() || f.mon.Requests() != 0 {
		t.Error("a refused request reached the API or Monitoring")
	}
}

// TestServe runs the serve command as a process: every scenario is
// registered under its own name, and FUNCTION_TARGET serves one at /.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the serve command: skipped under -short")
	}
	f := setup(t)
	bin := filepath.Join(t.TempDir(), "serve")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/serve").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	start := func(target string) string {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(lis.Addr().(*net.TCPAddr).Port)
		lis.Close()
		cmd := exec.Command(bin)
		cmd.Env = []string{"HOME=" + t.TempDir(), "HOST=127.0.0.1", "PORT=" + port, "CANARY_METRICS=stdout"}
		if target != "" {
			cmd.Env = append(cmd.Env, "FUNCTION_TARGET="+target)
		}
		for k, v := range f.env(nil) {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		base := "http://127.0.0.1:" + port
		for i := 0; i < 100; i++ {
			if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
				c.Close()
				return base
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("serve did not listen on %s", port)
		return ""
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	all := start("")
	for _, s := range scenarios.All() {
		if code, body := get(all + "/" + s.Name); code == http.StatusNotFound && !strings.HasPrefix(body, "{") {
			t.Errorf("/%s is not registered: HTTP %d %s", s.Name, code, body)
		}
	}
	if code, body := get(all + "/list"); code != http.StatusOK {
		t.Errorf("/list: HTTP %d %s", code, body)
	}
	one := start("list")
	code, body := get(one + "/")
	var resp functions.Response
	if err := json.Unmarshal([]byte(body), &resp); err != nil || code != http.StatusOK || resp.Scenario != "list" {
		t.Errorf("FUNCTION_TARGET=list, /: HTTP %d %s (%v)", code, body, err)
	}
}
