package canary_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/config"
	"github.com/bacalhau-project/bacalhau-canary/pkg/logging"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

const (
	key     = "bac-key-7f3a9c"
	found   = "projects/demo/secrets/bacalhau-api-key/versions/latest"
	missing = "projects/demo/secrets/gone/versions/latest"
	denied  = "projects/demo/secrets/other-team/versions/1"
)

// bacalhauAPI answers the job list for the bearer key; with echo it
// refuses every call with an error that repeats the token it was sent.
func bacalhauAPI(t *testing.T, echo bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: lis, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case echo:
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(apimodels.APIError{HTTPStatusCode: 400, Message: "malformed token " + token})
		case token != key:
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/api/v1/orchestrator/jobs":
			job := &models.Job{ID: "j-1", CreateTime: 1, State: models.NewJobState(models.JobStateTypeCompleted)}
			_ = json.NewEncoder(w).Encode(apimodels.ListJobsResponse{Items: []*models.Job{job}})
		default:
			http.NotFound(w, r)
		}
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &calls
}

// run runs the list scenario once and records it, as the job does.
func run(c *canary.Canary) (scenarios.Result, error) {
	res := c.Check(context.Background(), scenarios.List)
	return res, c.Record(context.Background(), res)
}

type fixture struct {
	sm     *fakegcp.SecretManager
	mon    *fakegcp.Monitoring
	api    *httptest.Server
	calls  *atomic.Int32
	stdout bytes.Buffer
}

func setup(t *testing.T, echo bool) *fixture {
	t.Helper()
	f := &fixture{}
	var err error
	if f.sm, err = fakegcp.StartSecretManager(map[string]string{found: key + "\n"}, denied); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.sm.Close)
	if f.mon, err = fakegcp.StartMonitoring(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.mon.Close)
	f.api, f.calls = bacalhauAPI(t, echo)
	return f
}

func (f *fixture) canary(t *testing.T, secret string) *canary.Canary {
	t.Helper()
	host, port, _ := net.SplitHostPort(f.api.Listener.Addr().String())
	cfg, err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{
		"BACALHAU_API_HOST":             host,
		"BACALHAU_API_PORT":             port,
		"BACALHAU_API_KEY_SECRET":       secret,
		"CANARY_SECRETMANAGER_ENDPOINT": f.sm.Addr(),
		"CANARY_MONITORING_ENDPOINT":    f.mon.Addr(),
		"GOOGLE_CLOUD_PROJECT":          "demo",
		"CANARY_LOCATION":               "europe-west4",
		"CANARY_ENV":                    "test",
		"CANARY_TIMEOUT":                "10s",
	}))
	if err == nil {
		err = cfg.Validate(true)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := canary.New(cfg, canary.Options{Log: logging.New(&f.stdout), Stdout: &f.stdout})
	t.Cleanup(func() { c.Close() })
	return c
}

// written returns metric{labels}=value of every accepted series.
func (f *fixture) written() map[string]float64 {
	out := map[string]float64{}
	for _, w := range f.mon.Accepted() {
		name := strings.TrimPrefix(w.Series.GetMetric().GetType(), metrics.Prefix)
		if c := w.Series.GetMetric().GetLabels()["error_class"]; c != "" {
			name += "{error_class=" + c + "}"
		}
		v := w.Series.GetPoints()[0].GetValue()
		out[name] = float64(v.GetInt64Value()) + v.GetDoubleValue()
	}
	return out
}

func TestSecretFound(t *testing.T) {
	f := setup(t, false)
	res, err := run(f.canary(t, found))
	if err != nil {
		t.Fatalf("not recorded: %v", err)
	}
	if !res.Success {
		t.Fatalf("run failed: %s: %s", res.Class, res.Error)
	}
	if f.sm.Requests() != 1 {
		t.Errorf("%d secret reads, want 1 per run", f.sm.Requests())
	}
	if p := res.Phases[0]; p.Name != scenarios.PhaseConnect || !p.Reached || p.Duration <= 0 {
		t.Errorf("first phase %+v, want the connect phase, reached and timed", p)
	}
	if got := f.written(); got["success"] != 1 {
		t.Errorf("written %v", got)
	}
	if strings.Contains(f.stdout.String(), key) {
		t.Errorf("the key reached the log:\n%s", f.stdout.String())
	}
}

func TestSecretMissingOrDenied(t *testing.T) {
	for _, tc := range []struct{ name, secret, want string }{
		{"missing", missing, "does not exist or is not enabled"},
		{"denied", denied, "roles/secretmanager.secretAccessor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, false)
			res, err := run(f.canary(t, tc.secret))
			if err != nil {
				t.Fatalf("not recorded: %v", err)
			}
			if res.Success || res.Class != scenarios.ErrCanary || res.FailedPhase != scenarios.PhaseConnect {
				t.Fatalf("result %s %v in phase %q, want a canary failure in the connect phase", res.Class, res.Success, res.FailedPhase)
			}
			for _, p := range res.Phases[1:] {
				if p.Reached {
					t.Errorf("phase %s reached after a failed connect", p.Name)
				}
			}
			if !strings.Contains(res.Error, "BACALHAU_API_KEY_SECRET") || !strings.Contains(res.Error, tc.secret) || !strings.Contains(res.Error, tc.want) {
				t.Errorf("error %q, want it to name the variable, the version and say %q", res.Error, tc.want)
			}
			if n := f.calls.Load(); n != 0 {
				t.Errorf("the Bacalhau API got %d calls without a key", n)
			}
			got := f.written()
			if got["success"] != 0 || got["failure{error_class=canary}"] != 1 {
				t.Errorf("written %v, want success=0 and failure{error_class=canary}=1", got)
			}
			var line map[string]any
			if err := json.Unmarshal(f.stdout.Bytes(), &line); err != nil || line["error_class"] != "canary" {
				t.Errorf("log line %q", f.stdout.String())
			}
		})
	}
}

// TestSecretRedacted: an API that repeats the token in its error text
// must not get the key into the result, the log line or the metrics.
func TestSecretRedacted(t *testing.T) {
	f := setup(t, true)
	res, err := run(f.canary(t, found))
	if err != nil {
		t.Fatalf("not recorded: %v", err)
	}
	if res.Success || res.Class != scenarios.ErrBadRequest {
		t.Fatalf("result %s %q, want bad_request", res.Class, res.Error)
	}
	if strings.Contains(res.Error, key) || !strings.Contains(res.Error, "[REDACTED]") {
		t.Errorf("error %q holds the key or no redaction mark", res.Error)
	}
	if strings.Contains(f.stdout.String(), key) {
		t.Errorf("the key reached the log:\n%s", f.stdout.String())
	}
	for _, w := range f.mon.Accepted() {
		for _, v := range w.Series.GetMetric().GetLabels() {
			if strings.Contains(v, key) {
				t.Errorf("the key reached a label: %s", v)
			}
		}
	}
}

// TestSecretWithinItsBudget: a Secret Manager that does not answer costs
// the run the key's budget (half its deadline here), and the run is the
// canary's (connect), never a timeout paged as the network's.
func TestSecretWithinItsBudget(t *testing.T) {
	silent := fakegcp.Silent(t)
	api, _ := bacalhauAPI(t, false)
	host, port, _ := net.SplitHostPort(api.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	cfg := config.Config{
		APIHost: host, APIPort: p, APIKeySecret: found, SecretManagerEndpoint: silent,
		Env: "test", Timeout: 500 * time.Millisecond, Metrics: metrics.KindNone,
	}
	start := time.Now()
	res, err := run(canary.New(cfg, canary.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("run took %s with a 500ms deadline", d)
	}
	if res.Success || res.Class != scenarios.ErrCanary || res.FailedPhase != scenarios.PhaseConnect {
		t.Errorf("result %s %q in phase %q, want class canary in the connect phase", res.Class, res.Error, res.FailedPhase)
	}
	budget := cfg.Timeout / 2 // less than gcp.SecretBudget
	if res.Duration >= cfg.Timeout || !strings.Contains(res.Error, budget.String()) {
		t.Errorf("run took %s (%q), want it to end at the key's budget of %s", res.Duration, res.Error, budget)
	}
}

func TestSinkErrorIsNotRecorded(t *testing.T) {
	api, _ := bacalhauAPI(t, false)
	host, port, _ := net.SplitHostPort(api.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	// gcp without a project, outside Google Cloud (GCE_METADATA_HOST is
	// pointed at a closed port so nothing leaves the machine).
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	cfg := config.Config{APIHost: host, APIPort: p, APIKey: key, Env: "test", Timeout: 5 * time.Second, MonitoringEndpoint: "127.0.0.1:1"}
	var out bytes.Buffer
	c := canary.New(cfg, canary.Options{Log: logging.New(&out)})
	res, err := run(c)
	if !res.Success {
		t.Fatalf("run: %s", res.Error)
	}
	if err == nil || !strings.Contains(err.Error(), "GOOGLE_CLOUD_PROJECT") {
		t.Errorf("err = %v, want it to say which variable to set", err)
	}
	if !strings.Contains(out.String(), `"scenario passed"`) {
		t.Errorf("the result line must be logged before recording:\n%s", out.String())
	}
}
