// Command devnet starts a loopback-only Bacalhau v1.7 network in one process
// (orchestrator + compute nodes, wasm executor, local publisher), prints the
// orchestrator's API address on stdout when every node has joined, and runs
// until SIGINT/SIGTERM. SIGUSR1 stops one compute-only node (the last one
// still running) and prints "stopped NODE" on stdout: a node lost mid-job,
// for tests. Docker, S3 and IPFS are disabled so it needs no
// daemon and never leaves loopback. It is a test fixture for the canary; it
// lives in its own module because Bacalhau's server packages pin versions of
// OpenTelemetry and gRPC that clash with the Google Cloud client libraries.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/bacalhau-project/bacalhau/pkg/config/types"
	"github.com/bacalhau-project/bacalhau/pkg/devstack"
	"github.com/bacalhau-project/bacalhau/pkg/logger"
	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/system"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stderr)
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
	hybrid, compute int
	ready           time.Duration
	logLevel        string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("devnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.hybrid, "hybrid", 1, "hybrid nodes (orchestrator + compute); the first one serves the API")
	fs.IntVar(&o.compute, "compute", 2, "compute-only nodes")
	fs.DurationVar(&o.ready, "ready-timeout", 60*time.Second, "give up if the nodes have not all joined by then")
	fs.StringVar(&o.logLevel, "log-level", "error", "Bacalhau log level on stderr (debug, info, warn, error)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: devnet [flags]\n\nStarts a loopback-only Bacalhau network, prints HOST:PORT of its API on stdout\nwhen ready and runs until SIGINT/SIGTERM.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.hybrid < 1 {
		return o, fmt.Errorf("-hybrid must be at least 1 (the first hybrid node serves the API), got %d", o.hybrid)
	}
	if o.compute < 0 {
		return o, fmt.Errorf("-compute must not be negative, got %d", o.compute)
	}
	return o, nil
}

func realMain(ctx context.Context, args []string, stderr io.Writer) error {
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
	// the cleanup manager has stopped them.
	nodeCtx, cancelNodes := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelNodes()
	cm := system.NewCleanupManager()
	defer cm.Cleanup(nodeCtx)

	stack, err := devstack.Setup(nodeCtx, cm,
		devstack.WithBasePath(tmp),
		devstack.WithNumberOfHybridNodes(o.hybrid),
		devstack.WithNumberOfRequesterOnlyNodes(0),
		devstack.WithNumberOfComputeOnlyNodes(o.compute),
		devstack.WithBacalhauConfigOverride(overrides()),
	)
	if err != nil {
		return fmt.Errorf("starting nodes: %w", err)
	}
	if err := waitJoined(ctx, stack, o.ready); err != nil {
		return err
	}
	// Listen for SIGUSR1 before announcing readiness: a caller may send it
	// the moment it reads the address, and unhandled it would end the process.
	kill := make(chan os.Signal, 1)
	signal.Notify(kill, syscall.SIGUSR1)
	defer signal.Stop(kill)
	api := stack.Nodes[0].APIServer
	fmt.Fprintf(ready, "%s:%d\n", api.Address, api.Port)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kill:
			fmt.Fprintf(ready, "stopped %s\n", stopComputeNode(nodeCtx, stack))
		}
	}
}

// stopComputeNode stops the last compute-only node still running: it
// stops heartbeating and reporting, as if its machine had gone away. Its
// cleanup runs again, harmlessly, at exit. It returns the node's ID, or
// "none".
func stopComputeNode(ctx context.Context, stack *devstack.DevStack) string {
	for i := len(stack.Nodes) - 1; i >= 0; i-- {
		n := stack.Nodes[i]
		if n.IsRequesterNode() || n.ComputeNode == nil || stopped[n.ID] {
			continue
		}
		stopped[n.ID] = true
		n.ComputeNode.Cleanup(ctx)
		return n.ID
	}
	return "none"
}

var stopped = map[string]bool{}

func overrides() types.Bacalhau {
	return types.Bacalhau{
		API:          types.API{Host: "127.0.0.1"},
		Orchestrator: types.Orchestrator{Host: "127.0.0.1"},
		Engines:      types.EngineConfig{Disabled: []string{models.EngineDocker}},
		InputSources: types.InputSourcesConfig{Disabled: []string{models.StorageSourceS3, models.StorageSourceIPFS}},
		Publishers: types.PublishersConfig{
			Disabled: []string{models.PublisherS3, models.PublisherIPFS},
			Types: types.PublisherTypes{
				Local: types.LocalPublisher{Address: "127.0.0.1"},
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
}

// waitJoined waits until the orchestrator knows every node and every compute
// node is connected.
func waitJoined(ctx context.Context, stack *devstack.DevStack, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	want := len(stack.Nodes)
	for {
		got := 0
		for _, n := range stack.Nodes {
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
