// Command devnet starts a Bacalhau test network in one process
// (orchestrator + compute nodes, wasm executor, local publisher), prints the
// orchestrator's API address on stdout when every node has joined, and runs
// until SIGINT/SIGTERM or until its standard input ends (so it dies with the
// process that started it, also through `ip netns exec`).
//
// The nodes are Bacalhau's own (node.NewNode, as its devstack makes them),
// each with its own cleanup, so that one can be stopped and started again.
// Compute-only nodes reach the orchestrator's NATS port through a relay of
// their own, which stop-node cuts without a word to either side.
//
// Commands, one per line on standard input, answered on stdout:
//
//	stop-node           the last compute-only node still running goes away as
//	                    a machine does: its link to the orchestrator goes
//	                    silent (no goodbye; the orchestrator counts it
//	                    connected until its heartbeats are missed) and the
//	                    node stops → "stopped NODE" ("stopped none")
//	restart-orchestrator DOWN
//	                    stop the orchestrator node (API server, NATS server,
//	                    job store closed) and start it again on the same
//	                    ports and data directory, DOWN (a Go duration, at
//	                    most 20s) after it began to stop → "restarted NODE
//	                    after DURATION"
//	running EXECUTION   is the execution still running in a compute node's
//	                    wasm executor? → "running EXECUTION yes|no|unknown"
//
// By default Docker, S3 and IPFS are disabled so it needs no daemon. In
// production's shape (-docker, -s3-endpoint, -tls-cert) the docker engine is
// on (DOCKER_HOST names the daemon), jobs publish to an S3 bucket by default
// (the AWS_* environment holds the credentials; the orchestrator hands
// results out as pre-signed URLs) and the API serves TLS. It is a test
// fixture for the canary; it lives in its own module because Bacalhau's
// server packages pin versions of OpenTelemetry and gRPC that clash with the
// Google Cloud client libraries. The same source builds against every
// supported Bacalhau release: ../v1.7 and ../v1.9 each pin one in their
// go.mod (v1.9/main.go is a link to this file).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/bacalhau-project/bacalhau/pkg/bacerrors"
	"github.com/bacalhau-project/bacalhau/pkg/config/types"
	"github.com/bacalhau-project/bacalhau/pkg/executor"
	"github.com/bacalhau-project/bacalhau/pkg/logger"
	"github.com/bacalhau-project/bacalhau/pkg/models"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdin, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "devnet:", err)
		os.Exit(1)
	}
}

type options struct {
	compute, bad      int
	apiHost, orchHost string
	publisher         string
	apiKey, noCapKey  string
	ready             time.Duration
	logLevel          string

	docker                      bool
	s3Endpoint, s3Bucket, s3Reg string
	presign                     time.Duration
	tlsCert, tlsKey             string
	jobStore                    string
}

// minKeyLen is Bacalhau's own minimum API key length (authz.MinimumAPIKeyLength).
const minKeyLen = 20

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("devnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.compute, "compute", 2, "compute-only nodes, besides node-0 (orchestrator, API and compute)")
	fs.IntVar(&o.bad, "bad-compute", 0, "compute nodes that are bad actors (their executions fail); the last nodes")
	fs.StringVar(&o.apiHost, "api-host", "127.0.0.1", "address the API listens on and reports")
	fs.StringVar(&o.orchHost, "orchestrator-host", "127.0.0.1", "address the orchestrator listens on; compute nodes dial 127.0.0.1, so a loopback or unspecified address")
	fs.StringVar(&o.publisher, "publisher-address", "127.0.0.1", "address the local publisher advertises in result URLs (it listens on all addresses)")
	fs.StringVar(&o.apiKey, "api-key", "", "turn API-key auth on: this key has every capability")
	fs.StringVar(&o.noCapKey, "api-key-nocap", "", "with -api-key: a second key that may only read nodes")
	fs.DurationVar(&o.ready, "ready-timeout", 60*time.Second, "give up if the nodes have not all joined by then")
	fs.StringVar(&o.logLevel, "log-level", "error", "Bacalhau log level on stderr (debug, info, warn, error)")
	fs.BoolVar(&o.docker, "docker", false, "turn the docker engine on (DOCKER_HOST names the daemon)")
	fs.StringVar(&o.s3Endpoint, "s3-endpoint", "", "S3 endpoint (http://HOST:PORT) whose bucket (-s3-bucket, made beforehand) is the jobs' default publisher; credentials from AWS_*")
	fs.StringVar(&o.s3Bucket, "s3-bucket", "canary-results", "with -s3-endpoint: the bucket")
	fs.StringVar(&o.s3Reg, "s3-region", "us-east-1", "with -s3-endpoint: the region")
	fs.DurationVar(&o.presign, "presign-expiration", 10*time.Minute, "with -s3-endpoint: how long a pre-signed result URL lives")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve the API over TLS with this certificate (PEM), with -tls-key")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the key of -tls-cert (PEM)")
	fs.StringVar(&o.jobStore, "jobstore", "", "the orchestrator's job store: an existing bolt file (e.g. seeded by ./jobstore), used in place and kept; default a fresh one")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: devnet [flags]\n\nStarts a Bacalhau test network, prints HOST:PORT of its API on stdout when ready\nand runs until SIGINT/SIGTERM or the end of standard input.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, checkOptions(o, fs)
}

func checkOptions(o options, fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.compute < 0:
		return fmt.Errorf("-compute must not be negative, got %d", o.compute)
	case o.bad < 0 || o.bad > o.compute:
		return fmt.Errorf("-bad-compute must be between 0 and -compute (node-0 is never bad), got %d", o.bad)
	case net.ParseIP(o.apiHost) == nil:
		return fmt.Errorf("-api-host %q is not an IP address", o.apiHost)
	case net.ParseIP(o.publisher) == nil:
		return fmt.Errorf("-publisher-address %q is not an IP address", o.publisher)
	case o.apiKey != "" && len(o.apiKey) < minKeyLen, o.noCapKey != "" && len(o.noCapKey) < minKeyLen:
		return fmt.Errorf("API keys must be at least %d characters", minKeyLen)
	case o.noCapKey != "" && o.apiKey == "":
		return errors.New("-api-key-nocap needs -api-key")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case o.s3Endpoint != "" && (o.s3Bucket == "" || o.presign <= 0):
		return errors.New("-s3-endpoint needs -s3-bucket and a positive -presign-expiration")
	}
	if ip := net.ParseIP(o.orchHost); ip == nil || !(ip.IsLoopback() || ip.IsUnspecified()) {
		return fmt.Errorf("-orchestrator-host %q: compute nodes dial 127.0.0.1, use a loopback or unspecified address", o.orchHost)
	}
	return nil
}

func realMain(ctx context.Context, args []string, stdin io.Reader, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level, err := zerolog.ParseLevel(o.logLevel)
	if err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}

	// Any BACALHAU_* variable would override the node configuration.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "BACALHAU_") {
			os.Unsetenv(name)
		}
	}
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if o.s3Endpoint == "" {
		// No S3: no credentials of the caller's reach the nodes.
		for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
			os.Unsetenv(v)
		}
	}

	// Nodes leave per-job files in the temp directory: keep them in a
	// private one and remove it on the way out.
	tmp, err := os.MkdirTemp("", "bacalhau-canary-devnet-")
	if err != nil {
		return fmt.Errorf("creating temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	os.Setenv("TMPDIR", tmp)

	// Bacalhau's components log to standard output; keep the caller's
	// stdout for the address line alone and point fd 1 at stderr.
	readyFd, err := syscall.Dup(1)
	if err != nil {
		return fmt.Errorf("duplicating stdout: %w", err)
	}
	ready := os.NewFile(uintptr(readyFd), "ready")
	defer ready.Close()
	if err := syscall.Dup3(2, 1, 0); err != nil {
		return fmt.Errorf("redirecting stdout: %w", err)
	}
	logger.ConfigureLogging(logger.LogModeJSON, level)

	// The nodes live as long as this context; it is cancelled only after
	// they have stopped.
	nodeCtx, cancelNodes := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelNodes()

	if o.jobStore != "" {
		if err := linkJobStore(tmp, o.jobStore); err != nil {
			return err
		}
	}
	stack, err := startNodes(nodeCtx, o, tmp)
	if stack != nil {
		defer stack.close(nodeCtx)
	}
	if err != nil {
		return fmt.Errorf("starting nodes: %w", err)
	}
	if err := waitJoined(ctx, stack, o.ready); err != nil {
		return err
	}
	api := stack.nodes()[0].APIServer
	fmt.Fprintf(ready, "%s:%d\n", api.Address, api.Port)
	return serve(ctx, stdin, ready, commands(ctx, nodeCtx, stack))
}

// serve answers commands read from in until ctx ends or in does.
func serve(ctx context.Context, in io.Reader, out io.Writer, run func(cmd, arg string) string) error {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil // the caller is gone
			}
			cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
			fmt.Fprintln(out, run(cmd, arg))
		}
	}
}

// maxDown bounds a restart's downtime, well inside the 30 s the test
// harness waits for an answer.
const maxDown = 20 * time.Second

// commands runs one command: ctx ends with a signal (a restart's downtime
// ends with it), nodeCtx is the nodes' own.
func commands(ctx, nodeCtx context.Context, stack *stack) func(cmd, arg string) string {
	return func(cmd, arg string) string {
		switch cmd {
		case "stop-node":
			return "stopped " + stack.stopComputeNode(nodeCtx)
		case "restart-orchestrator":
			down, err := time.ParseDuration(arg)
			if err != nil || down < 0 || down > maxDown {
				return fmt.Sprintf("error restart-orchestrator wants a duration of at most %s, got %q", maxDown, arg)
			}
			got, err := stack.restartOrchestrator(ctx, nodeCtx, down)
			if err != nil {
				return "error " + err.Error()
			}
			return "restarted " + got
		case "running":
			return fmt.Sprintf("running %s %s", arg, executionRunning(nodeCtx, stack, arg))
		default:
			return fmt.Sprintf("error unknown command %q", cmd)
		}
	}
}

// executionRunning asks each compute node's wasm executor whether the
// execution has ended: "yes" while it still runs, "no" once it has ended,
// "unknown" when no executor has it.
func executionRunning(ctx context.Context, stack *stack, id string) string {
	for _, n := range stack.nodes() {
		if n.ComputeNode == nil {
			continue
		}
		ex, err := n.ComputeNode.Executors.Get(ctx, models.EngineWasm)
		if err != nil {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		res, errc := ex.Wait(wctx, id)
		var werr error
		select {
		case r, ok := <-res:
			if ok && r != nil {
				cancel()
				return "no"
			}
			werr = <-errc
		case werr = <-errc:
		}
		cancel()
		var be bacerrors.Error
		switch {
		case errors.Is(werr, context.DeadlineExceeded):
			return "yes"
		case errors.As(werr, &be) && be.Code() == executor.ExecutionNotFound:
			// not on this node
		default:
			return "no" // ended without a result
		}
	}
	return "unknown"
}

// linkJobStore points node-0's job store (its data dir BASE/node-0,
// Bacalhau's orchestrator/state_boltdb.db in it) at file.
func linkJobStore(base, file string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("-jobstore: %w", err)
	}
	if st, err := os.Stat(abs); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("-jobstore %s: not an existing file", file)
	}
	dir := filepath.Join(base, "node-0", types.OrchestratorDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("-jobstore: %w", err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, types.JobStoreFileName)); err != nil {
		return fmt.Errorf("-jobstore: %w", err)
	}
	return nil
}

func overrides(o options) types.Bacalhau {
	b := types.Bacalhau{
		API:          types.API{Host: o.apiHost},
		Orchestrator: types.Orchestrator{Host: o.orchHost},
		Engines:      types.EngineConfig{Disabled: []string{models.EngineDocker}},
		InputSources: types.InputSourcesConfig{Disabled: []string{models.StorageSourceS3, models.StorageSourceIPFS}},
		Publishers: types.PublishersConfig{
			Disabled: []string{models.PublisherS3, models.PublisherIPFS},
			Types: types.PublisherTypes{
				Local: types.LocalPublisher{Address: o.publisher},
				S3:    types.S3Publisher{PreSignedURLDisabled: true},
			},
		},
		ResultDownloaders: types.ResultDownloaders{Disabled: []string{models.StorageSourceS3PreSigned, models.StorageSourceIPFS}},
		JobDefaults: types.JobDefaults{
			Batch: types.BatchJobDefaultsConfig{Task: types.BatchTaskDefaultConfig{
				Publisher: types.DefaultPublisherConfig{Type: models.PublisherLocal},
			}},
		},
		UpdateConfig:     types.UpdateConfig{Interval: -1},
		DisableAnalytics: true,
	}
	if o.docker {
		b.Engines.Disabled = nil
	}
	if o.tlsCert != "" {
		b.API.TLS = types.TLS{CertFile: o.tlsCert, KeyFile: o.tlsKey}
	}
	if o.s3Endpoint != "" {
		// The S3 publisher as a network's default; the orchestrator holds
		// the credentials, so it signs each result's URL (only keys ending
		// .tar.gz, which the publisher adds for an archive).
		b.Publishers.Disabled = []string{models.PublisherIPFS}
		b.Publishers.Types.S3 = types.S3Publisher{PreSignedURLExpiration: types.Duration(o.presign)}
		b.ResultDownloaders.Disabled = []string{models.StorageSourceIPFS}
		b.JobDefaults.Batch.Task.Publisher = types.DefaultPublisherConfig{Type: models.PublisherS3, Params: map[string]string{
			"Bucket": o.s3Bucket, "Key": "canary/{jobID}/{executionID}", "Endpoint": o.s3Endpoint, "Region": o.s3Reg,
		}}
	}
	if o.apiKey != "" {
		// API.Auth.Users turns on Bacalhau's entry-point authorizer (bearer
		// API keys, capabilities per user) on every node's API.
		b.API.Auth.Users = append(b.API.Auth.Users, types.AuthUser{
			Alias: "canary", APIKey: o.apiKey,
			Capabilities: []types.Capability{{Actions: []string{"*"}}},
		})
	}
	if o.noCapKey != "" {
		b.API.Auth.Users = append(b.API.Auth.Users, types.AuthUser{
			Alias: "nodes-reader", APIKey: o.noCapKey,
			Capabilities: []types.Capability{{Actions: []string{"read:node"}}},
		})
	}
	return b
}

// waitJoined waits until the orchestrator knows every node and every compute
// node is connected.
func waitJoined(ctx context.Context, stack *stack, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	want := len(stack.nodes())
	for {
		got := 0
		for _, n := range stack.nodes() {
			if !n.IsRequesterNode() || n.RequesterNode == nil {
				continue
			}
			states, err := n.RequesterNode.NodeInfoStore.List(ctx)
			if err != nil {
				return fmt.Errorf("listing nodes: %w", err)
			}
			for _, s := range states {
				if s.ConnectionState.Status == models.NodeStates.CONNECTED || !s.Info.IsComputeNode() {
					got++
				}
			}
			break
		}
		if got >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("only %d of %d nodes joined: %w", got, want, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
