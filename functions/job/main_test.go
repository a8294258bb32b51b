package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/sethvargo/go-envconfig"
	"google.golang.org/grpc/codes"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/internal/fakebacalhau"
	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
)

func startMonitoring(t *testing.T) *fakegcp.Monitoring {
	t.Helper()
	m, err := fakegcp.StartMonitoring()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func startMetadata(t *testing.T) *fakegcp.Metadata {
	t.Helper()
	md, err := fakegcp.StartMetadata(fakegcp.CloudRun())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(md.Close)
	return md
}

// TestBadConfig: exit 2, one line on stderr naming the variable, nothing
// on stdout and nothing sent to Monitoring.
func TestBadConfig(t *testing.T) {
	m := startMonitoring(t)
	base := map[string]string{
		"CANARY_SCENARIO":            "list",
		"BACALHAU_API_HOST":          "127.0.0.1",
		"GOOGLE_CLOUD_PROJECT":       "demo",
		"CANARY_LOCATION":            "europe-west4",
		"CANARY_MONITORING_ENDPOINT": m.Addr(),
	}
	for _, tc := range []struct {
		name, variable string
		set            map[string]string
	}{
		{"no scenario", "CANARY_SCENARIO", map[string]string{"CANARY_SCENARIO": ""}},
		{"unknown scenario", "CANARY_SCENARIO", map[string]string{"CANARY_SCENARIO": "ping"}},
		{"no host", "BACALHAU_API_HOST", map[string]string{"BACALHAU_API_HOST": ""}},
		{"url as host", "BACALHAU_API_HOST", map[string]string{"BACALHAU_API_HOST": "http://x"}},
		{"bad port", "BACALHAU_API_PORT", map[string]string{"BACALHAU_API_PORT": "x"}},
		{"unknown sink", "CANARY_METRICS", map[string]string{"CANARY_METRICS": "prometheus"}},
		{"bad secret name", "BACALHAU_API_KEY_SECRET", map[string]string{"BACALHAU_API_KEY_SECRET": "bacalhau-key"}},
		{"key and secret", "BACALHAU_API_KEY_SECRET", map[string]string{"BACALHAU_API_KEY_SECRET": "projects/p/secrets/s/versions/1", "BACALHAU_API_KEY": "k"}},
		{"bad timeout", "CANARY_TIMEOUT", map[string]string{"CANARY_TIMEOUT": "-1s"}},
		{"timeout forging a log line", "CANARY_TIMEOUT", map[string]string{"CANARY_TIMEOUT": "1s\n{\"severity\":\"INFO\",\"message\":\"ok\"}"}},
		{"tls text", "BACALHAU_API_TLS", map[string]string{"BACALHAU_API_TLS": "yes"}},
		{"CA file missing", "BACALHAU_API_TLS_CAFILE", map[string]string{"BACALHAU_API_TLS": "true", "BACALHAU_API_TLS_CAFILE": "/nonexistent/ca.pem"}},
		{"CA file without a certificate", "BACALHAU_API_TLS_CAFILE", map[string]string{"BACALHAU_API_TLS": "true", "BACALHAU_API_TLS_CAFILE": "main_test.go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.set {
				env[k] = v
			}
			var stdout, stderr bytes.Buffer
			code := realMain(context.Background(), envconfig.MapLookuper(env), &stdout, &stderr)
			if code != canary.ExitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "job: "+tc.variable+":") {
				t.Errorf("stderr %q, want one line naming %s", stderr.String(), tc.variable)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
	if n := m.Requests(); n != 0 {
		t.Errorf("monitoring got %d requests from bad configurations", n)
	}
}

func TestTaskAttrs(t *testing.T) {
	got := taskAttrs(envconfig.MapLookuper(map[string]string{
		"CLOUD_RUN_EXECUTION": "canary-list-x7k2p", "CLOUD_RUN_TASK_ATTEMPT": "2", "CLOUD_RUN_TASK_INDEX": "0",
	}))
	if len(got) != 3 {
		t.Fatalf("attrs %v", got)
	}
	if got := taskAttrs(envconfig.MapLookuper(nil)); len(got) != 0 {
		t.Errorf("outside Cloud Run: %v", got)
	}
}

// TestNoServerPackages keeps the job small: Bacalhau's client packages
// only, nothing of the devnet.
func TestNoServerPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	banned := []string{
		"github.com/bacalhau-project/bacalhau/pkg/devstack",
		"github.com/bacalhau-project/bacalhau/pkg/node",
		"github.com/bacalhau-project/bacalhau/pkg/compute",
		"github.com/bacalhau-project/bacalhau/pkg/orchestrator",
		"github.com/bacalhau-project/bacalhau/pkg/executor/wasm/executor",
		"github.com/bacalhau-project/bacalhau/pkg/executor/docker/executor",
		"github.com/bacalhau-project/bacalhau-canary/internal/devnet",
		"github.com/bacalhau-project/bacalhau-canary/devnet",
		"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, b := range banned {
			if pkg == b || strings.HasPrefix(pkg, b+"/") {
				t.Errorf("functions/job links %s", pkg)
			}
		}
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// jobBinary builds the job as CI and the Dockerfile do: static, trimmed.
func jobBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "canary-job-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "job")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building the job: %v", buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type run struct {
	code   int
	stdout string
	stderr string
	lines  []map[string]any
	maxRSS int64     // peak resident set of the process, bytes
	ended  time.Time // when the process was seen to exit
}

// line returns the first log line with the message.
func (r run) line(msg string) map[string]any {
	for _, l := range r.lines {
		if l["message"] == msg {
			return l
		}
	}
	return nil
}

// execJob runs the built job with exactly env (nothing inherited).
func execJob(t *testing.T, env map[string]string) run {
	t.Helper()
	return execJobWith(t, env, nil)
}

// execJobWith runs the built job like execJob, calling during (if set)
// once the process has started.
func execJobWith(t *testing.T, env map[string]string, during func(*os.Process)) run {
	t.Helper()
	return execArgv(t, []string{jobBinary(t)}, env, during)
}

func execArgv(t *testing.T, argv []string, env map[string]string, during func(*os.Process)) run {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Start()
	if err == nil {
		if during != nil {
			go during(cmd.Process)
		}
		err = cmd.Wait()
	}
	var r run
	r.ended = time.Now()

	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running the job: %v", err)
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("stdout line is not JSON: %q", sc.Text())
			continue
		}
		r.lines = append(r.lines, l)
	}
	return r
}

// TestBadConfigBinary: the built job refuses bad input before any network
// call, metadata server included.
func TestBadConfigBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the job: skipped under -short")
	}
	m := startMonitoring(t)
	md := startMetadata(t)
	r := execJob(t, map[string]string{
		"CANARY_SCENARIO":            "submit",
		"CANARY_MONITORING_ENDPOINT": m.Addr(),
		"GCE_METADATA_HOST":          md.Host(),
	})
	if r.code != canary.ExitUsage || r.stdout != "" || r.stderr != "job: BACALHAU_API_HOST: required\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and one line naming BACALHAU_API_HOST", r.code, r.stdout, r.stderr)
	}
	if m.Requests() != 0 || len(md.Requests()) != 0 {
		t.Errorf("sent %d writes and %d metadata requests", m.Requests(), len(md.Requests()))
	}
}

type point struct {
	metric string
	labels string
	value  float64
}

func points(t *testing.T, ws []fakegcp.Write, scenario string) []point {
	t.Helper()
	var out []point
	for _, w := range ws {
		ts := w.Series
		res := ts.GetResource()
		want := metrics.ResourceLabels("demo", "europe-west4", scenario)
		if res.GetType() != "generic_task" || !reflect.DeepEqual(res.GetLabels(), want) {
			t.Errorf("resource %s %v, want generic_task %v", res.GetType(), res.GetLabels(), want)
		}
		if ts.GetMetricKind().String() != "GAUGE" || len(ts.GetPoints()) != 1 {
			t.Errorf("%s: kind %s, %d points", ts.GetMetric().GetType(), ts.GetMetricKind(), len(ts.GetPoints()))
			continue
		}
		p := ts.GetPoints()[0]
		if !p.GetInterval().GetStartTime().AsTime().Equal(p.GetInterval().GetEndTime().AsTime()) {
			t.Errorf("%s: start != end", ts.GetMetric().GetType())
		}
		var v float64
		switch x := p.GetValue().GetValue().(type) {
		case *monitoringpb.TypedValue_Int64Value:
			v = float64(x.Int64Value)
		case *monitoringpb.TypedValue_DoubleValue:
			v = x.DoubleValue
		}
		var labels []string
		for k, val := range ts.GetMetric().GetLabels() {
			labels = append(labels, k+"="+val)
		}
		sort.Strings(labels)
		out = append(out, point{strings.TrimPrefix(ts.GetMetric().GetType(), metrics.Prefix), strings.Join(labels, ","), v})
	}
	return out
}

// series lists "metric{labels}" of the points, sorted.
func series(ps []point) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.metric+"{"+p.labels+"}")
	}
	sort.Strings(out)
	return out
}

func value(ps []point, metric string) (float64, bool) {
	for _, p := range ps {
		if p.metric == metric {
			return p.value, true
		}
	}
	return 0, false
}

// TestJobAgainstDevnet runs the built job as a process against a real
// Bacalhau network and the fake Monitoring and metadata servers.
func TestJobAgainstDevnet(t *testing.T) {
	if testing.Short() {
		t.Skip("real Bacalhau network and a build of the job: skipped under -short")
	}
	jobBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	net, err := devnet.Start(ctx, devnet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Stop()
	md := startMetadata(t)

	env := func(m *fakegcp.Monitoring, scenario string) map[string]string {
		return map[string]string{
			"CANARY_SCENARIO":            scenario,
			"CANARY_ENGINE":              "wasm",
			"CANARY_ENV":                 "test",
			"CANARY_TIMEOUT":             "60s",
			"BACALHAU_API_HOST":          net.Host,
			"BACALHAU_API_PORT":          itoa(net.Port),
			"GOOGLE_CLOUD_PROJECT":       "demo",
			"CANARY_MONITORING_ENDPOINT": m.Addr(),
			"GCE_METADATA_HOST":          md.Host(), // location: europe-west4
			"CLOUD_RUN_EXECUTION":        "canary-" + strings.ToLower(scenario) + "-x7k2p",
			"CLOUD_RUN_TASK_ATTEMPT":     "0",
			"CLOUD_RUN_TASK_INDEX":       "0",
		}
	}

	t.Run("pass", func(t *testing.T) {
		m := startMonitoring(t)
		r := execJob(t, env(m, "submit"))
		if r.code != canary.ExitPass {
			t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		if len(r.lines) != 1 {
			t.Errorf("%d log lines, want the one result line:\n%s", len(r.lines), r.stdout)
		}
		l := r.line("scenario passed")
		if l == nil || l["scenario"] != "submit" || l["success"] != true || l["severity"] != "INFO" ||
			l["execution"] != "canary-submit-x7k2p" || l["task_attempt"] != 0.0 || l["job_id"] == "" {
			t.Errorf("result line %v", l)
		}
		if m.Requests() != 1 {
			t.Errorf("%d CreateTimeSeries calls, want 1", m.Requests())
		}
		ps := points(t, m.Accepted(), "submit")
		want := []string{"api_retries{env=test}", "duration_seconds{env=test}", "phase_duration_seconds{env=test,phase=connect}", "phase_duration_seconds{env=test,phase=submit}",
			"phase_duration_seconds{env=test,phase=wait}", "server_version{env=test,version=v1.7.0}", "success{env=test}"}
		if got := series(ps); !reflect.DeepEqual(got, want) {
			t.Errorf("series %v, want exactly %v", got, want)
		}
		if v, _ := value(ps, "success"); v != 1 {
			t.Errorf("success = %v", v)
		}
		if v, _ := value(ps, "duration_seconds"); v <= 0 || v != l["duration_seconds"] {
			t.Errorf("duration_seconds = %v, log line says %v", v, l["duration_seconds"])
		}
	})

	t.Run("monitoring down", func(t *testing.T) {
		m := startMonitoring(t)
		m.Refuse(codes.Unavailable, "The service is currently unavailable.")
		r := execJob(t, env(m, "list"))
		if r.code != canary.ExitRecorder {
			t.Fatalf("exit %d, want 3\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		if l := r.line("scenario passed"); l == nil || l["scenario"] != "list" {
			t.Errorf("the result line is missing:\n%s", r.stdout)
		}
		l := r.line("result not recorded")
		if l == nil || l["severity"] != "ERROR" || !strings.Contains(l["reason"].(string), "Unavailable") {
			t.Errorf("second line %v, want the reason", l)
		}
		if n := m.Requests(); n != metrics.WriteAttempts {
			t.Errorf("%d attempts, want %d", n, metrics.WriteAttempts)
		}
	})

	t.Run("written too often", func(t *testing.T) {
		m := startMonitoring(t)
		if r := execJob(t, env(m, "list")); r.code != canary.ExitPass {
			t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r := execJob(t, env(m, "list"))
		if r.code != canary.ExitRecorder {
			t.Fatalf("second run within 5 s: exit %d, want 3\n%s", r.code, r.stdout)
		}
		l := r.line("result not recorded")
		if l == nil || !strings.Contains(l["reason"].(string), fakegcp.MsgSamplingPeriod) {
			t.Errorf("not-recorded line %v, want the server's reason", l)
		}
		if s := r.line("metric write failed"); s == nil || s["total_point_count"] != 6.0 || s["success_point_count"] != 0.0 {
			t.Errorf("summary line %v", s)
		}
		if n := m.Requests(); n != 2 {
			t.Errorf("%d requests, want 2 (a rejected write is not retried)", n)
		}
	})

	t.Run("network stopped", func(t *testing.T) {
		if err := net.Stop(); err != nil {
			t.Fatal(err)
		}
		m := startMonitoring(t)
		r := execJob(t, env(m, "submit"))
		if r.code != canary.ExitFail {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		l := r.line("scenario failed")
		if l == nil || l["error_class"] != "unavailable" || l["severity"] != "ERROR" {
			t.Errorf("result line %v", l)
		}
		ps := points(t, m.Accepted(), "submit")
		if v, ok := value(ps, "success"); !ok || v != 0 {
			t.Errorf("success = %v (written: %v)", v, ok)
		}
		if v, ok := value(ps, "failure_cause"); !ok || v != 103 {
			t.Errorf("failure_cause = %v (written: %v), want 103: unavailable (1) in submit (3)", v, ok)
		}
		want := []string{"api_retries{env=test}", "duration_seconds{env=test}", "failed_run{env=test,error_class=unavailable,phase=submit}", "failure_cause{env=test}",
			"failure{env=test,error_class=unavailable}", "phase_duration_seconds{env=test,phase=connect}", "phase_duration_seconds{env=test,phase=submit}", "phase_duration_seconds{env=test,phase=wait}",
			"server_version{env=test,version=unknown}", "success{env=test}"}
		if got := series(ps); !reflect.DeepEqual(got, want) {
			t.Errorf("series %v, want %v", got, want)
		}
		if v, _ := value(ps, "failure"); v != 1 {
			t.Errorf("failure = %v", v)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestStaticBinary: the job built with CGO_ENABLED=0 needs no dynamic
// loader or shared library, so it runs on distroless/static.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the job: skipped under -short")
	}
	f, err := elf.Open(jobBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the job has a program interpreter: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the job needs shared libraries %v", libs)
	}
}

// TestDockerfile keeps the image build in line with what the tests check:
// a static build of ./functions/job on distroless, as nonroot, as entry point.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"CGO_ENABLED=0",
		`go build -trimpath -ldflags="-s -w -X github.com/bacalhau-project/bacalhau-canary/pkg/canary.Version=${CANARY_VERSION}" -o /out/job ./functions/job`,
		"ARG CANARY_VERSION",
		"FROM gcr.io/distroless/static",
		":nonroot",
		"USER nonroot",
		`ENTRYPOINT ["/job"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// TestJobSecret: the built job reads its API key from Secret Manager; an
// unreadable secret is a recorded canary failure; the key is never printed.
func TestJobSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the job: skipped under -short")
	}
	const (
		key    = "bk-41d8cd98f00b"
		found  = "projects/demo/secrets/bacalhau-api-key/versions/latest"
		denied = "projects/demo/secrets/bacalhau-api-key/versions/2"
	)
	api, err := fakebacalhau.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	api.Key = key
	sm, err := fakegcp.StartSecretManager(map[string]string{found: key}, denied)
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	for _, tc := range []struct {
		secret string
		code   int
	}{{found, canary.ExitPass}, {denied, canary.ExitFail}} {
		m := startMonitoring(t)
		r := execJob(t, map[string]string{
			"CANARY_SCENARIO":               "list",
			"BACALHAU_API_HOST":             api.Host(),
			"BACALHAU_API_PORT":             itoa(api.Port()),
			"BACALHAU_API_KEY_SECRET":       tc.secret,
			"CANARY_SECRETMANAGER_ENDPOINT": sm.Addr(),
			"CANARY_MONITORING_ENDPOINT":    m.Addr(),
			"GOOGLE_CLOUD_PROJECT":          "demo",
			"CANARY_LOCATION":               "europe-west4",
		})
		if r.code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tc.secret, r.code, tc.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, key) {
			t.Errorf("%s: the key was printed", tc.secret)
		}
		if tc.code == canary.ExitFail {
			l := r.line("scenario failed")
			if l == nil || l["error_class"] != "canary" || !strings.Contains(l["error"].(string), "secretAccessor") {
				t.Errorf("result line %v", l)
			}
			ps := points(t, m.Accepted(), "list")
			if got := series(ps); !reflect.DeepEqual(got, []string{"api_retries{env=dev}", "duration_seconds{env=dev}", "failed_run{env=dev,error_class=canary,phase=connect}", "failure{env=dev,error_class=canary}",
				"phase_duration_seconds{env=dev,phase=connect}", "phase_duration_seconds{env=dev,phase=list}", "server_version{env=dev,version=unknown}"}) {
				t.Errorf("series %v", got)
			}
		}
	}
}
