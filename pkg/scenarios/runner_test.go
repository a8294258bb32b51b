package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bacalhau-project/bacalhau/pkg/bacerrors"
	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/logging"
)

func newRunner(f *fakeJobs, fetch Fetcher) *Runner {
	if fetch == nil {
		fetch = fakeFetcher{stdout: DefaultText}
	}
	return &Runner{Connect: connectTo(f, fetch), Spec: JobSpec{Engine: EngineWasm}, Env: "test", Timeout: 5 * time.Second}
}

// connectTo is a Connect step that hands the run jobs and fetch.
func connectTo(jobs Jobs, fetch Fetcher) func(context.Context) (Conn, error) {
	if fetch == nil {
		fetch = fakeFetcher{stdout: DefaultText}
	}
	return func(context.Context) (Conn, error) { return Conn{Jobs: jobs, Fetcher: fetch}, nil }
}

func TestEveryScenarioPassesOnAHealthyNetwork(t *testing.T) {
	t.Parallel()
	for _, s := range All() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			res := newRunner(f, nil).Run(t.Context(), s)
			if !res.Success {
				t.Fatalf("failed: %s: %s", res.Class, res.Error)
			}
			if got := phaseNames(res.Phases); !slices.Equal(got, s.AllPhases()) || got[0] != PhaseConnect {
				t.Fatalf("result has phases %v, want connect then the scenario's %v", got, s.Phases)
			}
			for _, p := range res.Phases {
				if !p.Reached {
					t.Errorf("phase %s not reached on a passing run", p.Name)
				}
			}
			if len(f.stops) != 0 {
				t.Errorf("a passing run stopped jobs %v", f.stops)
			}
			if s.Submits && (res.JobID == "" || f.state(res.JobID) != models.JobStateTypeCompleted) {
				t.Errorf("job %q not completed", res.JobID)
			}
			if !s.Submits && (res.JobID != "" || f.calls["Put"] != 0) {
				t.Errorf("a scenario that submits nothing submitted %q (%d puts)", res.JobID, f.calls["Put"])
			}
		})
	}
}

// apiErr is what pkg/bacalhau returns for an error reply: its status's
// class, whatever code its body claims.
func apiErr(status int, code bacerrors.ErrorCode) error {
	return fmt.Errorf("HTTP %d (%s): %w", status, code, StatusClass(status))
}

type errorClassCase struct {
	name     string
	scenario string
	setup    func(f *fakeJobs) Fetcher
	spec     JobSpec
	want     Class
	stopped  bool // the runner must have stopped the job
}

// errorClassCases break one thing each and name the class the run must get.
var errorClassCases = []errorClassCase{
	{"refused", "submit", func(f *fakeJobs) Fetcher {
		f.failErr["Put"] = fmt.Errorf("PUT /api/v1/orchestrator/jobs: dial tcp: connection refused: %w", ErrUnavailable)
		return nil
	}, JobSpec{}, ErrUnavailable, false},
	{"dns", "list", func(f *fakeJobs) Fetcher {
		f.failErr["List"] = fmt.Errorf("GET /api/v1/orchestrator/jobs: lookup api.example: no such host: %w", ErrUnavailable)
		return nil
	}, JobSpec{}, ErrUnavailable, false},
	{"certificate", "list", func(f *fakeJobs) Fetcher {
		// What pkg/bacalhau's transport returns for a handshake that failed verification.
		f.failErr["List"] = fmt.Errorf("GET /api/v1/orchestrator/jobs: the API's TLS certificate is signed by an unknown authority: %w", ErrCertificate)
		return nil
	}, JobSpec{}, ErrCertificate, false},
	{"hung API", "submit", func(f *fakeJobs) Fetcher { f.hang["Get"] = true; return nil }, JobSpec{}, ErrTimeout, true},
	{"slow job", "submitAndDescribe", func(f *fakeJobs) Fetcher { f.polls = 1 << 30; return nil }, JobSpec{}, ErrTimeout, true},
	{"401", "list", func(f *fakeJobs) Fetcher {
		f.failErr["List"] = apiErr(http.StatusUnauthorized, bacerrors.UnauthorizedError)
		return nil
	}, JobSpec{}, ErrAuth, false},
	{"403", "submit", func(f *fakeJobs) Fetcher { f.failErr["Put"] = apiErr(http.StatusForbidden, "Forbidden"); return nil }, JobSpec{}, ErrAuth, false},
	{"400", "submit", func(f *fakeJobs) Fetcher {
		f.failErr["Put"] = apiErr(http.StatusBadRequest, bacerrors.ValidationError)
		return nil
	}, JobSpec{}, ErrBadRequest, false},
	{"500", "list", func(f *fakeJobs) Fetcher {
		f.failErr["List"] = apiErr(http.StatusInternalServerError, bacerrors.InternalError)
		return nil
	}, JobSpec{}, ErrServer, false},
	{"503 reply", "list", func(f *fakeJobs) Fetcher {
		f.failErr["List"] = apiErr(http.StatusServiceUnavailable, bacerrors.ServiceUnavailable)
		return nil
	}, JobSpec{}, ErrServer, false},
	{"429", "submit", func(f *fakeJobs) Fetcher {
		f.failErr["Put"] = apiErr(http.StatusTooManyRequests, bacerrors.TooManyRequests)
		return nil
	}, JobSpec{}, ErrServer, false},
	{"500 while running", "submitAndDescribe", func(f *fakeJobs) Fetcher {
		f.polls = 1 << 30
		f.failErr["Get"] = apiErr(http.StatusInternalServerError, bacerrors.InternalError)
		return nil
	}, JobSpec{}, ErrServer, true},
	{"malformed JSON", "list", func(f *fakeJobs) Fetcher {
		f.failErr["List"] = fmt.Errorf("list jobs: the Bacalhau client cannot decode the reply: %w: %w", &json.SyntaxError{Offset: 3}, ErrProtocol)
		return nil
	}, JobSpec{}, ErrProtocol, false},
	{"not a tar.gz", "submitAndGet", func(f *fakeJobs) Fetcher { return fakeFetcher{raw: []byte("<html>")} }, JobSpec{}, ErrPublisher, false},
	{"exit code", "submit", func(f *fakeJobs) Fetcher { f.exit = 2; return nil }, JobSpec{}, ErrJobFailed, false},
	{"wrong stdout downloaded", "submitAndGet", func(f *fakeJobs) Fetcher { return fakeFetcher{stdout: "bye\n"} }, JobSpec{}, ErrOutputMismatch, false},
	{"wrong RunOutput", "submitAndGet", func(f *fakeJobs) Fetcher { f.outcome = "bye\n"; return nil }, JobSpec{}, ErrOutputMismatch, false},
	{"job prints other text", "submitAndGet", func(f *fakeJobs) Fetcher {
		f.outcome = "something else\n"
		return fakeFetcher{stdout: "something else\n"}
	}, JobSpec{}, ErrOutputMismatch, false},
	{"two nodes", "submitWithConcurrency", func(f *fakeJobs) Fetcher { f.nodes = 2; return nil }, JobSpec{}, ErrConcurrency, false},
	{"unknown engine", "submit", nil, JobSpec{Engine: "podman"}, ErrCanary, false},
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	for _, tt := range errorClassCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			var fetch Fetcher
			if tt.setup != nil {
				fetch = tt.setup(f)
			}
			r := newRunner(f, fetch)
			r.Timeout = 300 * time.Millisecond
			if tt.spec.Engine == "" {
				tt.spec.Engine = EngineWasm
			}
			r.Spec = tt.spec
			s, _ := Lookup(tt.scenario)
			res := r.Run(t.Context(), s)
			if res.Success {
				t.Fatal("run passed, want a failure")
			}
			if res.Class != tt.want {
				t.Errorf("class = %q, want %q (error: %s)", res.Class, tt.want, res.Error)
			}
			if res.Error == "" {
				t.Error("failed run has no error text")
			}
			if res.Duration > r.Timeout+time.Second {
				t.Errorf("run took %s, more than its deadline %s plus 1s", res.Duration, r.Timeout)
			}
			if res.Stopped != tt.stopped {
				t.Errorf("Stopped = %v, want %v (stops: %v)", res.Stopped, tt.stopped, f.stops)
			}
			if res.JobID != "" {
				if st := f.state(res.JobID); !st.IsTerminal() {
					t.Errorf("job %s left %s", res.JobID, st)
				}
			}
		})
	}
}

func TestEveryClassIsCovered(t *testing.T) {
	t.Parallel()
	// The set of classes is closed and every one of them is reached by a
	// case of TestErrorClasses (canary also by the panic test below).
	listed := map[Class]bool{}
	for _, c := range Classes {
		if listed[c] {
			t.Errorf("class %q listed twice", c)
		}
		listed[c] = true
	}
	// The contract is the README's table of who acts on which class.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[Class]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| the network's operators |") || strings.HasPrefix(line, "| the canary's owners |") {
			for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(line, -1) {
				documented[Class(m[1])] = true
			}
		}
	}
	if !maps.Equal(listed, documented) {
		t.Errorf("Classes %v, the README's class table %v", slices.Sorted(maps.Keys(listed)), slices.Sorted(maps.Keys(documented)))
	}
	reached := map[Class]bool{}
	for _, tt := range errorClassCases {
		if !listed[tt.want] {
			t.Errorf("case %q expects %q, which is not in Classes", tt.name, tt.want)
		}
		reached[tt.want] = true
	}
	for _, c := range Classes {
		if !reached[c] {
			t.Errorf("no case of TestErrorClasses reaches class %q", c)
		}
		// The page's runbook line (terraform/scenarios.json) comes from here.
		if len(c.Runbook()) < 40 || strings.ContainsAny(c.Runbook(), "\n%$") {
			t.Errorf("class %q: runbook %q, want one line of text for the page (no template characters)", c, c.Runbook())
		}
	}
	if Class("nope").Runbook() != "" {
		t.Error("an unknown class has a runbook")
	}
}

func TestPanickingScenarioIsACanaryFailure(t *testing.T) {
	t.Parallel()
	s := Scenario{Name: "boom", Phases: []string{"boom"}, Run: func(ctx context.Context, p *Probe) error {
		return p.Phase("boom", func() error { panic("nil map") })
	}}
	res := newRunner(newFake(), nil).Run(t.Context(), s)
	if res.Success || res.Class != ErrCanary || !strings.Contains(res.Error, "nil map") || res.FailedPhase != "boom" {
		t.Errorf("got success=%v class=%q error=%q, want a canary failure naming the panic", res.Success, res.Class, res.Error)
	}
}

// TestConnectPhase: the runner's Connect step runs first, timed as the
// connect phase; its failure ends the run there, with its class, before
// any call to the API, and the secret it read is kept out of the error.
func TestConnectPhase(t *testing.T) {
	t.Parallel()
	const secret = "connect-secret-7f3a"
	for _, tc := range []struct {
		name      string
		connect   func(f *fakeJobs) (Conn, error)
		wantClass Class // "" = the run passes
		wantText  string
	}{
		{"connects", func(f *fakeJobs) (Conn, error) { return Conn{Jobs: f, Fetcher: fakeFetcher{stdout: DefaultText}}, nil }, "", ""},
		{"secret unreadable", func(*fakeJobs) (Conn, error) {
			return Conn{}, fmt.Errorf("BACALHAU_API_KEY_SECRET: permission denied: %w", ErrCanary)
		}, ErrCanary, "permission denied"},
		{"no client", func(*fakeJobs) (Conn, error) { return Conn{}, nil }, ErrCanary, "no API client"},
		{"panics", func(*fakeJobs) (Conn, error) { panic("connect bug") }, ErrCanary, "connect bug"},
		{"secret in a later error", func(f *fakeJobs) (Conn, error) {
			f.failErr["Put"] = fmt.Errorf("server says key %s is wrong: %w", secret, ErrAuth)
			return Conn{Jobs: f, Fetcher: fakeFetcher{}, Secret: secret}, nil
		}, ErrAuth, "[REDACTED]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			r := newRunner(nil, nil)
			r.Connect = func(ctx context.Context) (Conn, error) { return tc.connect(f) }
			res := r.Run(t.Context(), Submit)
			if got := phaseNames(res.Phases); !slices.Equal(got, Submit.AllPhases()) {
				t.Fatalf("phases %v", got)
			}
			if !res.Phases[0].Reached {
				t.Errorf("connect phase not reached")
			}
			if tc.wantClass == "" {
				if !res.Success {
					t.Fatalf("failed: %s: %s", res.Class, res.Error)
				}
				return
			}
			if res.Success || res.Class != tc.wantClass || !strings.Contains(res.Error, tc.wantText) || strings.Contains(res.Error, secret) {
				t.Fatalf("result %v %s %q, want class %s saying %q without the secret", res.Success, res.Class, res.Error, tc.wantClass, tc.wantText)
			}
			wantPhase := PhaseConnect
			if tc.name == "secret in a later error" {
				wantPhase = "submit"
			}
			if res.FailedPhase != wantPhase {
				t.Errorf("failed phase %q, want %q", res.FailedPhase, wantPhase)
			}
			if wantPhase == PhaseConnect && res.Phases[1].Reached {
				t.Errorf("submit reached after a failed connect")
			}
		})
	}
}

func TestUndeclaredPhaseIsACanaryFailure(t *testing.T) {
	t.Parallel()
	s := Scenario{Name: "typo", Phases: []string{"submit"}, Run: func(ctx context.Context, p *Probe) error {
		return p.Phase("sbumit", func() error { return nil })
	}}
	if res := newRunner(newFake(), nil).Run(t.Context(), s); res.Class != ErrCanary {
		t.Errorf("class = %q, want canary", res.Class)
	}
}

func TestStopFailureIsReported(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.hang["Get"] = true
	f.failErr["Stop"] = apiErr(http.StatusInternalServerError, bacerrors.InternalError)
	r := newRunner(f, nil)
	r.Timeout = 100 * time.Millisecond
	res := r.Run(t.Context(), Submit)
	if res.Stopped || res.Class != ErrTimeout || !strings.Contains(res.Error, "stopping job") {
		t.Errorf("got stopped=%v class=%q error=%q, want a timeout that says the stop failed", res.Stopped, res.Class, res.Error)
	}
}

func TestHugeErrorTextIsClipped(t *testing.T) {
	t.Parallel()
	f := newFake()
	r := newRunner(f, nil)
	f.failErr["Put"] = fmt.Errorf("body %s: %w", strings.Repeat("x", 1<<20), apiErr(http.StatusBadGateway, bacerrors.InternalError))
	res := r.Run(t.Context(), Submit)
	if len(res.Error) > maxErrorText+64 || res.Class != ErrServer || !strings.HasPrefix(res.Error, "submitting job: body xxx") {
		t.Errorf("class %q, error of %d bytes starting %.40q: want server, clipped to about %d", res.Class, len(res.Error), res.Error, maxErrorText)
	}
	if got := clipMiddle("start "+strings.Repeat("é", 5000)+" (and stopping job j failed: 500)", 1000); len(got) > 1100 ||
		!strings.HasSuffix(got, "(and stopping job j failed: 500)") || !utf8.ValidString(got) {
		t.Errorf("clipMiddle lost the end or split a rune: %q", got)
	}
}

func TestResultLogLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	f := newFake()
	f.failErr["Put"] = fmt.Errorf("token s3cr3t rejected: %w", apiErr(http.StatusUnauthorized, bacerrors.UnauthorizedError))
	r := newRunner(f, nil)
	r.Log = logging.New(&buf)
	r.Secrets = []string{"s3cr3t"}
	res := r.Run(t.Context(), SubmitAndGet)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one log line per run, got %d: %q", len(lines), buf.String())
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"severity": "ERROR", "message": "scenario failed", "scenario": "submitAndGet", "env": "test",
		"success": false, "error_class": "auth",
	} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
	if strings.Contains(lines[0], "s3cr3t") || strings.Contains(res.Error, "s3cr3t") {
		t.Errorf("secret leaked: %s", lines[0])
	}
	phases, _ := line["phase_duration_seconds"].(map[string]any)
	for _, p := range SubmitAndGet.Phases {
		if _, ok := phases[p]; !ok {
			t.Errorf("phase %s missing from the log line: %v", p, phases)
		}
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	want := []string{"list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency", "nodes"}
	if got := Names(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	names := map[string]bool{}
	for _, s := range All() {
		if names[s.Name] {
			t.Errorf("scenario %s listed twice", s.Name)
		}
		names[s.Name] = true
		if got, ok := Lookup(s.Name); !ok || got.Name != s.Name {
			t.Errorf("Lookup(%q) = %v, %v", s.Name, got.Name, ok)
		}
		if s.Doc == "" || s.Run == nil || len(s.Phases) == 0 {
			t.Errorf("%s: needs a doc line, a Run and phases", s.Name)
		}
		seen := map[string]bool{}
		for _, p := range s.Phases {
			if seen[p] {
				t.Errorf("%s: phase %s declared twice", s.Name, p)
			}
			seen[p] = true
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup found an unknown scenario")
	}
}

func TestJobSpec(t *testing.T) {
	t.Parallel()
	sel := []*models.LabelSelectorRequirement{{Key: "owner", Operator: "=", Values: []string{"bacalhau"}}}
	for _, engine := range []string{EngineDocker, EngineWasm} {
		job, err := JobSpec{Engine: engine, Selectors: sel, Publisher: PublisherLocal}.Build("submit", "prod", "r1", 3, 90*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if job.Name != "" || job.ID != "" {
			t.Errorf("%s: Name/ID set: %q %q", engine, job.Name, job.ID)
		}
		if job.Labels[LabelCanary] != "true" || job.Labels[LabelScenario] != "submit" || job.Labels[LabelEnv] != "prod" {
			t.Errorf("%s: labels %v", engine, job.Labels)
		}
		if job.Tasks[0].Publisher == nil || job.Tasks[0].Publisher.Type != PublisherLocal {
			t.Errorf("%s: publisher %v, want local", engine, job.Tasks[0].Publisher)
		}
		if job.Count != 3 || len(job.Constraints) != 1 || job.Type != models.JobTypeBatch {
			t.Errorf("%s: count %d constraints %v type %s", engine, job.Count, job.Constraints, job.Type)
		}
		to := job.Tasks[0].Timeouts
		if to.TotalTimeout < 1 || to.TotalTimeout >= 90 || to.ExecutionTimeout > to.TotalTimeout {
			t.Errorf("%s: task timeouts %+v not below the 90s deadline", engine, to)
		}
		job.Normalize()
		if err := job.ValidateSubmission(); err != nil {
			t.Errorf("%s: Bacalhau rejects the job: %v", engine, err)
		}
	}
	if _, err := (JobSpec{Engine: "podman"}).Build("submit", "dev", "r1", 1, time.Second); err == nil {
		t.Error("unknown engine accepted")
	}
	job, err := JobSpec{Engine: EngineWasm}.Build("submit", "dev", "r1", 1, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if to := job.Tasks[0].Timeouts; to.TotalTimeout != 1 {
		t.Errorf("a sub-second deadline gives TotalTimeout %d, want the 1s minimum", to.TotalTimeout)
	}
}

// endsUnseen completes the job on the server while the canary's poll fails,
// as when a job finishes during a hung or failing state call.
type endsUnseen struct{ *fakeJobs }

func (e endsUnseen) Get(ctx context.Context, r *apimodels.GetJobRequest) (*apimodels.GetJobResponse, error) {
	e.mu.Lock()
	fj := e.jobs[r.JobIDOrName]
	first := fj.job.State.StateType == models.JobStateTypePending
	if first {
		fj.job.State = models.NewJobState(models.JobStateTypeCompleted)
	}
	e.mu.Unlock()
	if first {
		return nil, apiErr(http.StatusBadGateway, bacerrors.InternalError)
	}
	return e.fakeJobs.Get(ctx, r)
}

func TestJobThatEndedUnseenIsNotAStopFailure(t *testing.T) {
	t.Parallel()
	f := newFake()
	r := newRunner(f, nil)
	r.Connect = connectTo(endsUnseen{f}, nil)
	res := r.Run(t.Context(), Submit)
	if res.Class != ErrServer || res.Stopped || strings.Contains(res.Error, "stopping job") {
		t.Errorf("got class=%q stopped=%v error=%q; want a server failure with no stop complaint", res.Class, res.Stopped, res.Error)
	}
	if f.calls["Stop"] != 1 {
		t.Errorf("Stop called %d times, want 1 (the canary still tries)", f.calls["Stop"])
	}
}

func phaseNames(phases []Phase) []string {
	names := make([]string, len(phases))
	for i, p := range phases {
		names[i] = p.Name
	}
	return names
}
