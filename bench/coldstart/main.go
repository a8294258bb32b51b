// Command coldstart measures the Cloud Run job binary: its size, its cold
// start (exec → first request to the Bacalhau API), the whole run, and its
// peak resident memory. It builds the job as the Dockerfile does, then runs
// it -n times against loopback fakes (a Bacalhau API that answers the job
// list and notes its first request, Cloud Monitoring, the metadata server),
// so nothing leaves 127.0.0.1:
//
//	go run ./bench/coldstart -n 20
//
// -bin runs an already built job binary instead, and -json writes the
// samples as JSON (to a file, or "-" for stdout instead of the table); the
// submit bench (go run ./bench) uses both.
//
// Numbers depend on the machine; nothing here asserts on them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/fakebacalhau"
	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

type sample struct {
	coldStart time.Duration // exec → first Bacalhau request
	total     time.Duration // exec → exit
	maxRSS    int64         // bytes
}

func realMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("coldstart", flag.ContinueOnError)
	n := fs.Int("n", 10, "runs")
	metricsKind := fs.String("metrics", "gcp", "CANARY_METRICS of the job: gcp (fake Monitoring + metadata server), stdout or none")
	prebuilt := fs.String("bin", "", "job binary to run (default: build ./functions/job as the Dockerfile does)")
	jsonOut := fs.String("json", "", `write the samples as JSON to this file ("-": stdout, no table)`)
	secret := fs.Bool("secret", false, "read the API key from (fake) Secret Manager first, as the deployed job does")
	largest := fs.Bool("largest", false, "answer the list with the largest reply the canary accepts (gzip), to measure peak memory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return errors.New("-n must be at least 1")
	}

	dir, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := *prebuilt
	if bin == "" {
		bin = filepath.Join(dir, "job")
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./functions/job")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building the job (run from the repository root): %v\n%s", err, b)
		}
	}
	st, err := os.Stat(bin)
	if err != nil {
		return err
	}

	api, err := fakebacalhau.Start()
	if err != nil {
		return err
	}
	defer api.Close()
	if *largest {
		api.ListPad = bacalhau.MaxReplyBytes - 4096
	}
	md, err := fakegcp.StartMetadata(fakegcp.CloudRun())
	if err != nil {
		return err
	}
	defer md.Close()

	var extra []string
	if *secret {
		const name = "projects/demo/secrets/bacalhau-api-key/versions/latest"
		api.Key = "coldstart-key"
		sm, err := fakegcp.StartSecretManager(map[string]string{name: api.Key})
		if err != nil {
			return err
		}
		defer sm.Close()
		extra = []string{"BACALHAU_API_KEY_SECRET=" + name, "CANARY_SECRETMANAGER_ENDPOINT=" + sm.Addr()}
	}

	var samples []sample
	for i := 0; i < *n && ctx.Err() == nil; i++ {
		s, err := runOnce(ctx, bin, api, md, *metricsKind, extra)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		samples = append(samples, s)
	}

	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, out, st.Size(), *metricsKind, *secret, *largest, samples); err != nil {
			return err
		}
		if *jsonOut == "-" {
			return nil
		}
	}
	fmt.Fprintf(out, "job binary        %.1f MiB (CGO_ENABLED=0, -trimpath -ldflags='-s -w')\n", float64(st.Size())/(1<<20))
	fmt.Fprintf(out, "runs              %d (scenario list, CANARY_METRICS=%s, API key from Secret Manager: %v, loopback fakes)\n", len(samples), *metricsKind, *secret)
	report(out, "cold start", samples, func(s sample) float64 { return float64(s.coldStart) / 1e6 }, "ms")
	report(out, "whole run", samples, func(s sample) float64 { return float64(s.total) / 1e6 }, "ms")
	report(out, "peak RSS", samples, func(s sample) float64 { return float64(s.maxRSS) / (1 << 20) }, "MiB")
	return nil
}

func runOnce(ctx context.Context, bin string, api *fakebacalhau.API, md *fakegcp.Metadata, kind string, extra []string) (sample, error) {
	// A fresh Monitoring per run: the same series may take a point only
	// every 5 s.
	mon, err := fakegcp.StartMonitoring()
	if err != nil {
		return sample{}, err
	}
	defer mon.Close()
	api.Reset()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		"HOME=" + os.TempDir(),
		"CANARY_SCENARIO=list",
		"CANARY_METRICS=" + kind,
		"BACALHAU_API_HOST=" + api.Host(),
		"BACALHAU_API_PORT=" + strconv.Itoa(api.Port()),
		"GOOGLE_CLOUD_PROJECT=demo",
		"CANARY_MONITORING_ENDPOINT=" + mon.Addr(),
		"GCE_METADATA_HOST=" + md.Host(),
	}
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	err = cmd.Run()
	total := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("job: %w", err)
	}
	first, calls := api.First()
	if calls == 0 {
		return sample{}, errors.New("the job never called the Bacalhau API")
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = int64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	return sample{coldStart: first.Sub(start), total: total, maxRSS: rss}, nil
}

func report(out io.Writer, name string, samples []sample, f func(sample) float64, unit string) {
	vs := make([]float64, len(samples))
	for i, s := range samples {
		vs[i] = f(s)
	}
	slices.Sort(vs)
	fmt.Fprintf(out, "%-17s min %.1f  median %.1f  max %.1f %s\n", name, vs[0], vs[len(vs)/2], vs[len(vs)-1], unit)
}

// Summary is the -json output.
type Summary struct {
	BinaryBytes int64     `json:"binary_bytes"`
	Metrics     string    `json:"metrics"` // CANARY_METRICS of the runs
	Scenario    string    `json:"scenario"`
	Secret      bool      `json:"secret"`        // the API key came from Secret Manager
	Largest     bool      `json:"largest"`       // the list reply was the largest the canary accepts
	ColdStartMS []float64 `json:"cold_start_ms"` // exec → first Bacalhau request, per run
	TotalMS     []float64 `json:"total_ms"`      // exec → exit, per run
	MaxRSSMiB   []float64 `json:"max_rss_mib"`   // peak resident memory, per run
}

func writeJSON(path string, stdout io.Writer, size int64, kind string, secret, largest bool, samples []sample) error {
	s := Summary{BinaryBytes: size, Metrics: kind, Scenario: "list", Secret: secret, Largest: largest}
	for _, x := range samples {
		s.ColdStartMS = append(s.ColdStartMS, float64(x.coldStart.Microseconds())/1000)
		s.TotalMS = append(s.TotalMS, float64(x.total.Microseconds())/1000)
		s.MaxRSSMiB = append(s.MaxRSSMiB, float64(x.maxRSS)/(1<<20))
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
