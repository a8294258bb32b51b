// Package devnet starts the Bacalhau test network (the devnet modules under
// devnet/, one per supported Bacalhau release) as a subprocess: for tests,
// benchmarks and the local runner's embedded default. It builds each
// version once per content of its sources into the user cache and reuses
// it. With TwoHost the network runs in a network namespace of its own,
// reached over a private veth link (see Link), so the network's loopback is
// not the caller's.
package devnet

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Version is a supported Bacalhau release, as its API reports it.
type Version string

// The supported releases. To add one: a devnet/vX.Y module (go.mod pinning
// the release with upstream's replace lines, main.go linked to
// ../v1.7/main.go or its own when the server packages differ), a constant
// here and an entry in Versions.
const (
	V1_7 Version = "v1.7.0"
	V1_9 Version = "v1.9.4"
)

// Versions lists every supported release, oldest first; tests that run on
// "both versions" range over it.
var Versions = []Version{V1_7, V1_9}

// dir is the devnet module of the version: devnet/vMAJOR.MINOR.
func (v Version) dir() (string, error) {
	for _, s := range Versions {
		if s == v {
			major, rest, _ := strings.Cut(string(v), ".")
			minor, _, _ := strings.Cut(rest, ".")
			return major + "." + minor, nil
		}
	}
	return "", fmt.Errorf("unsupported Bacalhau version %q (supported: %v)", v, Versions)
}

// Options shape the network.
type Options struct {
	Version    Version          // Bacalhau release (default V1_7)
	Compute    int              // compute-only nodes besides node-0, which orchestrates and computes (default 2; -1 for none)
	BadCompute int              // compute nodes that are bad actors: their executions fail (the last nodes)
	Auth       bool             // API-key auth on: Network.APIKey passes, Network.NoCapKey lacks the job capabilities
	TwoHost    bool             // run in a namespace of its own across a veth link (falls back to loopback, see Network.Fallback)
	Publisher  string           // address the local publisher advertises (default: the API's host; "127.0.0.1" is the stock setting)
	Stderr     io.Writer        // the network's own log; nil discards it
	TempDir    string           // parent of the network's private temp dir (default: the system's)
	Progress   func(msg string) // build/start notes; nil: silent
	// Prod runs the network in production's shape (needs TwoHost): the
	// docker engine, an S3 default publisher with pre-signed results, the
	// API on TLS from the test's CA (Network.Prod).
	Prod              bool
	PresignExpiration time.Duration // with Prod: how long a pre-signed result URL lives (default 10m)
	JobStore          string        // the orchestrator's job store: an existing bolt file, used in place (see Jobstore); default a fresh one
}

// Network is a running devnet.
type Network struct {
	Host      string  // the API's address, as the caller reaches it
	Port      int     // the API's port
	Version   Version // the Bacalhau release it runs
	Publisher string  // the address its local publisher advertises
	APIKey    string  // with Options.Auth: a key with every capability
	NoCapKey  string  // with Options.Auth: a valid key that may only read nodes
	Link      *Link   // the veth link it is reached over; nil on loopback
	Fallback  error   // why TwoHost fell back to loopback; nil otherwise
	Prod      *Prod   // with Options.Prod: the CA, S3 server and Docker daemon

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	done   chan error
	events chan string // lines the network prints after the address
	mu     sync.Mutex  // one command at a time
}

// Addr is host:port of the orchestrator API.
func (n *Network) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

// Where says what the caller talks to, for test logs.
func (n *Network) Where() string {
	switch {
	case n.Link != nil:
		return fmt.Sprintf("Bacalhau %s in namespace %s, API %s over the test's own veth link", n.Version, n.Link.Namespace, n.Addr())
	case n.Fallback != nil:
		return fmt.Sprintf("Bacalhau %s on loopback %s (two-host network unavailable: %v)", n.Version, n.Addr(), n.Fallback)
	default:
		return fmt.Sprintf("Bacalhau %s on loopback %s", n.Version, n.Addr())
	}
}

// LogLevelEnv sets the devnet's Bacalhau log level (debug, info, warn;
// default error), for a test's devnet log.
const LogLevelEnv = "CANARY_DEVNET_LOG_LEVEL"

// RequireNetnsEnv, set to 1, turns a missing two-host capability into an
// error instead of a fallback to loopback (CI sets it).
const RequireNetnsEnv = "CANARY_TEST_REQUIRE_NETNS"

// Start builds (if needed) and starts a devnet, and returns once its API
// is ready.
func Start(ctx context.Context, o Options) (*Network, error) {
	if o.Version == "" {
		o.Version = V1_7
	}
	bin, err := Build(ctx, o.Version, o.Progress)
	if err != nil {
		return nil, err
	}
	compute := o.Compute
	switch {
	case compute == 0:
		compute = 2
	case compute < 0:
		compute = 0
	}
	n := &Network{Version: o.Version, done: make(chan error, 1), events: make(chan string, 16)}
	host, orch := "127.0.0.1", "127.0.0.1"
	if o.TwoHost {
		link, err := NewLink(ctx)
		switch {
		case err == nil:
			n.Link = link
			host, orch = link.Remote, "0.0.0.0" // compute nodes dial the orchestrator on 127.0.0.1 inside the namespace
		case os.Getenv(RequireNetnsEnv) == "1":
			return nil, fmt.Errorf("two-host network required (%s=1): %w", RequireNetnsEnv, err)
		default:
			n.Fallback = err
		}
	}
	n.Publisher = o.Publisher
	if n.Publisher == "" {
		n.Publisher = host
	}
	args := []string{
		"-compute", strconv.Itoa(compute), "-bad-compute", strconv.Itoa(o.BadCompute),
		"-api-host", host, "-orchestrator-host", orch, "-publisher-address", n.Publisher,
	}
	if o.JobStore != "" {
		args = append(args, "-jobstore", o.JobStore)
	}
	if o.Auth {
		n.APIKey, n.NoCapKey = randomKey(), randomKey()
		args = append(args, "-api-key", n.APIKey, "-api-key-nocap", n.NoCapKey)
	}
	if lvl := os.Getenv(LogLevelEnv); lvl != "" {
		args = append(args, "-log-level", lvl)
	}
	var prodEnv []string
	if o.Prod {
		var extra []string
		if n.Prod, extra, prodEnv, err = startProd(ctx, n.Link, o); err != nil {
			n.Link.Close()
			return nil, err
		}
		args = append(args, extra...)
	}
	note(o.Progress, fmt.Sprintf("starting Bacalhau %s devnet (node-0 and %d compute nodes, API on %s)", o.Version, compute, host))
	cmd := exec.Command(bin, args...)
	if n.Link != nil {
		cmd = exec.Command("ip", append([]string{"netns", "exec", n.Link.Namespace, bin}, args...)...)
	}
	cmd.Env = append(cleanEnv(), prodEnv...)
	dieWithParent(cmd)
	if o.TempDir != "" {
		cmd.Env = append(cmd.Env, "TMPDIR="+o.TempDir)
	}
	cmd.Stderr = o.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		n.Prod.Close()
		n.Link.Close()
		return nil, fmt.Errorf("devnet stdout: %w", err)
	}
	// The devnet ends when its standard input does: it dies with this
	// process even where the parent-death signal does not reach it.
	if n.stdin, err = cmd.StdinPipe(); err != nil {
		n.Prod.Close()
		n.Link.Close()
		return nil, fmt.Errorf("devnet stdin: %w", err)
	}
	if err := cmd.Start(); err != nil {
		n.Prod.Close()
		n.Link.Close()
		return nil, fmt.Errorf("starting devnet: %w", err)
	}
	n.cmd = cmd
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
			select {
			case n.events <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { n.done <- cmd.Wait() }()

	ready := time.NewTimer(90 * time.Second)
	defer ready.Stop()
	select {
	case line, ok := <-lines:
		if !ok {
			err := <-n.done
			n.done <- err
			n.Prod.Close()
			n.Link.Close()
			return nil, fmt.Errorf("devnet exited before it was ready: %v", err)
		}
		h, port, err := net.SplitHostPort(strings.TrimSpace(line))
		if err != nil {
			n.Stop()
			return nil, fmt.Errorf("devnet printed %q, want host:port: %w", line, err)
		}
		n.Host = h
		n.Port, _ = strconv.Atoi(port)
		return n, nil
	case <-ctx.Done():
		n.Stop()
		return nil, ctx.Err()
	case <-ready.C:
		n.Stop()
		return nil, errors.New("devnet not ready after 90s")
	}
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "canary-test-" + hex.EncodeToString(b)
}

// command sends one command line and waits for the answer that starts
// with prefix.
func (n *Network) command(ctx context.Context, line, prefix string) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := io.WriteString(n.stdin, line+"\n"); err != nil {
		return "", fmt.Errorf("devnet command: %w", err)
	}
	select {
	case got := <-n.events:
		rest, ok := strings.CutPrefix(got, prefix)
		if !ok {
			return "", fmt.Errorf("devnet answered %q to %q, want %q…", got, line, prefix)
		}
		return rest, nil
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("devnet did not answer %q within 30s", line)
	}
}

// StopComputeNode makes one compute-only node of the running network (the
// last one still up) go away as its machine would: its link to the
// orchestrator goes silent, with no goodbye, so the orchestrator counts it
// connected until its heartbeats are missed (30 s on the devnet, Bacalhau's
// test setting). It returns the node's ID ("none" when none is left).
func (n *Network) StopComputeNode(ctx context.Context) (string, error) {
	return n.command(ctx, "stop-node", "stopped ")
}

// RestartOrchestrator stops the orchestrator node (node-0: its API and NATS
// servers close, its job store is closed) and starts it again on the same
// ports and data directory down after it began to stop, as a restarted
// process comes back. It returns once the API listens again, with how long
// the orchestrator was away.
func (n *Network) RestartOrchestrator(ctx context.Context, down time.Duration) (time.Duration, error) {
	got, err := n.command(ctx, "restart-orchestrator "+down.String(), "restarted ")
	if err != nil {
		return 0, err
	}
	_, took, _ := strings.Cut(got, " after ")
	d, err := time.ParseDuration(took)
	if err != nil {
		return 0, fmt.Errorf("devnet answered %q to a restart", got)
	}
	return d, nil
}

// ExecutionRunning asks the compute nodes themselves (their wasm executor,
// not the orchestrator's record) whether an execution is still running. It
// errors when no compute node knows the execution.
func (n *Network) ExecutionRunning(ctx context.Context, executionID string) (bool, error) {
	if executionID == "" || strings.ContainsAny(executionID, " \n") {
		return false, fmt.Errorf("bad execution id %q", executionID)
	}
	got, err := n.command(ctx, "running "+executionID, "running "+executionID+" ")
	if err != nil {
		return false, err
	}
	switch got {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	default:
		return false, fmt.Errorf("no compute node has execution %s (%s)", executionID, got)
	}
}

// Stop ends the network (SIGTERM, then SIGKILL after 15 s), waits for it
// and removes its link.
func (n *Network) Stop() error {
	if n == nil || n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	err := n.stop()
	if perr := n.Prod.Close(); perr != nil && err == nil {
		err = perr
	}
	if lerr := n.Link.Close(); lerr != nil && err == nil {
		err = lerr
	}
	return err
}

// StopNodes ends the network's process but keeps its link: its host stays
// reachable and refuses connections, as a machine whose Bacalhau stopped
// would (an address whose link is gone would be routed off the machine).
// Stop removes the link.
func (n *Network) StopNodes() error {
	if n == nil || n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	return n.stop()
}

func (n *Network) stop() error {
	// Through `ip netns exec` the process is the devnet itself (ip execs it).
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		n.done <- err
		return exitErr(err)
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		err := <-n.done
		n.done <- err
		return fmt.Errorf("devnet ignored SIGTERM for 15s, killed: %v", err)
	}
}

func exitErr(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == -1 {
		return nil // ended by our signal
	}
	return err
}

// cleanEnv is this process's environment without BACALHAU_* variables,
// which would override the nodes' configuration.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BACALHAU_") {
			env = append(env, kv)
		}
	}
	return env
}

func note(progress func(string), msg string) {
	if progress != nil {
		progress(msg)
	}
}

// BinEnv names the variable that points at a prebuilt devnet of a version
// (CANARY_DEVNET_BIN_V1_7, …), skipping the build.
func BinEnv(v Version) string {
	d, _ := v.dir()
	return "CANARY_DEVNET_BIN_" + strings.ToUpper(strings.ReplaceAll(d, ".", "_"))
}

// Build compiles the devnet module of a version into the user cache, keyed
// by the hash of its sources, with the release stamped in (so its API
// reports it), and returns the binary's path.
func Build(ctx context.Context, v Version, progress func(string)) (string, error) {
	if bin := os.Getenv(BinEnv(v)); bin != "" {
		return bin, nil
	}
	return build(ctx, v, ".", "devnet", progress)
}

// BuildJobstore compiles the jobstore tool of a version (devnet/vX.Y/jobstore:
// offline purge and seeding of a job store on the release's own store code)
// into the user cache, like Build, and returns the binary's path.
func BuildJobstore(ctx context.Context, v Version, progress func(string)) (string, error) {
	return build(ctx, v, "jobstore", "jobstore", progress)
}

// Jobstore runs the version's jobstore tool with args and returns its
// standard output; its standard error is in the error when it fails.
func Jobstore(ctx context.Context, v Version, args ...string) (string, error) {
	bin, err := BuildJobstore(ctx, v, nil)
	if err != nil {
		return "", err
	}
	var stdout, stderr strings.Builder
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("jobstore %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// build compiles package pkg of the version's module into the user cache
// as name-HASH, keyed by the hash of its sources.
func build(ctx context.Context, v Version, pkg, name string, progress func(string)) (string, error) {
	sub, err := v.dir()
	if err != nil {
		return "", err
	}
	src, err := sourceDir(sub)
	if err != nil {
		return "", err
	}
	ldflags := "-X github.com/bacalhau-project/bacalhau/pkg/version.GITVERSION=" + string(v)
	sum, err := hashSources(src, pkg, ldflags)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("devnet build cache: %w", err)
	}
	dir := filepath.Join(cache, "bacalhau-canary", "devnet", sub)
	bin := filepath.Join(dir, name+"-"+sum[:16])
	built, err := buildOnce(bin, func(tmp string) error {
		note(progress, fmt.Sprintf("building the Bacalhau %s %s (first time only; a cold build takes several minutes)", v, name))
		cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", ldflags, "-o", tmp, "./"+pkg)
		cmd.Dir = src
		cmd.Env = append(cleanEnv(), "GOFLAGS=-buildvcs=false", "GONOSUMDB=github.com/bacalhau-project")
		done := make(chan struct{})
		go tick(progress, "the "+string(v)+" devnet", done)
		out, err := cmd.CombinedOutput()
		close(done)
		if err != nil {
			return fmt.Errorf("building devnet %s: %v\n%s", v, err, out)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	// Builds of older sources are ~80 MB each: keep only this one.
	if old, _ := filepath.Glob(filepath.Join(dir, name+"-*")); built && len(old) > 0 {
		for _, o := range old {
			if o != bin {
				os.Remove(o)
			}
		}
	}
	return bin, nil
}

// buildOnce makes bin, a file of the user cache, with build (which writes
// the file it is given) unless it is there: under a lock on its folder, so
// concurrent test processes build it once, and renamed into place whole.
// built says this call made it.
func buildOnce(bin string, build func(tmp string) error) (built bool, err error) {
	if _, err := os.Stat(bin); err == nil {
		return false, nil
	}
	dir := filepath.Dir(bin)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("build cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false, fmt.Errorf("build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return false, fmt.Errorf("build lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return false, nil // built by another process meanwhile
	}
	tmp := bin + ".tmp"
	if err := build(tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, bin); err != nil {
		return false, fmt.Errorf("build cache: %w", err)
	}
	return true, nil
}

func tick(progress func(string), what string, done chan struct{}) {
	if progress == nil {
		return
	}
	start := time.Now()
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			progress(fmt.Sprintf("still building %s (%s)", what, time.Since(start).Round(time.Second)))
		}
	}
}

// sourceDir finds a devnet module: ./devnet/SUB of the repository, searched
// from the working directory upwards.
func sourceDir(sub string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "devnet", sub)
		if _, err := os.Stat(filepath.Join(cand, "go.mod")); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("devnet module devnet/%s not found: run from inside the bacalhau-canary repository, or set %s", sub, "CANARY_DEVNET_BIN_"+strings.ToUpper(strings.ReplaceAll(sub, ".", "_")))
		}
		dir = parent
	}
}

// hashSources hashes the module's go.mod and go.sum and the Go files of its
// package pkg ("." or a directory of it).
func hashSources(dir, pkg, ldflags string) (string, error) {
	var names []string
	for _, d := range []string{".", pkg} {
		entries, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			return "", fmt.Errorf("reading devnet sources: %w", err)
		}
		for _, e := range entries {
			n := e.Name()
			if !e.IsDir() && (d == pkg && strings.HasSuffix(n, ".go") || d == "." && (n == "go.mod" || n == "go.sum")) {
				names = append(names, filepath.Join(d, n))
			}
		}
	}
	sort.Strings(names)
	names = slices.Compact(names)
	h := sha256.New()
	fmt.Fprintf(h, "ldflags %s\n", ldflags)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n)) // follows v1.9/main.go's link
		if err != nil {
			return "", fmt.Errorf("reading devnet sources: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PID is the devnet process's ID (through `ip netns exec` too: ip execs it).
func (n *Network) PID() int { return n.cmd.Process.Pid }

// CloseInput ends the devnet's standard input, as the death of this
// process would; the devnet then stops by itself.
func (n *Network) CloseInput() error { return n.stdin.Close() }
