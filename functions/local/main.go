// Command local runs canary scenarios from a developer's machine:
//
//	go run ./functions/local --scenario submit
//
// With no endpoint configured it starts the embedded Bacalhau devnet (a
// loopback-only network built from ./devnet), runs, and tears it down.
// Exit status: 0 passed, 1 a scenario failed, 2 bad configuration or usage,
// 3 a result could not be recorded.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/config"
	"github.com/bacalhau-project/bacalhau-canary/pkg/logging"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], nil, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type flags struct {
	timeoutSet bool // --timeout given, even as 0
	scenario   string
	all        bool
	json       bool
	timeout    time.Duration
	endpoint   string
	engine     string
	env        string
	metrics    string
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned as one line; --help prints usage below
	fs.StringVar(&f.scenario, "scenario", "", "scenario to run: "+strings.Join(scenarios.Names(), ", "))
	fs.BoolVar(&f.all, "all", false, "run every scenario, one after the other")
	fs.BoolVar(&f.json, "json", false, "print each result as a JSON log line instead of text")
	fs.DurationVar(&f.timeout, "timeout", 0, "whole-scenario deadline (overrides CANARY_TIMEOUT, default 90s)")
	fs.StringVar(&f.endpoint, "endpoint", "", "Bacalhau API as host:port (overrides BACALHAU_API_HOST/PORT); default: start the embedded devnet")
	fs.StringVar(&f.engine, "engine", "", "canary job engine: docker or wasm (overrides CANARY_ENGINE; default wasm on the devnet, docker elsewhere)")
	fs.StringVar(&f.env, "env", "", "environment label (overrides CANARY_ENV, default dev)")
	fs.StringVar(&f.metrics, "metrics", "", "where results go: stdout (JSON lines of the metric points), gcp or none (overrides CANARY_METRICS, default stdout)")
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, `usage: go run ./functions/local (--scenario NAME | --all) [flags]

Runs bacalhau-canary scenarios once and prints the result of each.
Without --endpoint or BACALHAU_API_HOST it starts a loopback-only Bacalhau
network (./devnet) for the run and stops it afterwards.

scenarios:
`)
		for _, s := range scenarios.All() {
			fmt.Fprintf(stderr, "  %-22s %s\n", s.Name, s.Doc)
		}
		fmt.Fprintf(stderr, "\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nexit status: 0 all passed, 1 a scenario failed, 2 bad configuration or usage, 3 a result could not be recorded\n")
		return f, err
	}
	if err != nil {
		return f, fmt.Errorf("%w (see --help)", err)
	}
	fs.Visit(func(fl *flag.Flag) { f.timeoutSet = f.timeoutSet || fl.Name == "timeout" })
	switch {
	case fs.NArg() > 0:
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case f.all && f.scenario != "":
		return f, errors.New("--scenario and --all exclude each other")
	case !f.all && f.scenario == "":
		return f, errors.New("say which scenario to run: --scenario NAME or --all (see --help)")
	}
	return f, nil
}

// config reads the environment, lets the flags override it and checks
// the result.
func (f flags) config(ctx context.Context, env envconfig.Lookuper) (config.Config, error) {
	c, err := config.Load(ctx, env)
	if err != nil {
		return c, err
	}
	if f.endpoint != "" {
		host, port, err := net.SplitHostPort(f.endpoint)
		if err != nil {
			return c, fmt.Errorf("--endpoint: %q is not host:port", f.endpoint)
		}
		if host == "" {
			// ":1234" must not quietly mean "start the embedded devnet".
			return c, fmt.Errorf("--endpoint: %q has no host (say 127.0.0.1:%s for this machine)", f.endpoint, port)
		}
		if _, err := config.ParseHost(host); err != nil {
			return c, fmt.Errorf("--endpoint: %v", err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return c, fmt.Errorf("--endpoint: port %q is not a port (1-65535)", port)
		}
		c.APIHost, c.APIPort = host, p
	}
	if f.timeoutSet {
		if f.timeout <= 0 {
			return c, fmt.Errorf("--timeout: %s is not a deadline (more than 0)", f.timeout)
		}
		c.Timeout = f.timeout
	}
	c.Engine = cmp.Or(f.engine, c.Engine)
	c.Env = cmp.Or(f.env, c.Env)
	c.Metrics = cmp.Or(f.metrics, c.Metrics)
	c.Scenario = cmp.Or(f.scenario, c.Scenario)
	switch err := c.Validate(false); {
	case err != nil:
		return c, err
	case c.APIKeySecret != "":
		return c, errors.New("BACALHAU_API_KEY_SECRET is for the deployed job; set BACALHAU_API_KEY locally")
	case c.Metrics == metrics.KindGCP && c.Project == "":
		return c, errors.New("GOOGLE_CLOUD_PROJECT: required with CANARY_METRICS=gcp (the local runner does not ask the metadata server)")
	}
	return c, nil
}

func realMain(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return canary.ExitPass
	}
	var cfg config.Config
	if err == nil {
		cfg, err = f.config(ctx, env)
	}
	if err != nil {
		fmt.Fprintln(stderr, "local:", err)
		return canary.ExitUsage
	}
	list := scenarios.All()
	if !f.all {
		s, _ := scenarios.Lookup(cfg.Scenario)
		list = []scenarios.Scenario{s}
	}

	defaultEngine := scenarios.EngineDocker
	if cfg.APIHost == "" {
		fmt.Fprintln(stderr, "local: no BACALHAU_API_HOST or --endpoint: using the embedded devnet")
		net, err := devnet.Start(ctx, devnet.Options{Progress: func(msg string) { fmt.Fprintln(stderr, "local:", msg) }})
		if err != nil {
			first, _, _ := strings.Cut(err.Error(), "\n")
			fmt.Fprintln(stderr, "local: embedded devnet:", text.Quote(first, maxErrorText))
			return canary.ExitFail
		}
		defer func() {
			if err := net.Stop(); err != nil {
				fmt.Fprintln(stderr, "local: stopping devnet:", err)
			}
		}()
		fmt.Fprintln(stderr, "local: devnet ready at", net.Addr())
		cfg.APIHost, cfg.APIPort = net.Host, net.Port
		defaultEngine = scenarios.EngineWasm
	}

	o := canary.Options{
		DefaultEngine: defaultEngine,
		DefaultSink:   metrics.KindStdout,
		SinkLog:       logging.New(stderr),
		Stdout:        stdout,
		Progress:      func(msg string) { fmt.Fprintln(stderr, "local:", msg) },
		NoMetadata:    true,
	}
	if f.json {
		o.Log = logging.New(stdout)
	}
	c := canary.New(cfg, o)
	defer func() {
		if ctx.Err() == nil {
			c.Close() // an interrupted write may still hold the connection
		}
	}()
	code := canary.ExitPass
	for _, s := range list {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "local: interrupted")
			return canary.ExitFail
		}
		res := c.Check(ctx, s)
		if !f.json {
			printResult(stdout, res)
		}
		if !res.Success && code == canary.ExitPass {
			code = canary.ExitFail
		}
		if err := record(ctx, c, res); err != nil {
			fmt.Fprintln(stderr, "local: result not recorded:", text.Quote(err.Error(), maxErrorText))
			code = canary.ExitRecorder
		}
	}
	return code
}

// interruptGrace is what a recording may take once the runner is
// interrupted (Ctrl-C): with the run's own end (its stop budget) the
// runner exits within 5 s of the signal, whatever Monitoring does.
const interruptGrace = 3 * time.Second

// maxErrorText bounds an error printed to the terminal.
const maxErrorText = 4 << 10

// record writes res, giving up interruptGrace after ctx is done.
func record(ctx context.Context, c *canary.Canary, res scenarios.Result) error {
	done := make(chan error, 1)
	go func() { done <- c.Record(ctx, res) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-done:
		return err
	case <-time.After(interruptGrace):
		return fmt.Errorf("interrupted; the metric write did not end within %s", interruptGrace)
	}
}

func printResult(w io.Writer, r scenarios.Result) {
	status := "PASS"
	if !r.Success {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s  %-22s %7.3fs", status, r.Scenario, r.Duration.Seconds())
	if r.JobID != "" {
		fmt.Fprintf(w, "  job %s", text.Quote(r.JobID, maxErrorText))
		if r.Stopped {
			fmt.Fprint(w, " (stopped)")
		}
	}
	fmt.Fprintln(w)
	var phases []string
	for _, p := range r.Phases {
		took := "-"
		if p.Reached {
			took = fmt.Sprintf("%.3fs", p.Duration.Seconds())
		}
		phases = append(phases, p.Name+" "+took)
	}
	fmt.Fprintf(w, "      phases: %s\n", strings.Join(phases, ", "))
	if !r.Success {
		// Quoted: what came from outside (job IDs, Bacalhau's and
		// Google's texts) stays on its line, and no escape sequence or
		// carriage return in it reaches the terminal to forge a PASS.
		fmt.Fprintf(w, "      error_class: %s\n      error: %s\n", r.Class, text.Quote(r.Error, maxErrorText))
	}
}
