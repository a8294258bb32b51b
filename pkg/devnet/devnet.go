// Package devnet starts the loopback-only Bacalhau test network (the
// separate devnet module) as a subprocess: for tests, benchmarks and the
// local runner's embedded default. It builds the program once per content
// of devnet/ into the user cache and reuses it.
package devnet

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options shape the network.
type Options struct {
	Hybrid   int              // orchestrator+compute nodes (default 1)
	Compute  int              // compute-only nodes (default 2; -1 for none)
	Stderr   io.Writer        // the network's own log; nil discards it
	TempDir  string           // parent of the network's private temp dir (default: the system's)
	Progress func(msg string) // build/start notes; nil: silent
}

// Network is a running devnet.
type Network struct {
	Host   string
	Port   int
	cmd    *exec.Cmd
	done   chan error
	events chan string // lines the network prints after the address
}

// Addr is host:port of the orchestrator API.
func (n *Network) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

// Start builds (if needed) and starts a devnet, and returns once its API
// is ready.
func Start(ctx context.Context, o Options) (*Network, error) {
	bin, err := Build(ctx, o.Progress)
	if err != nil {
		return nil, err
	}
	hybrid, compute := o.Hybrid, o.Compute
	if hybrid == 0 {
		hybrid = 1
	}
	switch {
	case compute == 0:
		compute = 2
	case compute < 0:
		compute = 0
	}
	note(o.Progress, fmt.Sprintf("starting Bacalhau devnet (%d hybrid + %d compute nodes on 127.0.0.1)", hybrid, compute))
	cmd := exec.Command(bin, "-hybrid", strconv.Itoa(hybrid), "-compute", strconv.Itoa(compute))
	cmd.Env = cleanEnv()
	dieWithParent(cmd)
	if o.TempDir != "" {
		cmd.Env = append(cmd.Env, "TMPDIR="+o.TempDir)
	}
	cmd.Stderr = o.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("devnet stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting devnet: %w", err)
	}
	n := &Network{cmd: cmd, done: make(chan error, 1), events: make(chan string, 16)}
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
			return nil, fmt.Errorf("devnet exited before it was ready: %v", err)
		}
		host, port, err := net.SplitHostPort(strings.TrimSpace(line))
		if err != nil {
			n.Stop()
			return nil, fmt.Errorf("devnet printed %q, want host:port: %w", line, err)
		}
		n.Host = host
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

// StopComputeNode stops one compute-only node of the running network (the
// last one still up), as if its machine had gone away mid-job, and returns
// its node ID ("none" when none is left).
func (n *Network) StopComputeNode(ctx context.Context) (string, error) {
	if err := n.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return "", fmt.Errorf("signalling devnet: %w", err)
	}
	select {
	case line := <-n.events:
		id, ok := strings.CutPrefix(line, "stopped ")
		if !ok {
			return "", fmt.Errorf("devnet printed %q, want \"stopped NODE\"", line)
		}
		return id, nil
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(30 * time.Second):
		return "", errors.New("devnet did not stop a compute node within 30s")
	}
}

// Stop ends the network (SIGTERM, then SIGKILL after 15 s) and waits for it.
func (n *Network) Stop() error {
	if n == nil || n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
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

// Build compiles the devnet module into the user cache, keyed by the hash
// of its sources, and returns the binary's path.
func Build(ctx context.Context, progress func(string)) (string, error) {
	if bin := os.Getenv("CANARY_DEVNET_BIN"); bin != "" {
		return bin, nil
	}
	src, err := sourceDir()
	if err != nil {
		return "", err
	}
	sum, err := hashSources(src)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("devnet build cache: %w", err)
	}
	dir := filepath.Join(cache, "bacalhau-canary", "devnet")
	bin := filepath.Join(dir, "devnet-"+sum[:16])
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("devnet build cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("devnet build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("devnet build lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // built by another process meanwhile
	}
	note(progress, "building the Bacalhau devnet (first time only; a cold build takes several minutes)")
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(cleanEnv(), "GOFLAGS=-buildvcs=false", "GONOSUMDB=github.com/bacalhau-project")
	done := make(chan struct{})
	go tick(progress, done)
	out, err := cmd.CombinedOutput()
	close(done)
	if err != nil {
		return "", fmt.Errorf("building devnet: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("devnet build cache: %w", err)
	}
	// Builds of older sources are ~80 MB each: keep only this one.
	if old, _ := filepath.Glob(filepath.Join(dir, "devnet-*")); len(old) > 0 {
		for _, o := range old {
			if o != bin {
				os.Remove(o)
			}
		}
	}
	return bin, nil
}

func tick(progress func(string), done chan struct{}) {
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
			progress(fmt.Sprintf("still building the devnet (%s)", time.Since(start).Round(time.Second)))
		}
	}
}

// sourceDir finds the devnet module: ./devnet of the repository, searched
// from the working directory upwards.
func sourceDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "devnet")
		if _, err := os.Stat(filepath.Join(cand, "go.mod")); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("devnet module not found: run from inside the bacalhau-canary repository, or set CANARY_DEVNET_BIN")
		}
		dir = parent
	}
}

func hashSources(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("reading devnet sources: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".go") || n == "go.mod" || n == "go.sum") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", fmt.Errorf("reading devnet sources: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
