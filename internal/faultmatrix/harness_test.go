package faultmatrix

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/internal/faultproxy"
	"github.com/bacalhau-project/bacalhau-canary/internal/wasi"
	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/logging"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// via is how a case runs the canary.
type via string

const (
	viaRunner via = "runner" // scenarios.Runner in the test process
	viaJob    via = "job"    // the built Cloud Run job, recording to the fake Monitoring
	viaLocal  via = "local"  // the built local runner

	viaPeak via = "peakrss" // not a way to run: the wrapper that measures a process's peak RSS
)

// network is what a case runs against.
type network string

const (
	netNone   network = "none"   // no Bacalhau network: the canary must not send anything
	netShared network = "shared" // the shared devnet (node-0, which orchestrates and computes, + 2 compute nodes), through the proxy
	netDirect network = "direct" // the shared devnet, no proxy unless the case swaps its job (faults of the network itself; every version)
	netOwn    network = "own"    // a devnet of its own (it gets broken), no proxy unless the case swaps its job (every version)
)

// cleanup is what the case expects to be left on the network, checked
// through the API directly (never through the proxy).
type cleanup string

const (
	cleanNothingSent cleanup = "nothing sent: no request reached the API, Monitoring or the metadata server"
	cleanNoJob       cleanup = "no job submitted"
	cleanStopped     cleanup = "job stopped by the canary (through the proxy)"
	cleanTerminal    cleanup = "job terminal: completed, failed or ended by its own task timeout"
	cleanUnknown     cleanup = "network gone: nothing to check"
)

// tcase is one row of the matrix.
type tcase struct {
	name     string // short id; also the canary_env label of its jobs
	fault    string // what is broken, for the table
	scenario string
	via      via
	net      network
	class    scenarios.Class // "" means the run passes
	exit     int             // job and local: the exit status
	deadline time.Duration   // the run's deadline (CANARY_TIMEOUT)
	record   time.Duration   // extra time the process may spend recording (Monitoring faults)
	cleanup  cleanup
	note     string // why, for the table

	spec    scenarios.JobSpec // runner: the canary job (engine wasm by default)
	job     *wasi.Program     // what the job does instead (sleep, exit code, other text): the proxy swaps its module into the submit
	auth    auth              // credentials the canary sends
	env     map[string]string // job/local: extra or overriding variables ("" value: unset)
	args    []string          // local: flags
	naming  string            // config cases: the variable (or flag) the one error line must name
	version devnet.Version    // the Bacalhau release (set by TestMatrix; "" is devnet's default)
	// everyVersion runs a proxy row once per supported release (faults
	// whose outcome depends on the server: a lost reply, a restart).
	everyVersion bool
	// byVersion: where a release answers the fault differently (every-version rows).
	byVersion map[devnet.Version]versionOutcome
	proxy     func(p *faultproxy.Proxy)
	// download, when set, puts a second injecting proxy in front of the
	// result download: the API's result URLs are rewritten to it.
	download func(p *faultproxy.Proxy)
	// resultUser and resultQuery decorate the rewritten result URLs
	// (user:password@, ?signature=…) with credentials that must not show.
	resultUser, resultQuery string
	mon                     func(m *monitor)
	// secret, when set, is the API key's payload in a fake Secret Manager
	// the job reads it from (BACALHAU_API_KEY_SECRET); sm breaks that fake.
	secret  string
	sm      func(s *fakegcp.SecretManager)
	md      func(m *fakegcp.Metadata)                    // breaks the fake metadata server
	reason  string                                       // exit 3: the "result not recorded" line must say this
	left    bool                                         // the result line says the run's job was left running
	before  func(fx *fixture) error                      // runs before the canary
	after   func(fx *fixture) error                      // checks what the canary sent, after it
	during  func(ctx context.Context, fx *fixture) error // runs beside the canary
	secrets []string                                     // values that must appear nowhere
	// expect checks the result line further (retries counted, a lost
	// reply noted, a node named).
	expect func(fx *fixture, line map[string]any) error
}

// versionOutcome is what a case expects on one release instead.
type versionOutcome struct {
	class   scenarios.Class
	cleanup cleanup
	note    string
}

// empty in tcase.env sets a variable to the empty string ("" unsets it).
const empty = "\x00empty"

type auth struct {
	key, user, password string // what the canary sends
	want                string // the Authorization header the proxy accepts; "" no check
}

func (c tcase) slow() bool { return c.net != netNone }

func (c tcase) label() string { return "fm-" + c.name }

// bound is the longest the run may take.
func (c tcase) bound() time.Duration { return c.deadline + time.Second }

// maxLine bounds a result line, well below Cloud Logging's 256 KB entry limit.
const maxLine = 16 << 10

// maxLogLine is Cloud Logging's entry limit: no line a case prints may
// come near it (it would be dropped, with what it explains).
const maxLogLine = 256_000

// maxPeakRSS bounds the job's and the local runner's peak RSS in every
// row (the task has 512 MiB).
const maxPeakRSS = 64 << 20

// secretName is the Secret Manager version rows with a secret read.
const secretName = "projects/demo/secrets/bacalhau-api-key/versions/latest"

// processSlack is what a process may take beyond its run: start-up and a
// write to a loopback Monitoring.
const processSlack = time.Second

// --- shared fixtures ---------------------------------------------------

var (
	update = flag.Bool("update", false, "rewrite docs/reliability.md from the case list")

	sharedMu sync.Mutex
	shared   = map[devnet.Version]*sharedNet{}

	buildOnce sync.Once
	bins      = map[via]string{}
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	for v, s := range shared {
		if err := s.n.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping devnet %s: %v\n", v, err)
		}
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.RemoveAll(bodyDir)
	os.Exit(code)
}

// sharedNetwork is the devnet of a version the cases share: two-host (a
// network namespace across a veth link; loopback where the machine cannot
// make one), its local publisher advertising the link address.
func sharedNetwork(t *testing.T, v devnet.Version) *devnet.Network {
	t.Helper()
	sharedMu.Lock()
	s := shared[v]
	if s == nil {
		s = &sharedNet{}
		shared[v] = s
	}
	sharedMu.Unlock()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		s.n, s.err = devnet.Start(ctx, devnet.Options{Version: v, TwoHost: true})
	})
	if s.err != nil {
		t.Fatalf("devnet: %v", s.err)
	}
	t.Log(s.n.Where())
	return s.n
}

type sharedNet struct {
	once sync.Once
	n    *devnet.Network
	err  error
}

// binary builds the job and the local runner once, as the Dockerfile does.
func binary(t *testing.T, v via) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "canary-faultmatrix-")
		if buildErr != nil {
			return
		}
		for v, pkg := range map[via]string{viaJob: "./functions/job", viaLocal: "./functions/local", viaPeak: "./internal/peakrss"} {
			out := filepath.Join(binDir, string(v))
			cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
			cmd.Dir = "../.."
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building %s: %v\n%s", pkg, err, b)
				return
			}
			bins[v] = out
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bins[v]
}

// --- replies written to disk ---------------------------------------------

// Large or binary replies (bombs) are written to disk once by the test
// and served from there by the proxies.
var (
	bodyDir    = filepath.Join(os.TempDir(), fmt.Sprintf("canary-faultmatrix-bodies-%d", os.Getpid()))
	bodyGen    = map[string]func() []byte{}
	bodiesOnce sync.Once
	bodiesErr  error
)

// onDisk names a reply body that gen makes, written before the cases run.
func onDisk(name string, gen func() []byte) string {
	bodyGen[name] = gen
	return filepath.Join(bodyDir, name)
}

func writeBodies(t *testing.T) {
	t.Helper()
	bodiesOnce.Do(func() {
		if bodiesErr = os.MkdirAll(bodyDir, 0o700); bodiesErr != nil {
			return
		}
		for name, gen := range bodyGen {
			if bodiesErr = os.WriteFile(filepath.Join(bodyDir, name), gen(), 0o600); bodiesErr != nil {
				return
			}
		}
	})
	if bodiesErr != nil {
		t.Fatalf("writing reply bodies: %v", bodiesErr)
	}
}

// --- a fake Monitoring with faults --------------------------------------

// monitor is the fake Cloud Monitoring, optionally slowed down: a gRPC
// server of its own in front of fakegcp.Monitoring's rules.
type monitor struct {
	monitoringpb.UnimplementedMetricServiceServer
	*fakegcp.Monitoring
	front *grpc.Server
	addr  string

	slowFirst time.Duration // delay of the first call; a front server when set
	hang      bool          // every call hangs until its caller gives up; a front server

	mu    sync.Mutex
	calls int
}

func startMonitor(t *testing.T) *monitor {
	t.Helper()
	m, err := fakegcp.StartMonitoring()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return &monitor{Monitoring: m, addr: m.Addr()}
}

// front puts a server before the fake that delays the first call.
func (m *monitor) startFront(t *testing.T) {
	t.Helper()
	lis, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	m.front = grpc.NewServer()
	monitoringpb.RegisterMetricServiceServer(m.front, m)
	go func() { _ = m.front.Serve(lis) }()
	t.Cleanup(m.front.Stop)
	m.addr = lis.Addr().String()
}

func (m *monitor) CreateTimeSeries(ctx context.Context, req *monitoringpb.CreateTimeSeriesRequest) (*emptypb.Empty, error) {
	m.mu.Lock()
	var d time.Duration
	if m.calls == 0 {
		d = m.slowFirst
	}
	if m.hang {
		d = time.Hour
	}
	m.calls++
	m.mu.Unlock()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return m.Monitoring.CreateTimeSeries(ctx, req)
}

// called is how many writes reached the fake.
func (m *monitor) called() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// --- running a case ------------------------------------------------------

type fixture struct {
	mu      sync.Mutex
	proc    *os.Process // the canary's process, once started
	killed  string      // the compute node a case stopped
	t       *testing.T
	c       tcase
	net     *devnet.Network // nil for netNone
	proxy   *faultproxy.Proxy
	results *faultproxy.Proxy // in front of the result download, when the case has one
	mon     *monitor
	md      *fakegcp.Metadata
	sm      *fakegcp.SecretManager // when the case reads its key from Secret Manager
}

// proxied says whether the canary goes through the proxy.
func (c tcase) proxied() bool { return c.net == netShared || c.net == netNone || c.job != nil }

// target is host and port the canary is pointed at.
func (fx *fixture) target() (string, int) {
	if fx.c.proxied() {
		return fx.proxy.Host(), fx.proxy.Port()
	}
	return fx.net.Host, fx.net.Port
}

func (fx *fixture) process() *os.Process {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	return fx.proc
}

// outcome is what a run left behind, whichever way it ran.
type outcome struct {
	success  bool
	class    scenarios.Class
	exit     int // -1 for the runner
	duration time.Duration
	wall     time.Duration
	jobID    string
	stopped  bool
	line     map[string]any // the result line
	text     string         // everything it printed
	rss      int64          // job and local: peak RSS in bytes
}

func runCase(t *testing.T, c tcase) {
	if c.slow() && testing.Short() {
		t.Skip("real Bacalhau network: skipped under -short")
	}
	fx := &fixture{t: t, c: c}
	if c.via != viaRunner {
		binary(t, c.via) // built before any fault is armed
	}
	switch c.net {
	case netShared, netDirect:
		fx.net = sharedNetwork(t, c.version)
	case netOwn:
		n, err := devnet.Start(t.Context(), devnet.Options{Version: c.version, TwoHost: true})
		if err != nil {
			t.Fatalf("devnet: %v", err)
		}
		t.Cleanup(func() { _ = n.Stop() })
		t.Log(n.Where())
		fx.net = n
	}
	upstream := "127.0.0.1:9" // discard port: nothing may be sent for netNone
	if fx.net != nil {
		upstream = fx.net.Addr()
	}
	po := faultproxy.Options{Auth: c.auth.want, MaxHold: c.deadline + 5*time.Second, FollowTarget: c.net == netOwn}
	if fx.net != nil && fx.net.Link != nil {
		po.LinkHost = fx.net.Link.Remote
	}
	if c.job != nil {
		po.EditJob = c.job.Into
	}
	p, err := faultproxy.Start(upstream, po)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	fx.proxy = p
	if c.proxy != nil {
		c.proxy(p)
	}
	fx.mon = startMonitor(t)
	if c.mon != nil {
		c.mon(fx.mon)
	}
	if fx.mon.slowFirst > 0 || fx.mon.hang {
		fx.mon.startFront(t)
	}
	if c.download != nil {
		// Never forwards: each download fault answers by itself.
		rp, err := faultproxy.Start("127.0.0.1:9", faultproxy.Options{MaxHold: c.deadline + 5*time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rp.Close)
		fx.results = rp
		c.download(rp)
		p.Add(faultproxy.Rule{Method: "GET", Path: jobPath + "/results", Fault: faultproxy.Fault{
			Kind: faultproxy.Rewrite, From: `"URL":"http://[^"/]+/([^"?]*)[^"]*"`,
			Body: `"URL":"http://` + c.resultUser + net.JoinHostPort(rp.Host(), strconv.Itoa(rp.Port())) + `/$1` + c.resultQuery + `"`}})
	}
	writeBodies(t)
	fx.md, err = fakegcp.StartMetadata(fakegcp.CloudRun())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fx.md.Close)
	if c.md != nil {
		c.md(fx.md)
	}
	if c.secret != "" || c.sm != nil {
		fx.sm, err = fakegcp.StartSecretManager(map[string]string{secretName: c.secret})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fx.sm.Close)
		if c.sm != nil {
			c.sm(fx.sm)
		}
	}

	if c.before != nil {
		if err := c.before(fx); err != nil {
			t.Fatalf("fault injection: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), c.deadline+time.Minute)
	defer cancel()
	duringErr := make(chan error, 1)
	if c.during != nil {
		go func() { duringErr <- c.during(ctx, fx) }()
	} else {
		duringErr <- nil
	}

	var o outcome
	switch c.via {
	case viaRunner:
		o = fx.runRunner(ctx)
	default:
		o = fx.runProcess(ctx)
	}
	if err := <-duringErr; err != nil {
		t.Errorf("fault injection: %v", err)
	}
	fx.check(o)
	if c.after != nil {
		if err := c.after(fx); err != nil {
			t.Error(err)
		}
	}
}

func (fx *fixture) runRunner(ctx context.Context) outcome {
	c := fx.c
	s, ok := scenarios.Lookup(c.scenario)
	if !ok {
		fx.t.Fatalf("no scenario %q", c.scenario)
	}
	host, port := fx.target()
	conn := bacalhau.New(bacalhau.Options{Host: host, Port: port, Timeout: c.deadline,
		APIKey: c.auth.key, Username: c.auth.user, Password: c.auth.password})
	spec := c.spec
	if spec.Engine == "" {
		spec.Engine = scenarios.EngineWasm
	}
	var buf syncBuffer
	r := &scenarios.Runner{Connect: func(context.Context) (scenarios.Conn, error) {
		return conn, nil
	}, Spec: spec, Env: c.label(), Timeout: c.deadline,
		Log: logging.New(&buf), Secrets: nonEmpty(c.auth.key, c.auth.password)}
	start := time.Now()
	res := r.Run(ctx, s)
	o := outcome{success: res.Success, class: res.Class, exit: -1, duration: res.Duration, wall: time.Since(start),
		jobID: res.JobID, stopped: res.Stopped, text: buf.String()}
	o.line = resultLine(fx.t, o.text)
	return o
}

func (fx *fixture) runProcess(ctx context.Context) outcome {
	c := fx.c
	host, port := fx.target()
	env := map[string]string{
		"HOME":                       fx.t.TempDir(),
		"GCE_METADATA_HOST":          fx.md.Host(),
		"CANARY_SCENARIO":            c.scenario,
		"CANARY_ENGINE":              "wasm",
		"CANARY_ENV":                 c.label(),
		"CANARY_TIMEOUT":             c.deadline.String(),
		"BACALHAU_API_HOST":          host,
		"BACALHAU_API_PORT":          strconv.Itoa(port),
		"GOOGLE_CLOUD_PROJECT":       "demo",
		"CANARY_LOCATION":            "europe-west4",
		"CANARY_MONITORING_ENDPOINT": fx.mon.addr,
		"BACALHAU_API_KEY":           c.auth.key,
		"BACALHAU_API_USERNAME":      c.auth.user,
		"BACALHAU_API_PASSWORD":      c.auth.password,
	}
	args := c.args
	if c.via == viaLocal {
		delete(env, "CANARY_SCENARIO")
		if args == nil {
			args = []string{"--scenario", c.scenario, "--json"}
		}
	}
	if fx.sm != nil {
		env["BACALHAU_API_KEY_SECRET"] = secretName
		env["CANARY_SECRETMANAGER_ENDPOINT"] = fx.sm.Addr()
	}
	for k, v := range c.env {
		env[k] = v
	}
	rssFile := filepath.Join(fx.t.TempDir(), "rss")
	cmd := exec.CommandContext(ctx, binary(fx.t, viaPeak), append([]string{rssFile, binary(fx.t, c.via)}, args...)...)
	for k, v := range env {
		switch v {
		case "":
		case empty:
			cmd.Env = append(cmd.Env, k+"=")
		default:
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		fx.mu.Lock()
		fx.proc = cmd.Process
		fx.mu.Unlock()
		err = cmd.Wait()
	}
	o := outcome{wall: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		o.exit = ee.ExitCode()
	default:
		fx.t.Fatalf("running %s: %v", c.via, err)
	}
	o.text = stdout.String() + stderr.String()
	if b, err := os.ReadFile(rssFile); err == nil {
		o.rss, _ = strconv.ParseInt(string(b), 10, 64)
	}
	if c.net == netNone {
		fx.checkUsage(o, stdout.String(), stderr.String())
		return o
	}
	o.line = resultLine(fx.t, stdout.String())
	if o.line != nil {
		o.success, _ = o.line["success"].(bool)
		cl, _ := o.line["error_class"].(string)
		o.class = scenarios.Class(cl)
		secs, _ := o.line["duration_seconds"].(float64)
		o.duration = time.Duration(secs * float64(time.Second))
		o.jobID, _ = o.line["job_id"].(string)
		o.stopped, _ = o.line["job_stopped"].(bool)
	}
	return o
}

// checkUsage: exit 2, one line naming the variable, nothing on stdout.
func (fx *fixture) checkUsage(o outcome, stdout, stderr string) {
	t, c := fx.t, fx.c
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	prefix := string(c.via) + ": "
	if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) || !strings.Contains(lines[0], c.naming) {
		t.Errorf("stderr %q: want one line naming %s", stderr, c.naming)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
}

func (fx *fixture) check(o outcome) {
	t, c := fx.t, fx.c
	t.Logf("%s: class %q, exit %d, run %s, wall %s, job %s stopped=%v", c.name, o.class, o.exit,
		o.duration.Round(time.Millisecond), o.wall.Round(time.Millisecond), o.jobID, o.stopped)

	// The exit status.
	if c.via != viaRunner && o.exit != c.exit {
		t.Errorf("exit %d, want %d\n%s", o.exit, c.exit, o.text)
	}
	// The time bound: the run from its result, the process from outside.
	if o.duration > c.bound() {
		t.Errorf("the run took %s, over its deadline %s plus 1s", o.duration, c.deadline)
	}
	if c.via != viaRunner {
		if limit := c.bound() + processSlack + c.record; o.wall > limit {
			t.Errorf("the process took %s, over %s", o.wall, limit)
		}
	}
	// Every line under Cloud Logging's entry limit; the process's memory bounded.
	for i, l := range strings.Split(o.text, "\n") {
		if len(l) > maxLogLine {
			t.Errorf("output line %d has %d bytes, over Cloud Logging's %d", i+1, len(l), maxLogLine)
		}
	}
	if c.via != viaRunner {
		t.Logf("peak RSS %.1f MiB", float64(o.rss)/(1<<20))
		if o.rss <= 0 || o.rss > maxPeakRSS {
			t.Errorf("peak RSS %d bytes, want 0 < RSS ≤ %d", o.rss, maxPeakRSS)
		}
	}
	// Secrets, in everything printed and every metric label.
	for _, s := range append(nonEmpty(c.auth.key, c.auth.password, strings.TrimSpace(c.secret)), c.secrets...) {
		if strings.Contains(o.text, s) {
			t.Errorf("secret %q appears in the output", s)
		}
		for _, w := range fx.mon.Accepted() {
			for k, v := range w.Series.GetMetric().GetLabels() {
				if strings.Contains(v, s) {
					t.Errorf("secret in metric label %s=%q", k, v)
				}
			}
		}
	}

	if c.job != nil && !slices.ContainsFunc(fx.proxy.Requests(), func(r faultproxy.Request) bool { return r.Edited }) {
		t.Errorf("no submit through the proxy had its job swapped")
	}
	if c.net == netNone {
		if n := len(fx.proxy.Requests()); n != 0 {
			t.Errorf("the API got %d requests", n)
		}
		if n := fx.mon.Requests(); n != 0 {
			t.Errorf("Monitoring got %d requests", n)
		}
		if n := len(fx.md.Requests()); n != 0 {
			t.Errorf("the metadata server got %d requests", n)
		}
		return
	}

	// The result reached the log, with the class.
	if o.line == nil {
		t.Fatalf("no result line in the log:\n%s", o.text)
	}
	if o.success != (c.class == "") || o.class != c.class {
		t.Errorf("success=%v class %q (%v), want class %q", o.success, o.class, o.line["error"], c.class)
	}
	if o.line["scenario"] != c.scenario || o.line["env"] != c.label() {
		t.Errorf("result line %v", o.line)
	}
	if left, _ := o.line["job_left_running"].(bool); c.left && !left || c.cleanup == cleanStopped && left {
		t.Errorf("job_left_running=%v, want %v", left, c.left)
	}
	if c.reason != "" && !hasLine(o.text, "result not recorded", c.reason) {
		t.Errorf("no \"result not recorded\" line saying %q:\n%s", c.reason, o.text)
	}
	if n := len(fmt.Sprint(o.line)); n > maxLine {
		t.Errorf("the result line has %d bytes, want at most %d (Cloud Logging drops entries over 256 KB)", n, maxLine)
	}
	if c.expect != nil {
		if err := c.expect(fx, o.line); err != nil {
			t.Errorf("result line: %v\n%v", err, o.line)
		}
	}
	// The metrics of a recorded run say the same.
	if c.via == viaJob && (c.exit == 0 || c.exit == 1) {
		fx.checkMetrics(o)
	}
	fx.checkCleanup(o)
}

func (fx *fixture) checkMetrics(o outcome) {
	t, c := fx.t, fx.c
	var success, failure bool
	for _, w := range fx.mon.Accepted() {
		ts := w.Series
		v := ts.GetPoints()[0].GetValue().GetInt64Value()
		switch strings.TrimPrefix(ts.GetMetric().GetType(), "custom.googleapis.com/bacalhau_canary/") {
		case "success":
			success = true
			if (v == 1) != (c.class == "") {
				t.Errorf("success metric %d, want class %q", v, c.class)
			}
		case "api_retries":
			if want, _ := o.line["retries"].(float64); v != int64(want) {
				t.Errorf("api_retries metric %d, the line says %v", v, want)
			}
		case "failure":
			failure = true
			if got := ts.GetMetric().GetLabels()["error_class"]; got != string(c.class) {
				t.Errorf("failure metric error_class=%q, want %q", got, c.class)
			}
		}
	}
	// A canary-class run is neither a pass nor a network failure: it
	// writes no success point (pkg/metrics).
	wantSuccess := c.class != scenarios.ErrCanary
	if success != wantSuccess || failure != (c.class != "") {
		t.Errorf("recorded success=%v failure=%v, want success=%v and failure=%v", success, failure, wantSuccess, c.class != "")
	}
}

// checkCleanup lists the case's jobs through the API directly.
func (fx *fixture) checkCleanup(o outcome) {
	t, c := fx.t, fx.c
	if c.cleanup == cleanUnknown {
		return
	}
	if c.cleanup == cleanStopped {
		if !o.stopped {
			t.Errorf("job %q not stopped by the canary", o.jobID)
		}
		if c.proxied() && fx.proxy.Count("DELETE", "/api/v1/orchestrator/jobs/*") == 0 {
			t.Error("no stop went through the proxy")
		}
	}
	// Jobs that end by themselves get their task timeout (below the deadline) and a little.
	grace := time.Duration(0)
	if c.cleanup == cleanTerminal {
		grace = c.deadline + 5*time.Second
	}
	end := time.Now().Add(grace)
	for {
		jobs := fx.caseJobs()
		var open []string
		for _, j := range jobs {
			if !j.State.StateType.IsTerminal() {
				open = append(open, j.ID+" "+j.State.StateType.String())
			}
		}
		switch {
		case c.cleanup == cleanNoJob && len(jobs) > 0:
			t.Errorf("%d jobs submitted, want none", len(jobs))
			return
		case c.cleanup != cleanNoJob && len(jobs) == 0:
			t.Errorf("no job of this case on the network")
			return
		case len(open) == 0:
			return
		case time.Now().After(end):
			t.Errorf("canary jobs left non-terminal: %v", open)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// caseJobs are the network's jobs labelled with this case's env.
func (fx *fixture) caseJobs() []*models.Job {
	out, err := fx.listCaseJobs(fx.t.Context())
	if err != nil {
		fx.t.Fatalf("listing jobs directly: %v", err)
	}
	return out
}

func (fx *fixture) listCaseJobs(ctx context.Context) ([]*models.Job, error) {
	jobs := bacalhau.New(bacalhau.Options{Host: fx.net.Host, Port: fx.net.Port, Timeout: 10 * time.Second}).Jobs
	req := &apimodels.ListJobsRequest{}
	req.Limit = 1000
	resp, err := jobs.List(ctx, req)
	if err != nil {
		return nil, err
	}
	var out []*models.Job
	for _, j := range resp.Items {
		if j.Labels[scenarios.LabelCanary] == "true" && j.Labels[scenarios.LabelEnv] == fx.c.label() {
			out = append(out, j)
		}
	}
	return out, nil
}

// waitRunning waits until the case's job runs (for faults injected mid-job).
func (fx *fixture) waitRunning(ctx context.Context) (string, error) {
	jobs := bacalhau.New(bacalhau.Options{Host: fx.net.Host, Port: fx.net.Port, Timeout: 5 * time.Second}).Jobs
	for {
		list, err := fx.listCaseJobs(ctx)
		if err != nil {
			return "", err
		}
		for _, j := range list {
			resp, err := jobs.Executions(ctx, &apimodels.ListJobExecutionsRequest{JobIDOrName: j.ID})
			if err != nil {
				return "", err
			}
			for _, e := range resp.Items {
				if st := e.ComputeState.StateType; st == models.ExecutionStateRunning || st == models.ExecutionStateBidAccepted {
					return e.NodeID, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the job never ran: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// resultLine finds the one result line ("scenario passed/failed").
func resultLine(t *testing.T, out string) map[string]any {
	t.Helper()
	var found map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if m := l["message"]; m == "scenario passed" || m == "scenario failed" {
			if found != nil {
				t.Errorf("two result lines")
			}
			found = l
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("reading the log: %v", err)
	}
	return found
}

// hasLine says whether a JSON line with message msg holds want.
func hasLine(out, msg, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["message"] == msg && strings.Contains(l, want) {
			return true
		}
	}
	return false
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var labelOK = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,29}$`)
