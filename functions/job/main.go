// Command job is the canary's Cloud Run job: it runs ONE scenario
// (CANARY_SCENARIO) once against BACALHAU_API_HOST, logs the result as one
// JSON line on stdout, records it in Cloud Monitoring (CANARY_METRICS, gcp
// by default) and exits:
//
//	0  the scenario passed and was recorded
//	1  the scenario failed (and was recorded)
//	2  bad configuration: one line on stderr naming the variable; nothing sent anywhere
//	3  the result could not be recorded (it is in the log; a second line says why)
//
// It links only Bacalhau's client packages; build it with CGO_ENABLED=0.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/config"
	"github.com/bacalhau-project/bacalhau-canary/pkg/logging"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, envconfig.OsLookuper(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// shutdownGrace bounds the job's life after SIGTERM, whatever Monitoring
// does: Cloud Run kills the task 10 s after the signal, and the job must
// be gone well before (5 s, with the runtime's start and exit).
const shutdownGrace = 4 * time.Second

func realMain(ctx context.Context, env envconfig.Lookuper, stdout, stderr io.Writer) int {
	cfg, s, err := load(ctx, env)
	if err != nil {
		fmt.Fprintln(stderr, "job:", err)
		return canary.ExitUsage
	}
	log := logging.New(stdout).With(taskAttrs(env)...)
	c := canary.New(cfg, canary.Options{Log: log, Stdout: stdout}) // docker, gcp by default
	defer func() {
		if ctx.Err() == nil {
			_ = c.Close()
		}
	}()

	ran, recorded := make(chan scenarios.Result, 1), make(chan error, 1)
	go func() {
		res := c.Check(ctx, s)
		ran <- res
		recorded <- c.Record(ctx, res)
	}()
	// SIGTERM: Cloud Run kills the task 10 s later. The run ends at once
	// (its job stopped within the stop budget) and logs its line; the
	// metric write gets what is left of shutdownGrace.
	res := scenarios.Result{Scenario: s.Name, Env: cfg.Env}
	var grace <-chan time.Time
	for interrupted := ctx.Done(); ; {
		select {
		case res = <-ran:
			continue
		case err = <-recorded:
		case <-interrupted:
			interrupted, grace = nil, time.After(shutdownGrace)
			continue
		case <-grace:
			err = fmt.Errorf("interrupted; the run or its metric write did not end within %s", shutdownGrace)
		}
		break
	}
	select {
	case res = <-ran: // ready at the same time as its recording
	default:
	}
	if err != nil {
		log.LogAttrs(context.Background(), slog.LevelError, "result not recorded",
			slog.String("scenario", res.Scenario),
			slog.String("env", res.Env),
			slog.Bool("success", res.Success),
			slog.String("metrics", c.Config().Metrics),
			slog.String("reason", err.Error()),
		)
		return canary.ExitRecorder
	}
	if !res.Success {
		return canary.ExitFail
	}
	return canary.ExitPass
}

// load reads and checks the configuration before anything is sent.
func load(ctx context.Context, env envconfig.Lookuper) (config.Config, scenarios.Scenario, error) {
	cfg, err := config.Load(ctx, env)
	if err != nil {
		return cfg, scenarios.Scenario{}, err
	}
	if cfg.Scenario == "" {
		return cfg, scenarios.Scenario{}, fmt.Errorf("CANARY_SCENARIO: required (one of %s)", strings.Join(scenarios.Names(), ", "))
	}
	if err := cfg.Validate(true); err != nil {
		return cfg, scenarios.Scenario{}, err
	}
	s, _ := scenarios.Lookup(cfg.Scenario)
	return cfg, s, nil
}

// taskAttrs are Cloud Run's execution and task (it sets them on every
// task) on every log line, when set; the task's numbers as numbers.
func taskAttrs(env envconfig.Lookuper) []any {
	var attrs []any
	for _, kv := range [][2]string{{"CLOUD_RUN_EXECUTION", "execution"}, {"CLOUD_RUN_TASK_ATTEMPT", "task_attempt"}, {"CLOUD_RUN_TASK_INDEX", "task_index"}} {
		v, _ := env.Lookup(kv[0])
		if n, err := strconv.Atoi(v); err == nil && kv[1] != "execution" {
			attrs = append(attrs, slog.Int(kv[1], n))
		} else if v != "" {
			attrs = append(attrs, slog.String(kv[1], v))
		}
	}
	return attrs
}
