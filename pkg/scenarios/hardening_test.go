package scenarios

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/bacerrors"
	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/gcp"
)

// panickyStop is a Jobs whose Stop panics, as the client's did on a null
// reply before the checking layer.
type panickyStop struct{ *fakeJobs }

func (p panickyStop) Stop(context.Context, *apimodels.StopJobRequest) (*apimodels.StopJobResponse, error) {
	var job *models.Job
	job.Tasks[0].Normalize() // nil pointer
	return nil, nil
}

func TestPanicInStopIsACanaryFailureWithAResultLine(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.failErr["Get"] = apiErr(http.StatusInternalServerError, bacerrors.InternalError)
	r := newRunner(f, nil)
	r.Connect = connectTo(panickyStop{f}, nil)
	res := r.Run(t.Context(), Submit)
	if res.Success || res.Class != ErrServer || !strings.Contains(res.Error, "stopping job") || !strings.Contains(res.Error, "panicked") {
		t.Errorf("got class %q error %q: want the run's own class, with the stop's panic noted", res.Class, res.Error)
	}
	if strings.Contains(res.Error, "goroutine ") || strings.Contains(res.Error, "\n") {
		t.Errorf("the error text holds a stack: %q", res.Error)
	}
}

func TestPanicTextHasNoStack(t *testing.T) {
	t.Parallel()
	s := Scenario{Name: "boom", Phases: []string{"boom"}, Run: func(ctx context.Context, p *Probe) error {
		return p.Phase("boom", func() error { panic("line one\nline two") })
	}}
	res := newRunner(newFake(), nil).Run(t.Context(), s)
	if res.Class != ErrCanary || strings.Contains(res.Error, "\n") || strings.Contains(res.Error, "goroutine ") ||
		!strings.Contains(res.Error, `line one\nline two`) || !strings.Contains(res.Error, "hardening_test.go") {
		t.Errorf("error %q: want one line naming the panic and where it happened", res.Error)
	}
}

// TestLostSubmitReplyStopsTheJobByLabel: the job exists but its ID never
// reached the canary; the runner finds it by the run's label and stops it.
func TestLostSubmitReplyStopsTheJobByLabel(t *testing.T) {
	t.Parallel()
	f := newFake()
	// Another run's job, running: never touched.
	other := newRunner(f, nil)
	f.hang["Get"] = true
	other.Timeout = 50 * time.Millisecond
	f.failErr["Stop"] = errors.New("stop refused")
	_ = other.Run(t.Context(), Submit)
	f.mu.Lock()
	delete(f.hang, "Get")
	delete(f.failErr, "Stop")
	f.putLost = fmt.Errorf("connection reset: %w", ErrUnavailable)
	f.mu.Unlock()

	res := newRunner(f, nil).Run(t.Context(), Submit)
	if res.Class != ErrUnavailable || !res.Stopped || res.JobID != "j-2" || res.RunID == "" {
		t.Fatalf("class %q stopped %v job %q run %q (%s): want unavailable, j-2 found and stopped", res.Class, res.Stopped, res.JobID, res.RunID, res.Error)
	}
	if f.state("j-2") != models.JobStateTypeStopped || f.state("j-1").IsTerminal() {
		t.Errorf("j-2 %s, j-1 %s: want only the run's own job stopped", f.state("j-2"), f.state("j-1"))
	}
	if f.jobs["j-2"].job.Labels[LabelRun] != res.RunID {
		t.Errorf("the job's %s label is %q, the run's ID %q", LabelRun, f.jobs["j-2"].job.Labels[LabelRun], res.RunID)
	}
}

// TestNoLabelSearchWithoutAFailedSubmit: the label-filtered list reads the
// whole job store, so it runs only after a failed submit.
func TestNoLabelSearchWithoutAFailedSubmit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		set  func(*fakeJobs)
		s    Scenario
	}{
		{"pass", func(*fakeJobs) {}, Submit},
		{"poll-fails", func(f *fakeJobs) { f.failErr["Get"] = apiErr(500, bacerrors.InternalError) }, Submit},
		{"list-scenario-fails", func(f *fakeJobs) { f.failErr["List"] = apiErr(500, bacerrors.InternalError) }, List},
	} {
		f := newFake()
		tt.set(f)
		newRunner(f, nil).Run(t.Context(), tt.s)
		want := 0
		if tt.s.Name == "list" {
			want = 1
		}
		if n := f.calls["List"]; n != want {
			t.Errorf("%s: %d List calls, want %d", tt.name, n, want)
		}
	}
}

func TestRunIDsAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := newRunID()
		if seen[id] || len(id) != 16 {
			t.Fatalf("run ID %q repeated or malformed", id)
		}
		seen[id] = true
	}
}

// TestInterruptedRunIsCanary: SIGTERM (the parent context cancelled) in
// any step is the canary's class, whatever the step made of it.
func TestInterruptedRunIsCanary(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"Get", "Results"} {
		f := newFake()
		f.hang[step] = true
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		res := newRunner(f, nil).Run(ctx, SubmitAndGet)
		if res.Class != ErrCanary || !strings.Contains(res.Error, "interrupted") {
			t.Errorf("%s: class %q error %q, want canary, interrupted", step, res.Class, res.Error)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	res := newRunner(newFake(), slowFetcher{cancel: cancel}).Run(ctx, SubmitAndGet)
	if res.Class != ErrCanary {
		t.Errorf("interrupted download: class %q (%s), want canary", res.Class, res.Error)
	}
}

// slowFetcher is interrupted in the middle of the body.
type slowFetcher struct{ cancel func() }

func (s slowFetcher) Fetch(ctx context.Context, _ string) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(tarGz(map[string]string{"stdout": DefaultText})[:10])
		s.cancel()
		<-ctx.Done()
		pw.CloseWithError(errors.New("connection reset by peer"))
	}()
	return pr, nil
}

func TestHistoryOrderIsBySeqNum(t *testing.T) {
	t.Parallel()
	f := newFake()
	r := newRunner(f, nil)
	res := r.Run(t.Context(), SubmitAndDescribe)
	if !res.Success {
		t.Fatal(res.Error)
	}
	// Reversed in the reply, in order by SeqNum: still passes.
	fj := f.jobs["j-1"]
	for i, j := 0, len(fj.hist)-1; i < j; i, j = i+1, j-1 {
		fj.hist[i], fj.hist[j] = fj.hist[j], fj.hist[i]
	}
	p := &Probe{Jobs: f, res: &Result{}}
	if err := checkHistory(t.Context(), p, "j-1", []string{"e-j-1-0"}); err != nil {
		t.Errorf("reversed reply with SeqNums in order: %v", err)
	}
	// Completed first by SeqNum: fails, whatever the array order.
	for _, h := range fj.hist {
		if s, _ := h.Event.GetJobStateIfPresent(); s == models.JobStateTypeCompleted {
			h.SeqNum = 0
		}
	}
	if err := checkHistory(t.Context(), p, "j-1", []string{"e-j-1-0"}); Classify(err) != ErrProtocol {
		t.Errorf("Completed sequenced first: %v, want protocol", err)
	}
}

func TestJobIDIsBoundedAndRedacted(t *testing.T) {
	t.Parallel()
	f := newFake()
	r := newRunner(f, nil)
	r.Secrets = []string{"k3y"}
	r.Connect = connectTo(renamingJobs{f, strings.Repeat("j", 300<<10) + "k3y\nPASS list"}, nil)
	res := r.Run(t.Context(), Submit)
	// The reply's ID is not taken; the job is found by its label instead.
	if res.Class != ErrProtocol || res.JobID != "j-1" || !res.Stopped || len(res.Error) > maxErrorText+64 ||
		strings.Contains(res.Error, "\n") || strings.Contains(res.Error, "k3y") {
		t.Errorf("class %q job_id %.40q stopped %v error %.200q: want protocol, j-1 found by label and stopped, a bounded one-line error",
			res.Class, res.JobID, res.Stopped, res.Error)
	}
}

// renamingJobs answers the submit with id.
type renamingJobs struct {
	*fakeJobs
	id string
}

func (r renamingJobs) Put(ctx context.Context, req *apimodels.PutJobRequest) (*apimodels.PutJobResponse, error) {
	if _, err := r.fakeJobs.Put(ctx, req); err != nil {
		return nil, err
	}
	return &apimodels.PutJobResponse{JobID: r.id}, nil
}

// FuzzRedact: no form of a secret survives in a text that carries it. A
// secret is what the configuration and Secret Manager admit: UTF-8 without
// control characters or surrounding white space.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{`k"ey`, `k\ey`, "key k", "clé-ü", "a b+c/d=e", "nb\u00a0sp", "<a&b>", `{"x":1}`, "%41"} {
		f.Add(s, "user")
	}
	f.Fuzz(func(t *testing.T, secret, user string) {
		if len(secret) < minPrefix+1 || strings.TrimSpace(secret) != secret || gcp.HeaderValueProblem(secret) != "" || strings.ContainsRune(secret, '\uFFFD') {
			return
		}
		basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))
		r := NewRedactor(secret, basic)
		j, _ := json.Marshal(secret)
		forms := []string{secret, string(j), url.QueryEscape(secret), url.PathEscape(secret), basic,
			fmt.Sprintf("%q", secret), fmt.Sprintf("%+q", secret)}
		text := "error: " + strings.Join(forms, " | ") + " end"
		got := r.Redact(text)
		if strings.Contains(got, secret) && !strings.Contains(Redacted, secret) {
			t.Fatalf("secret %q survives in %q", secret, got)
		}
		for _, form := range forms {
			inner := strings.Trim(form, `"`)
			if len(inner) > 3 && strings.Contains(got, inner) && !strings.Contains(Redacted, inner) && !strings.Contains(text, inner+inner) {
				t.Fatalf("form %q of %q survives in %q", inner, secret, got)
			}
		}
	})
}

func TestRedactURLs(t *testing.T) {
	t.Parallel()
	r := NewRedactor()
	for _, tt := range []struct{ in, gone string }{
		{"GET http://user:pa55@host/x: refused", "pa55"},
		{"https://s3.example/o?X-Amz-Algorithm=A&X-Amz-Signature=deadbeef&X-Amz-Credential=AKIAX", "deadbeef"},
		{"https://s3.example/o?X-Amz-Credential=AKIAX%2F2026", "AKIAX"},
		{"https://storage.googleapis.com/b/o?X-Goog-Signature=cafe01", "cafe01"},
		{"https://acct.blob.example/c?sv=1&sig=abc%2Bdef", "abc"},
		{"http://h/r?token=t0k3n", "t0k3n"},
	} {
		if got := r.Redact(tt.in); strings.Contains(got, tt.gone) || !strings.Contains(got, Redacted) {
			t.Errorf("Redact(%q) = %q", tt.in, got)
		}
	}
	if got := r.Redact("http://host/r.tar.gz?part=1"); got != "http://host/r.tar.gz?part=1" {
		t.Errorf("a plain URL changed: %q", got)
	}
}
