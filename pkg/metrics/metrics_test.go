package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/grpc/codes"

	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/logging"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func result(s scenarios.Scenario, ok bool, end time.Time) scenarios.Result {
	r := scenarios.Result{Scenario: s.Name, Env: "test", Success: ok, Duration: 1500 * time.Millisecond}
	r.Start = end.Add(-r.Duration)
	for i, name := range s.AllPhases() {
		p := scenarios.Phase{Name: name}
		if ok || i <= 1 {
			p.Duration, p.Reached = time.Duration(i+1)*100*time.Millisecond, true
		}
		r.Phases = append(r.Phases, p)
	}
	if !ok {
		r.Class, r.Error, r.FailedPhase = scenarios.ErrUnavailable, "connection refused", r.Phases[1].Name
	}
	return r
}

// TestPoints checks that every scenario writes only catalogue metrics, with
// exactly the catalogue's labels, every phase, and failure only on failure.
func TestPoints(t *testing.T) {
	cat := metrics.Catalogue()
	for _, s := range scenarios.All() {
		for _, ok := range []bool{true, false} {
			r := result(s, ok, time.Now())
			at := time.Date(2026, 12, 2, 10, 5, 0, 0, time.UTC)
			pts := metrics.Points(r, at)
			count := map[string]int{}
			phases := map[string]bool{}
			for _, p := range pts {
				d, found := lookup(cat, p.Metric)
				if !found {
					t.Fatalf("%s: point of %q, not in the catalogue", s.Name, p.Metric)
				}
				if p.ValueType != d.ValueType {
					t.Errorf("%s: %s is %s, catalogue says %s", s.Name, p.Metric, p.ValueType, d.ValueType)
				}
				var keys []string
				for k := range p.Labels {
					keys = append(keys, k)
				}
				var want []string
				for _, l := range d.Labels {
					want = append(want, l.Key)
				}
				sort.Strings(keys)
				sort.Strings(want)
				if !reflect.DeepEqual(keys, want) {
					t.Errorf("%s: %s labels %v, catalogue %v", s.Name, p.Metric, keys, want)
				}
				count[p.Metric]++
				if p.Metric == metrics.PhaseDuration {
					phases[p.Labels[metrics.LabelPhase]] = true
				}
				if p.Metric == metrics.FailedRun && (p.Int64 != at.Unix()/60 || p.Labels[metrics.LabelPhase] != r.FailedPhase || p.Labels[metrics.LabelErrorClass] != string(r.Class)) {
					t.Errorf("%s: failed_run %d %v, want %d labelled %s in %s", s.Name, p.Int64, p.Labels, at.Unix()/60, r.Class, r.FailedPhase)
				}
				if p.Metric == metrics.FailureCause && p.Int64 != metrics.Cause(r.Class, r.FailedPhase) {
					t.Errorf("%s: failure_cause %d, want %d (%s in %s)", s.Name, p.Int64, metrics.Cause(r.Class, r.FailedPhase), r.Class, r.FailedPhase)
				}
			}
			wantFailure := 0
			if !ok {
				wantFailure = 1
			}
			if count[metrics.Success] != 1 || count[metrics.Duration] != 1 || count[metrics.Failure] != wantFailure || count[metrics.FailedRun] != wantFailure || count[metrics.FailureCause] != wantFailure ||
				count[metrics.ServerVersion] != 1 || count[metrics.Retries] != 1 || count[metrics.PhaseDuration] != len(s.AllPhases()) || len(phases) != len(s.AllPhases()) {
				t.Errorf("%s success=%v: points per metric %v, phases %v", s.Name, ok, count, phases)
			}
		}
	}
}

// TestFailedRun: a failed run's failed_run point names its class and phase
// ("none" outside any phase) and is valued at its stamp's Unix minute, so
// a later failure of the scenario always has the larger value.
func TestFailedRun(t *testing.T) {
	t.Parallel()
	s, _ := scenarios.Lookup("submit")
	slot := time.Date(2026, 12, 2, 10, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, phase, wantPhase string
		class                  scenarios.Class
		at                     time.Time
	}{
		{"in wait", "wait", "wait", scenarios.ErrTimeout, slot},
		{"in connect", scenarios.PhaseConnect, scenarios.PhaseConnect, scenarios.ErrCanary, slot.Add(time.Minute)},
		{"outside any phase", "", metrics.NoPhase, scenarios.ErrProtocol, slot.Add(5 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := result(s, false, tc.at)
			r.Class, r.FailedPhase = tc.class, tc.phase
			var got []metrics.Point
			for _, p := range metrics.Points(r, tc.at) {
				if p.Metric == metrics.FailedRun {
					got = append(got, p)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d failed_run points, want 1", len(got))
			}
			p := got[0]
			if p.Labels[metrics.LabelPhase] != tc.wantPhase || p.Labels[metrics.LabelErrorClass] != string(tc.class) || p.Int64 != tc.at.Unix()/60 {
				t.Errorf("failed_run %d %v, want %d labelled %s in %s", p.Int64, p.Labels, tc.at.Unix()/60, tc.class, tc.wantPhase)
			}
			if earlier := metrics.Points(r, tc.at.Add(-time.Minute)); earlier[len(earlier)-1].Int64 >= p.Int64 {
				t.Errorf("a failure a minute earlier has value %d, not below %d", earlier[len(earlier)-1].Int64, p.Int64)
			}
		})
	}
	for _, p := range metrics.Points(result(s, true, slot), slot) {
		if p.Metric == metrics.FailedRun || p.Metric == metrics.Failure {
			t.Errorf("a passing run wrote %s", p.Metric)
		}
	}
}

func startFake(t *testing.T) *fakegcp.Monitoring {
	t.Helper()
	m, err := fakegcp.StartMonitoring()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// lookup returns the descriptor of the named metric.
func lookup(c metrics.Catalog, name string) (metrics.Descriptor, bool) {
	i := slices.IndexFunc(c.Metrics, func(d metrics.Descriptor) bool { return d.Name == name })
	if i < 0 {
		return metrics.Descriptor{}, false
	}
	return c.Metrics[i], true
}

func newSink(t *testing.T, m *fakegcp.Monitoring, log *slog.Logger) *metrics.GCP {
	t.Helper()
	s, err := metrics.New(context.Background(), metrics.Options{Kind: metrics.KindGCP, Project: "demo", Location: "europe-west4", Log: log, Endpoint: m.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	g := s.(*metrics.GCP)
	t.Cleanup(func() { g.Close() })
	return g
}

type written struct {
	value  float64
	labels map[string]string
}

// byMetric indexes accepted series by metric name and checks what every
// series must be: a GAUGE of the catalogue's value type, one point with
// start = end = at, on the scenario's generic_task.
func byMetric(t *testing.T, ws []fakegcp.Write, scenario string, at time.Time) map[string][]written {
	t.Helper()
	cat := metrics.Catalogue()
	out := map[string][]written{}
	for _, w := range ws {
		ts := w.Series
		name := strings.TrimPrefix(ts.GetMetric().GetType(), metrics.Prefix)
		d, ok := lookup(cat, name)
		if !ok {
			t.Errorf("wrote %s, not in the catalogue", ts.GetMetric().GetType())
			continue
		}
		if ts.GetMetricKind() != metricpb.MetricDescriptor_GAUGE || ts.GetValueType().String() != d.ValueType {
			t.Errorf("%s: kind %s value type %s, want GAUGE %s", name, ts.GetMetricKind(), ts.GetValueType(), d.ValueType)
		}
		wantRes := metrics.ResourceLabels("demo", "europe-west4", scenario)
		if ts.GetResource().GetType() != "generic_task" || !reflect.DeepEqual(ts.GetResource().GetLabels(), wantRes) {
			t.Errorf("%s: resource %s %v, want generic_task %v", name, ts.GetResource().GetType(), ts.GetResource().GetLabels(), wantRes)
		}
		if len(ts.GetPoints()) != 1 {
			t.Fatalf("%s: %d points", name, len(ts.GetPoints()))
		}
		p := ts.GetPoints()[0]
		if s, e := p.GetInterval().GetStartTime().AsTime(), p.GetInterval().GetEndTime().AsTime(); !s.Equal(e) || !e.Equal(at) {
			t.Errorf("%s: interval %s..%s, want start = end = %s", name, s, e, at)
		}
		var v float64
		switch x := p.GetValue().GetValue().(type) {
		case *monitoringpb.TypedValue_Int64Value:
			v = float64(x.Int64Value)
		case *monitoringpb.TypedValue_DoubleValue:
			v = x.DoubleValue
		}
		out[name] = append(out[name], written{v, ts.GetMetric().GetLabels()})
	}
	return out
}

func TestGCPRecordsEveryScenario(t *testing.T) {
	m := startFake(t)
	g := newSink(t, m, nil)
	end := time.Now().Truncate(time.Millisecond)
	for _, s := range scenarios.All() {
		before := len(m.Accepted())
		r := result(s, true, end)
		if err := g.Record(context.Background(), r); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		got := byMetric(t, m.Accepted()[before:], s.Name, end)
		if len(got[metrics.Success]) != 1 || got[metrics.Success][0].value != 1 {
			t.Errorf("%s: success %+v, want one point of 1", s.Name, got[metrics.Success])
		}
		if d := got[metrics.Duration]; len(d) != 1 || d[0].value != 1.5 || d[0].labels["env"] != "test" {
			t.Errorf("%s: duration %+v, want 1.5 with env=test", s.Name, d)
		}
		phases := s.AllPhases()
		if len(got[metrics.PhaseDuration]) != len(phases) {
			t.Fatalf("%s: %d phase points, want %d", s.Name, len(got[metrics.PhaseDuration]), len(phases))
		}
		for i, p := range got[metrics.PhaseDuration] {
			if want := float64(i+1) / 10; p.value != want || p.labels["phase"] != phases[i] {
				t.Errorf("%s: phase point %d = %+v, want %s %.1f", s.Name, i, p, phases[i], want)
			}
		}
		if len(got[metrics.Failure]) != 0 || len(got[metrics.FailedRun]) != 0 {
			t.Errorf("%s: a passing run wrote failure", s.Name)
		}
	}
	if n := m.Requests(); n != len(scenarios.All()) {
		t.Errorf("%d requests for %d runs, want one per run", n, len(scenarios.All()))
	}
}

func TestGCPRecordsFailure(t *testing.T) {
	m := startFake(t)
	g := newSink(t, m, nil)
	s, _ := scenarios.Lookup("submitAndGet")
	end := time.Now().Truncate(time.Millisecond)
	if err := g.Record(context.Background(), result(s, false, end)); err != nil {
		t.Fatal(err)
	}
	got := byMetric(t, m.Accepted(), s.Name, end)
	if len(got[metrics.Success]) != 1 || got[metrics.Success][0].value != 0 {
		t.Errorf("success %+v, want 0", got[metrics.Success])
	}
	if f := got[metrics.Failure]; len(f) != 1 || f[0].value != 1 || f[0].labels["error_class"] != "unavailable" {
		t.Errorf("failure %+v, want 1 with error_class=unavailable", f)
	}
	var zero int
	for _, p := range got[metrics.PhaseDuration] {
		if p.value == 0 {
			zero++
		}
	}
	if len(got[metrics.PhaseDuration]) != 5 || zero != 3 {
		t.Errorf("phases %+v, want all 5 (connect first) with the 3 not reached at 0", got[metrics.PhaseDuration])
	}
	if f := got[metrics.FailedRun]; len(f) != 1 || f[0].value != float64(end.Unix()/60) || f[0].labels["error_class"] != "unavailable" || f[0].labels["phase"] != "submit" {
		t.Errorf("failed_run %+v, want the run's minute with error_class=unavailable, phase=submit", f)
	}
}

// Unavailable is retried WriteAttempts times; a budget that ends a pause
// between two attempts still names the API's answer, not the deadline.
func TestGCPRetriesUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		budget   time.Duration
		attempts func(int) bool
	}{
		{"every attempt", time.Minute, func(n int) bool { return n == metrics.WriteAttempts }},
		{"budget ends a pause", 20 * time.Millisecond, func(n int) bool { return n < metrics.WriteAttempts }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := startFake(t)
			m.Refuse(codes.Unavailable, "The service is currently unavailable.")
			g := newSink(t, m, nil)
			s, _ := scenarios.Lookup("list")
			ctx, cancel := context.WithTimeout(context.Background(), tc.budget)
			defer cancel()
			err := g.Record(ctx, result(s, true, time.Now()))
			var we *metrics.WriteError
			if !errors.As(err, &we) || !strings.Contains(err.Error(), "Unavailable") || !tc.attempts(m.Requests()) {
				t.Fatalf("err = %v after %d attempts, want a WriteError saying Unavailable", err, m.Requests())
			}
		})
	}
}

// A run interrupted (its context cancelled) is still recorded.
func TestGCPRecordsAfterCancel(t *testing.T) {
	t.Parallel()
	m := startFake(t)
	g := newSink(t, m, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, _ := scenarios.Lookup("list")
	if err := g.Record(ctx, result(s, true, time.Now())); err != nil || len(m.Accepted()) == 0 {
		t.Errorf("Record after cancel: %v, %d series accepted; want the run recorded", err, len(m.Accepted()))
	}
}

func TestGCPDoesNotRetryOtherErrors(t *testing.T) {
	m := startFake(t)
	m.Refuse(codes.PermissionDenied, "Permission monitoring.timeSeries.create denied (or the resource may not exist).")
	g := newSink(t, m, nil)
	s, _ := scenarios.Lookup("list")
	err := g.Record(context.Background(), result(s, true, time.Now()))
	if err == nil || !strings.Contains(err.Error(), "PermissionDenied") {
		t.Fatalf("err = %v", err)
	}
	if n := m.Requests(); n != 1 {
		t.Errorf("%d attempts, want 1 (no retry on PermissionDenied)", n)
	}
}

// A hung Monitoring API (accepts connections, never answers) must not
// hang the caller past the write budget: the caller's deadline here.
func TestGCPWriteTimeout(t *testing.T) {
	t.Parallel()
	silent := fakegcp.Silent(t)
	g, err := metrics.New(context.Background(), metrics.Options{Kind: metrics.KindGCP, Project: "demo", Location: "x", Endpoint: silent})
	if err != nil {
		t.Fatal(err)
	}
	defer g.(io.Closer).Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	s, _ := scenarios.Lookup("list")
	start := time.Now()
	err = g.Record(ctx, result(s, true, time.Now()))
	if err == nil {
		t.Fatal("write to a hung server succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Record took %s with a 500ms budget", d)
	}
}

func TestGCPSamplingPeriodAndSummary(t *testing.T) {
	m := startFake(t)
	var logBuf bytes.Buffer
	g := newSink(t, m, logging.New(&logBuf))
	s, _ := scenarios.Lookup("list")
	end := time.Now()
	if err := g.Record(context.Background(), result(s, true, end)); err != nil {
		t.Fatal(err)
	}
	// One second later a failed run: success, duration, both phases and
	// server_version and api_retries come too soon after their previous points;
	// failure_cause, failure and failed_run are new series and land.
	err := g.Record(context.Background(), result(s, false, end.Add(time.Second)))
	if err == nil || !strings.Contains(err.Error(), fakegcp.MsgSamplingPeriod) {
		t.Fatalf("second write: %v, want the sampling period error", err)
	}
	sum := metrics.Summary(errors.Unwrap(err))
	if sum == nil || sum.GetTotalPointCount() != 9 || sum.GetSuccessPointCount() != 3 {
		t.Fatalf("summary %v, want 9 points, 3 written", sum)
	}
	var line map[string]any
	if err := json.Unmarshal(logBuf.Bytes(), &line); err != nil {
		t.Fatalf("summary log line: %v: %q", err, logBuf.String())
	}
	if line["message"] != "metric write partly failed" || line["severity"] != "ERROR" ||
		line["total_point_count"] != 9.0 || line["success_point_count"] != 3.0 {
		t.Errorf("summary line %v", line)
	}
	errs, _ := line["errors"].(map[string]any)
	first, _ := errs["0"].(map[string]any)
	if first["code"] != "InvalidArgument" || first["message"] != fakegcp.MsgSamplingPeriod || first["point_count"] != 6.0 {
		t.Errorf("summary errors %v", errs)
	}
	if n := m.Requests(); n != 2 {
		t.Errorf("%d requests, want 2 (InvalidArgument is not retried)", n)
	}
}

func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	sink, err := metrics.New(context.Background(), metrics.Options{Kind: metrics.KindStdout, Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := scenarios.Lookup("submit")
	end := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := sink.Record(context.Background(), result(s, false, end)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 10 { // success, duration, 3 phases, server_version, api_retries, failure_cause, failure, failed_run
		t.Fatalf("%d lines, want 10:\n%s", len(lines), buf.String())
	}
	var version metrics.StdoutLine
	if err := json.Unmarshal([]byte(lines[5]), &version); err != nil {
		t.Fatal(err)
	}
	if version.Metric != metrics.Prefix+"server_version" || version.Value != 1.0 || version.Labels["version"] != "unknown" {
		t.Errorf("server_version line %+v: a run whose replies said no version is labelled unknown", version)
	}
	var retries metrics.StdoutLine
	if err := json.Unmarshal([]byte(lines[6]), &retries); err != nil {
		t.Fatal(err)
	}
	if retries.Metric != metrics.Prefix+"api_retries" || retries.Value != 0.0 {
		t.Errorf("api_retries line %+v: a run without retries writes 0", retries)
	}
	var cause metrics.StdoutLine
	if err := json.Unmarshal([]byte(lines[7]), &cause); err != nil {
		t.Fatal(err)
	}
	if cause.Metric != metrics.Prefix+"failure_cause" || cause.Value != 103.0 || len(cause.Labels) != 1 {
		t.Errorf("failure_cause line %+v: unavailable (1) in submit (3) is 103, labelled with the env only", cause)
	}
	var last metrics.StdoutLine
	if err := json.Unmarshal([]byte(lines[8]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Metric != metrics.Prefix+"failure" || last.Value != 1.0 || last.Labels["error_class"] != "unavailable" ||
		!last.Time.Equal(end) || last.Resource.Labels["job"] != "submit" || last.Kind != "GAUGE" {
		t.Errorf("failure line %+v", last)
	}
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	if s, err := metrics.New(ctx, metrics.Options{Kind: metrics.KindNone}); err != nil || s.Record(ctx, scenarios.Result{}) != nil {
		t.Errorf("none: %v", err)
	}
	if _, err := metrics.New(ctx, metrics.Options{Kind: "prometheus"}); err == nil {
		t.Error("unknown kind: no error")
	}
	// Without a project and without permission to ask the metadata server.
	if _, err := metrics.New(ctx, metrics.Options{Kind: metrics.KindGCP, Endpoint: "127.0.0.1:1"}); !errors.Is(err, metrics.ErrNoProject) {
		t.Errorf("gcp without project: %v, want ErrNoProject", err)
	}
}

// TestNewFromMetadata resolves project and location from a fake metadata
// server, as on Cloud Run, and writes with them.
func TestNewFromMetadata(t *testing.T) {
	md, err := fakegcp.StartMetadata(fakegcp.CloudRun())
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	t.Setenv("GCE_METADATA_HOST", md.Host()) // read by the metadata package
	m := startFake(t)
	sink, err := metrics.New(context.Background(), metrics.Options{Kind: metrics.KindGCP, Endpoint: m.Addr(), Metadata: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.(io.Closer).Close()
	s, _ := scenarios.Lookup("list")
	end := time.Now()
	if err := sink.Record(context.Background(), result(s, true, end)); err != nil {
		t.Fatal(err)
	}
	byMetric(t, m.Accepted(), "list", end.Truncate(0)) // checks project demo, location europe-west4
	if got := strings.Join(md.Requests(), ","); got != "project/project-id,instance/region" {
		t.Errorf("metadata requests %s", got)
	}

	// CANARY_LOCATION given: only the project is asked for.
	before := len(md.Requests())
	sink2, err := metrics.New(context.Background(), metrics.Options{Kind: metrics.KindGCP, Endpoint: m.Addr(), Metadata: true, Location: "us-east1"})
	if err != nil {
		t.Fatal(err)
	}
	sink2.(io.Closer).Close()
	if got := md.Requests()[before:]; len(got) != 1 || got[0] != "project/project-id" {
		t.Errorf("with a location set, metadata requests %v", got)
	}
}

// The server version label is the sanitised version, "unknown" for none or
// for anything that does not read as a version (it came from the network).
func TestServerVersionLabel(t *testing.T) {
	t.Parallel()
	s, _ := scenarios.Lookup("list")
	for _, tc := range []struct{ in, want string }{
		{"v1.9.3", "v1.9.3"},
		{"v1.7.0", "v1.7.0"},
		{"v1.8.0-rc.1", "v1.8.0-rc.1"},
		{"", "unknown"},
		{"unknown", "unknown"},
		{"v1.9.3; rm -rf /", "unknown"},
		{"v1.9.3\n", "unknown"},
		{"v1.9.3-" + strings.Repeat("a", 40), "unknown"},
		{"<script>", "unknown"},
	} {
		r := result(s, true, time.Now())
		r.ServerVersion = tc.in
		var got []string
		for _, p := range metrics.Points(r, time.Now()) {
			if p.Metric == metrics.ServerVersion {
				got = append(got, p.Labels[metrics.LabelVersion])
				if p.Int64 != 1 {
					t.Errorf("%q: server_version value %d, want 1", tc.in, p.Int64)
				}
			}
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("server version %q: labels %v, want [%s]", tc.in, got, tc.want)
		}
	}
}
