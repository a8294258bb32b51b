// Package canary runs one configured scenario the way every entry point
// does (the Cloud Run job, the local runner): the
// runner, whose connect phase builds the Bacalhau client (with the API key
// read from Secret Manager when BACALHAU_API_KEY_SECRET is set), and its
// result log line; then the metrics sink.
package canary

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/config"
	"github.com/bacalhau-project/bacalhau-canary/pkg/gcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Canary runs scenarios with one configuration. It is safe for concurrent
// use; each Run has its own client and runner.
type Canary struct {
	cfg config.Config
	o   Options

	mu   sync.Mutex
	sink metrics.Sink
}

// Options complete the configuration.
type Options struct {
	DefaultEngine string       // when CANARY_ENGINE is unset; docker when empty
	DefaultSink   string       // when CANARY_METRICS is unset; gcp when empty
	Log           *slog.Logger // the result line and the sink's notes; nil: no result line
	SinkLog       *slog.Logger // the sink's notes when not Log
	Stdout        io.Writer    // for the stdout sink
	Progress      func(string) // notes on long waits; nil: none
	NoMetadata    bool         // never ask the metadata server (the local runner)
}

// New returns a Canary for a validated configuration. It makes no network
// call: the sink is built on the first Record.
func New(cfg config.Config, o Options) *Canary {
	o.DefaultEngine = cmp.Or(o.DefaultEngine, scenarios.EngineDocker)
	cfg.Metrics = cmp.Or(cfg.Metrics, o.DefaultSink, metrics.KindGCP)
	o.SinkLog = cmp.Or(o.SinkLog, o.Log)
	return &Canary{cfg: cfg, o: o}
}

// Config is the configuration in use, defaults applied.
func (c *Canary) Config() config.Config { return c.cfg }

// Check runs s once and logs its result line, without recording it (the
// local runner prints the result before its metric points).
func (c *Canary) Check(ctx context.Context, s scenarios.Scenario) scenarios.Result {
	r := &scenarios.Runner{
		Connect:  c.connect,
		Spec:     c.cfg.JobSpec(c.o.DefaultEngine),
		Env:      c.cfg.Env,
		Timeout:  c.cfg.Timeout,
		Log:      c.o.Log,
		Progress: c.o.Progress,
		Secrets:  c.cfg.Secrets(),

		Endpoint:      c.cfg.Bacalhau().Address(),
		CanaryVersion: BuildVersion(),
		CanaryImage:   c.cfg.Image,
	}
	return r.Run(ctx, s)
}

// connect is a run's connect phase: the API key read from Secret Manager
// when BACALHAU_API_KEY_SECRET names one (a key that cannot be read fails
// the run as a canary error), then the run's own client and fetcher. The
// key goes into the client and the runner's redaction list, never into a
// log line or label. The read gets at most gcp.SecretBudget and half the
// run's deadline, so a Secret Manager that hangs fails the run as the
// canary's before the deadline could make it a timeout.
func (c *Canary) connect(ctx context.Context) (scenarios.Conn, error) {
	opts := c.cfg.Bacalhau()
	if c.cfg.APIKeySecret != "" {
		key, err := gcp.ReadSecret(ctx, c.cfg.APIKeySecret, c.cfg.SecretManagerEndpoint, min(gcp.SecretBudget, c.cfg.Timeout/2))
		if err != nil {
			return scenarios.Conn{}, fmt.Errorf("BACALHAU_API_KEY_SECRET: %v: %w", err, scenarios.ErrCanary)
		}
		opts.APIKey = key
	}
	conn := bacalhau.New(opts)
	conn.Secret = opts.APIKey
	return conn, nil
}

// Record writes res through the configured sink, building the sink on
// first use (a sink that could not be built is tried again next time).
func (c *Canary) Record(ctx context.Context, res scenarios.Result) error {
	c.mu.Lock()
	if c.sink == nil {
		sink, err := metrics.New(context.WithoutCancel(ctx), metrics.Options{
			Kind:     c.cfg.Metrics,
			Project:  c.cfg.Project,
			Location: c.cfg.Location,
			Endpoint: c.cfg.MonitoringEndpoint,
			Metadata: !c.o.NoMetadata,
			Log:      c.o.SinkLog,
			Stdout:   c.o.Stdout,
			Interval: c.cfg.Interval,
		})
		if err != nil {
			c.mu.Unlock()
			return fmt.Errorf("metrics sink %s: %w", c.cfg.Metrics, err)
		}
		c.sink = sink
	}
	sink := c.sink
	c.mu.Unlock()
	return sink.Record(ctx, res)
}

// Close releases the sink's connection.
func (c *Canary) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	closer, ok := c.sink.(io.Closer)
	c.sink = nil
	if !ok {
		return nil
	}
	return closer.Close()
}
