// Package prodshape tests the canary on networks in production's shape:
// each supported Bacalhau release across the two-host link, with API-key
// auth, the API on TLS from the test's own CA, the docker engine running
// busybox:1.36.1, and an S3 server that verifies signatures as the jobs'
// default publisher, results handed out as pre-signed URLs. All five
// scenarios run through the Cloud Run job binary and through the local
// runner with CANARY_ENGINE=docker CANARY_PUBLISHER=default.
package prodshape

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/internal/testca"
	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// RunsEnv sets how many times each scenario runs through the job binary
// (default 1); the test logs each scenario's median duration, the figures
// of docs/prodshape.md.
const RunsEnv = "CANARY_PRODSHAPE_RUNS"

// presignExpiry is the networks' pre-signed URL lifetime: long enough for
// a run's download (milliseconds after the results are listed), short
// enough to see a URL expire within the test.
const presignExpiry = 20 * time.Second

var repoRoot, jobBin string

func TestMain(m *testing.M) {
	code := m.Run()
	if jobBin != "" {
		os.RemoveAll(filepath.Dir(jobBin))
	}
	os.Exit(code)
}

// buildJob builds the Cloud Run job binary as the Dockerfile does.
func buildJob(t *testing.T) string {
	t.Helper()
	if jobBin != "" {
		return jobBin
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "canary-prodshape-job-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "job")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./functions/job")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the job: %v\n%s", err, out)
	}
	repoRoot, jobBin = root, bin
	return bin
}

func TestProductionShape(t *testing.T) {
	if testing.Short() {
		t.Skip("production-shaped networks (Docker, S3, TLS): skipped under -short")
	}
	if m := devnet.ProdMissing(); m != "" {
		if os.Getenv(devnet.ProdEnv) == "1" {
			t.Fatalf("production-shaped network required (%s=1): %s", devnet.ProdEnv, m)
		}
		t.Skipf("production-shaped network unavailable: %s (.ci/run installs what it needs)", m)
	}
	buildJob(t)
	// weed is built once for both networks before they start.
	if _, err := devnet.BuildWeed(t.Context(), func(s string) { t.Log(s) }); err != nil {
		t.Fatal(err)
	}
	for _, v := range devnet.Versions {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			testRelease(t, v)
		})
	}
}

type result struct {
	code   int
	stdout string
	stderr string
	lines  []map[string]any
}

func testRelease(t *testing.T, v devnet.Version) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	logf, err := os.Create(filepath.Join(t.TempDir(), "devnet.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 8<<10 {
				b = b[len(b)-8<<10:]
			}
			t.Logf("end of the devnet's log (%s=info for more):\n%s", devnet.LogLevelEnv, b)
		}
	}()
	started := time.Now()
	n, err := devnet.Start(ctx, devnet.Options{
		Version: v, TwoHost: true, Auth: true, Prod: true, PresignExpiration: presignExpiry,
		Stderr: logf, Progress: func(s string) { t.Log(s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s (started in %s; S3 %s, TLS from the test's CA)", n.Where(), time.Since(started).Round(100*time.Millisecond), n.Prod.S3)
	defer func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stopping the network: %v", err)
		}
	}()
	md, err := fakegcp.StartMetadata(fakegcp.CloudRun())
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()

	env := map[string]string{
		"BACALHAU_API_HOST":       n.Host,
		"BACALHAU_API_PORT":       strconv.Itoa(n.Port),
		"BACALHAU_API_TLS":        "true",
		"BACALHAU_API_TLS_CAFILE": n.Prod.CAFile,
		"BACALHAU_API_KEY":        n.APIKey,
		"CANARY_ENGINE":           "docker",
		"CANARY_PUBLISHER":        "default",
		"CANARY_METRICS":          "none",
		"CANARY_ENV":              "test",
		"CANARY_TIMEOUT":          "60s",
		"GCE_METADATA_HOST":       md.Host(),
	}
	runs := 1
	if s := os.Getenv(RunsEnv); s != "" {
		if runs, err = strconv.Atoi(s); err != nil || runs < 1 {
			t.Fatalf("%s=%q: want a positive number", RunsEnv, s)
		}
	}

	var getJob string // a submitAndGet job, for the S3 checks
	var stdouts strings.Builder
	durations := map[string][]float64{}
	for i := 0; i < runs; i++ {
		for _, s := range scenarios.Names() {
			r := runJob(t, env, s)
			stdouts.WriteString(r.stdout)
			if r.code != canary.ExitPass || len(r.lines) != 1 || r.lines[0]["success"] != true {
				t.Fatalf("job binary, %s: exit %d, want 0\nstdout: %s\nstderr: %s", s, r.code, r.stdout, r.stderr)
			}
			l := r.lines[0]
			if l["server_version"] != string(v) {
				t.Errorf("%s: server_version %v, want %s", s, l["server_version"], v)
			}
			d, _ := l["duration_seconds"].(float64)
			durations[s] = append(durations[s], d)
			if s == scenarios.SubmitAndGet.Name {
				getJob, _ = l["job_id"].(string)
			}
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%s, docker engine, S3 pre-signed, TLS, auth, %d runs each (job binary): median run time", v, runs)
	for _, s := range scenarios.Names() {
		fmt.Fprintf(&table, "\n  %-22s %.3f s (min %.3f, max %.3f)", s, median(durations[s]), slices.Min(durations[s]), slices.Max(durations[s]))
	}
	t.Log(table.String())

	t.Run("local runner", func(t *testing.T) {
		r := runLocal(t, env, "--all", "--json", "--endpoint", n.Addr())
		stdouts.WriteString(r.stdout)
		if r.code != canary.ExitPass {
			t.Fatalf("go run ./functions/local --all: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		var passed []string
		for _, l := range r.lines {
			if l["success"] == true {
				passed = append(passed, fmt.Sprint(l["scenario"]))
			}
		}
		if want := len(scenarios.Names()); len(passed) != want {
			t.Errorf("local runner: %d of %d scenarios passed (%v)\n%s", len(passed), want, passed, r.stdout)
		}
	})

	t.Run("download used the pre-signed URL", func(t *testing.T) {
		// The canary holds no S3 credentials (the job's environment has
		// none): the S3 server's own record shows the GET of the result
		// from the canary's side of the link, signed with the
		// orchestrator's key, allowed.
		prefix := "canary/" + getJob + "/"
		var got []devnet.AuditRecord
		for _, r := range waitAudit(n, func(r devnet.AuditRecord) bool { return strings.HasPrefix(strings.TrimPrefix(r.Key, "/"), prefix) }, 2) {
			got = append(got, r)
		}
		var put, get bool
		for _, r := range got {
			switch {
			case r.Operation == "REST.PUT.OBJECT" && r.Status == 200 && r.RemoteIP != n.Link.Local:
				put = true // the compute node's upload, inside the network's host
			case r.Operation == "REST.GET.OBJECT" && r.Status == 200 && r.RemoteIP == n.Link.Local &&
				r.AccessKeyID == n.Prod.AccessKey && r.Bucket == n.Prod.Bucket:
				get = true
			}
		}
		if !put || !get {
			t.Errorf("S3 audit records of %s: want the node's PUT and the canary's signed GET from %s with key %s; got %+v",
				prefix, n.Link.Local, n.Prod.AccessKey, got)
		}
	})

	t.Run("no signature in any log line", func(t *testing.T) {
		if m := regexp.MustCompile(`(?i)X-Amz-(Signature|Credential)=[^\[&"\\]`).FindString(stdouts.String()); m != "" {
			t.Errorf("a result line carries a pre-signed URL's credentials: %q", m)
		}
	})

	t.Run("tampered and expired URLs are publisher", func(t *testing.T) {
		pool, err := bacalhau.LoadCAs(n.Prod.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		conn := bacalhau.New(bacalhau.Options{Host: n.Host, Port: n.Port, TLS: true, RootCAs: pool, APIKey: n.APIKey, Timeout: 10 * time.Second})
		res, err := conn.Jobs.Results(ctx, &apimodels.ListJobResultsRequest{JobID: getJob})
		if err != nil || len(res.Items) == 0 {
			t.Fatalf("results of %s: %v", getJob, err)
		}
		signed, _ := res.Items[0].Params["PreSignedURL"].(string)
		if res.Items[0].Type != "s3PreSigned" || signed == "" {
			t.Fatalf("result is %s %v, want s3PreSigned with a URL", res.Items[0].Type, res.Items[0].Params)
		}
		u, err := url.Parse(signed)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		sig := q.Get("X-Amz-Signature")
		if sig == "" {
			t.Fatalf("pre-signed URL has no signature: %s", scenarios.SanitizeURL(signed))
		}
		// The fresh URL works: the failures below are the tampering and the expiry.
		body, err := conn.Fetcher.Fetch(ctx, signed)
		if err != nil {
			t.Fatalf("fresh pre-signed URL: %v", err)
		}
		_, _ = io.Copy(io.Discard, body)
		body.Close()

		flip := map[byte]byte{'0': '1'}
		b := []byte(sig)
		if c, ok := flip[b[len(b)-1]]; ok {
			b[len(b)-1] = c
		} else {
			b[len(b)-1] = '0'
		}
		q.Set("X-Amz-Signature", string(b))
		tampered := *u
		tampered.RawQuery = q.Encode()
		checkRefused(t, ctx, conn.Fetcher, "tampered", tampered.String())
		time.Sleep(time.Until(signedAt(t, u).Add(presignExpiry + 2*time.Second)))
		checkRefused(t, ctx, conn.Fetcher, "expired", signed)
		refusals := 0
		for _, r := range waitAudit(n, func(r devnet.AuditRecord) bool {
			return r.Operation == "REST.GET.OBJECT" && r.Status == 403 && r.RemoteIP == n.Link.Local
		}, 2) {
			t.Logf("S3 refused a GET: %s %s", r.ErrorCode, r.Key)
			refusals++
		}
		if refusals < 2 {
			t.Errorf("the S3 server recorded %d refused GETs, want the tampered and the expired one", refusals)
		}
	})

	t.Run("wrong CA is certificate", func(t *testing.T) {
		other, err := testca.New("not the network's CA")
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "other-ca.pem")
		if err := os.WriteFile(f, other.PEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		e := maps(env, map[string]string{"BACALHAU_API_TLS_CAFILE": f})
		r := runJob(t, e, "list")
		if r.code != canary.ExitFail || len(r.lines) != 1 || r.lines[0]["error_class"] != "certificate" {
			t.Fatalf("wrong CA: exit %d, want 1 with class certificate\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = runJob(t, maps(env, map[string]string{"BACALHAU_API_TLS_CAFILE": ""}), "list")
		if r.code != canary.ExitFail || r.lines[0]["error_class"] != "certificate" {
			t.Fatalf("no CA file: exit %d, want 1 with class certificate\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	ids, err := n.Prod.Containers(ctx)
	if err != nil {
		t.Error(err)
	}
	t.Logf("%d containers left on the network's Docker daemon before it stops (removed with it)", len(ids))
}

// checkRefused fetches a refused pre-signed URL: class publisher, HTTP 403
// named, no signature in the text.
func checkRefused(t *testing.T, ctx context.Context, fetch scenarios.Fetcher, name, raw string) {
	t.Helper()
	body, err := fetch.Fetch(ctx, raw)
	if err == nil {
		body.Close()
		t.Fatalf("%s pre-signed URL: downloaded", name)
	}
	if scenarios.Classify(err) != scenarios.ErrPublisher || !strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("%s pre-signed URL: %v (class %s), want publisher with HTTP 403", name, err, scenarios.Classify(err))
	}
	if regexp.MustCompile(`(?i)X-Amz-Signature=[0-9a-f]`).MatchString(err.Error()) {
		t.Errorf("%s: the error shows the signature: %v", name, err)
	}
}

// signedAt is the X-Amz-Date of a pre-signed URL.
func signedAt(t *testing.T, u *url.URL) time.Time {
	t.Helper()
	at, err := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date: %v", err)
	}
	return at
}

// waitAudit returns the audit records matching keep, waiting up to 10 s
// for at least want of them (the server sends its records asynchronously).
func waitAudit(n *devnet.Network, keep func(devnet.AuditRecord) bool, want int) []devnet.AuditRecord {
	var got []devnet.AuditRecord
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got = got[:0]
		for _, r := range n.Prod.Audit.Records() {
			if keep(r) {
				got = append(got, r)
			}
		}
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
	}
}

func maps(base, over map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range over {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// runJob runs the job binary for one scenario with exactly env.
func runJob(t *testing.T, env map[string]string, scenario string) result {
	t.Helper()
	e := []string{"HOME=" + t.TempDir(), "CANARY_SCENARIO=" + scenario}
	for k, v := range env {
		e = append(e, k+"="+v)
	}
	return run(t, exec.Command(buildJob(t)), e)
}

// runLocal runs `go run ./functions/local` with env over this process's
// environment (Go's caches), without its BACALHAU_*, CANARY_* or AWS_*.
func runLocal(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var e []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BACALHAU_") && !strings.HasPrefix(kv, "CANARY_") && !strings.HasPrefix(kv, "AWS_") {
			e = append(e, kv)
		}
	}
	for k, v := range env {
		e = append(e, k+"="+v)
	}
	cmd := exec.Command("go", append([]string{"run", "./functions/local"}, args...)...)
	cmd.Dir = repoRoot
	return run(t, cmd, e)
}

func run(t *testing.T, cmd *exec.Cmd, env []string) result {
	t.Helper()
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var r result
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) == nil && l["scenario"] != nil {
			r.lines = append(r.lines, l)
		}
	}
	return r
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
