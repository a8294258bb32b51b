// Command bench measures the canary against a loopback Bacalhau v1.7.0
// devnet and prints the detection-time and cost models for what it measured:
//
//	go run ./bench                       # make bench
//	go run ./bench -models               # only the models, from -json's file
//
// (a) The canary's submit scenario as a whole process (the Cloud Run job
// binary, built as the Dockerfile builds it, CANARY_METRICS=none) against
// `bacalhau job run --wait` of the Bacalhau v1.7.0 CLI on the same inline
// wasm job, interleaved in rotating order: median wall time and their
// ratio. The CLI column is skipped, with a note, when the CLI is not built
// (make bacalhau-cli, or go run ./bench/buildcli, builds it into the user
// cache). -baseline adds a second job binary to the rounds, for before and
// after numbers from the same run.
// (b) The canary's overhead above the server-side completion time (job
// history: first to last event): median and p95, for the run as the canary
// times it and for the whole process.
// (c) The job binary's cold start (exec → first request to Bacalhau), peak
// RSS and size, by ./bench/coldstart.
// Also: each scenario's wall time (the cost model's billed time) and the
// bytes each scenario sends and receives (through a counting proxy).
//
// The table goes to stdout, the numbers to -json. Numbers depend on the
// machine and its load: compare ratios within one run. Nothing asserts on
// them.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/config"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Results is the -json file.
type Results struct {
	Date    string  `json:"date"`
	Machine Machine `json:"machine"`
	Pairs   int     `json:"pairs"`
	Job     string  `json:"job"` // what both sides ran

	Canary   CanaryResult  `json:"canary_submit"`             // (a), (b): the job binary of this checkout
	Baseline *CanaryResult `json:"baseline_submit,omitempty"` // the same for -baseline's binary
	CLI      *Series       `json:"cli_submit,omitempty"`
	CLINote  string        `json:"cli_note,omitempty"`

	MetadataRequests int `json:"metadata_requests"` // to the fake metadata server, CANARY_METRICS=none (want 0)

	// (c) bench/coldstart: CANARY_METRICS=none, then as deployed
	// (CANARY_METRICS=gcp, the API key read from Secret Manager).
	ColdStart []json.RawMessage `json:"coldstart,omitempty"`

	Scenarios map[string]ScenarioRun `json:"scenarios"` // cost model inputs
}

// Machine notes where the numbers come from.
type Machine struct {
	CPU      string  `json:"cpu"`
	CPUs     int     `json:"cpus"`
	OS       string  `json:"os"`
	Go       string  `json:"go"`
	LoadFrom float64 `json:"load_avg_start"`
	LoadTo   float64 `json:"load_avg_end"`
	Note     string  `json:"note,omitempty"`
}

// CanaryResult is one job binary's submit runs, milliseconds.
type CanaryResult struct {
	Binary string    `json:"binary"`
	WallMS []float64 `json:"wall_ms"` // exec → exit
	Wall   Stats     `json:"wall"`
	// (b) above the server-side completion time (job history: first →
	// last event): the run as the canary times it (duration_seconds), and
	// the whole process.
	OverheadRun     Stats   `json:"overhead_run_ms"`
	OverheadProcess Stats   `json:"overhead_process_ms"`
	Server          Stats   `json:"server_ms"`
	RatioToCLI      float64 `json:"ratio_to_cli,omitempty"` // median wall / the CLI's median wall

	overheadRun, overheadProc, server []float64
}

// Series is wall time of whole processes, milliseconds.
type Series struct {
	WallMS []float64 `json:"wall_ms"`
	Stats  Stats     `json:"stats"`
}

// Stats summarise samples.
type Stats struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P95    float64 `json:"p95"`
	Max    float64 `json:"max"`
}

// ScenarioRun is one scenario run by the job binary.
type ScenarioRun struct {
	WallMS    Stats `json:"wall_ms"`
	SentBytes int64 `json:"sent_bytes"` // to the Bacalhau API, one run
	RecvBytes int64 `json:"recv_bytes"`
	Requests  int   `json:"requests"`  // HTTP requests to the API, one run
	LogBytes  int   `json:"log_bytes"` // the job's stdout, one run
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	pairs := fs.Int("n", 20, "interleaved rounds of submit runs (canary, -baseline, CLI)")
	out := fs.String("json", filepath.Join("bench", "results.json"), "machine-readable results")
	cli := fs.String("cli", defaultCLI(), "Bacalhau v1.7.0 CLI (build: go run ./bench/buildcli)")
	coldN := fs.Int("coldstart-n", 20, "runs of bench/coldstart")
	perScenario := fs.Int("scenario-n", 3, "runs of each scenario for the cost model")
	note := fs.String("machine", "", "free-text note on the machine, stored in the results")
	baseline := fs.String("baseline", "", "another job binary to interleave with this checkout's (e.g. built from an older commit)")
	modelsOnly := fs.Bool("models", false, "print only the models, using the durations in -json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelsOnly {
		var r Results
		b, err := os.ReadFile(*out)
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", *out, err)
		}
		printModels(stdout, &r)
		return nil
	}
	if *pairs < 1 {
		return errors.New("-n must be at least 1")
	}

	res := &Results{
		Date:      time.Now().UTC().Format(time.DateOnly),
		Machine:   machine(*note),
		Pairs:     *pairs,
		Job:       "the canary's inline WASI module (prints one line), engine wasm, count 1, local publisher",
		Scenarios: map[string]ScenarioRun{},
	}
	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	note1(stderr, "building the job binary (CGO_ENABLED=0, -trimpath -ldflags='-s -w')")
	job := filepath.Join(dir, "job")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", job, "./functions/job")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the job (run from the repository root): %v\n%s", err, b)
	}

	if _, err := os.Stat(*cli); err != nil {
		res.CLINote = fmt.Sprintf("Bacalhau CLI not found at %q: CLI column skipped; build it with `go run ./bench/buildcli` (or pass -cli)", *cli)
		note1(stderr, res.CLINote)
		*cli = ""
	}

	note1(stderr, "starting the devnet")
	n, err := devnet.Start(ctx, devnet.Options{TempDir: dir})
	if err != nil {
		return err
	}
	defer n.Stop()
	md, err := fakegcp.StartMetadata(fakegcp.CloudRun())
	if err != nil {
		return err
	}
	defer md.Close()

	b := &bencher{dir: dir, job: job, cli: *cli, api: n.Addr(), host: n.Host, port: n.Port, metadata: md.Host()}
	b.jobs = bacalhau.New(bacalhau.Options{Host: n.Host, Port: n.Port, Timeout: 30 * time.Second}).Jobs
	if b.cli != "" {
		if err := b.writeSpec(ctx); err != nil {
			return err
		}
	}

	// Warm up both sides (page cache, the devnet's first job).
	for range 2 {
		if _, err := b.canary(ctx, "submit", b.api); err != nil {
			return err
		}
		if *baseline != "" {
			if _, err := b.canaryBin(ctx, *baseline, "submit", b.api); err != nil {
				return fmt.Errorf("baseline: %w", err)
			}
		}
		if b.cli != "" {
			if _, err := b.runCLI(ctx); err != nil {
				res.CLINote = "CLI failed, column skipped: " + strings.Join(strings.Fields(err.Error()), " ")
				note1(stderr, res.CLINote)
				b.cli = ""
			}
		}
	}

	sides := []string{"canary"}
	res.Canary.Binary = "this checkout"
	if *baseline != "" {
		sides = append(sides, "baseline")
		res.Baseline = &CanaryResult{Binary: filepath.Base(*baseline)}
	}
	if b.cli != "" {
		sides = append(sides, "cli")
	}
	note1(stderr, fmt.Sprintf("%d interleaved rounds of %v, rotating the order", *pairs, sides))
	var cliWall []float64
	for i := 0; i < *pairs && ctx.Err() == nil; i++ {
		for k := range sides {
			who := sides[(i+k)%len(sides)]
			if who == "cli" {
				w, err := b.runCLI(ctx)
				if err != nil {
					return err
				}
				cliWall = append(cliWall, ms(w))
				continue
			}
			side, bin := &res.Canary, b.job
			if who == "baseline" {
				side, bin = res.Baseline, *baseline
			}
			r, err := b.canaryBin(ctx, bin, "submit", b.api)
			if err != nil {
				return err
			}
			srv, err := b.serverTime(ctx, r.jobID)
			if err != nil {
				return err
			}
			side.WallMS = append(side.WallMS, ms(r.wall))
			side.server = append(side.server, ms(srv))
			side.overheadRun = append(side.overheadRun, ms(r.run-srv))
			side.overheadProc = append(side.overheadProc, ms(r.wall-srv))
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(cliWall) > 0 {
		res.CLI = &Series{WallMS: cliWall, Stats: stats(cliWall)}
	}
	for _, side := range []*CanaryResult{&res.Canary, res.Baseline} {
		if side == nil {
			continue
		}
		side.Wall, side.Server = stats(side.WallMS), stats(side.server)
		side.OverheadRun, side.OverheadProcess = stats(side.overheadRun), stats(side.overheadProc)
		if res.CLI != nil {
			side.RatioToCLI = side.Wall.Median / res.CLI.Stats.Median
		}
	}

	note1(stderr, "each scenario: wall time, then bytes through a counting proxy")
	for _, s := range scenarios.Names() {
		var walls []float64
		var logBytes int
		for range *perScenario {
			r, err := b.canary(ctx, s, b.api)
			if err != nil {
				return err
			}
			walls = append(walls, ms(r.wall))
			logBytes = r.logBytes
		}
		sent, recv, reqs, err := b.throughProxy(ctx, s)
		if err != nil {
			return err
		}
		res.Scenarios[s] = ScenarioRun{WallMS: stats(walls), SentBytes: sent, RecvBytes: recv, Requests: reqs, LogBytes: logBytes}
	}
	res.MetadataRequests = len(md.Requests())

	for _, args := range [][]string{{"-metrics", "none"}, {"-metrics", "gcp", "-secret"}, {"-metrics", "none", "-largest"}} {
		note1(stderr, fmt.Sprintf("cold start: bench/coldstart %s against loopback fakes", strings.Join(args, " ")))
		a := append([]string{"run", "./bench/coldstart", "-bin", job, "-n", strconv.Itoa(*coldN), "-json", "-"}, args...)
		cs := exec.CommandContext(ctx, "go", a...)
		cs.Stderr = stderr
		raw, err := cs.Output()
		if err != nil {
			return fmt.Errorf("bench/coldstart: %w", err)
		}
		res.ColdStart = append(res.ColdStart, json.RawMessage(bytes.TrimSpace(raw)))
	}

	res.Machine.LoadTo = loadAvg()
	printTable(stdout, res)
	printModels(stdout, res)
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(js, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nresults: %s\n", *out)
	return nil
}

type bencher struct {
	dir, job, cli, api, metadata string
	host                         string
	port                         int
	spec                         string
	jobs                         interface {
		History(context.Context, *apimodels.ListJobHistoryRequest) (*apimodels.ListJobHistoryResponse, error)
	}
}

type canaryRun struct {
	wall, run time.Duration
	jobID     string
	logBytes  int
}

// canary runs this checkout's job binary once against addr (host:port).
func (b *bencher) canary(ctx context.Context, scenario, addr string) (canaryRun, error) {
	return b.canaryBin(ctx, b.job, scenario, addr)
}

// canaryBin runs a job binary once against addr.
func (b *bencher) canaryBin(ctx context.Context, bin, scenario, addr string) (canaryRun, error) {
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		"HOME=" + b.dir,
		"TMPDIR=" + b.dir,
		"CANARY_SCENARIO=" + scenario,
		"CANARY_METRICS=none",
		"CANARY_ENGINE=wasm",
		"CANARY_ENV=bench",
		"CANARY_TIMEOUT=60s",
		"BACALHAU_API_HOST=" + host,
		"BACALHAU_API_PORT=" + port,
		// CANARY_METRICS=none needs no metadata server; a loopback fake
		// catches (and counts) any request that goes there anyway.
		"GCE_METADATA_HOST=" + b.metadata,
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return canaryRun{}, fmt.Errorf("canary %s: %v: %s%s", scenario, err, out.Bytes(), errb.Bytes())
	}
	var line struct {
		Success  bool    `json:"success"`
		JobID    string  `json:"job_id"`
		Duration float64 `json:"duration_seconds"`
		Error    string  `json:"error"`
	}
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(`"duration_seconds"`)) {
			_ = json.Unmarshal(sc.Bytes(), &line)
		}
	}
	if !line.Success {
		return canaryRun{}, fmt.Errorf("canary %s did not pass: %s", scenario, out.Bytes())
	}
	return canaryRun{
		wall:     wall,
		run:      time.Duration(line.Duration * float64(time.Second)),
		jobID:    line.JobID,
		logBytes: out.Len(),
	}, nil
}

// serverTime is the job's first to last history event.
func (b *bencher) serverTime(ctx context.Context, id string) (time.Duration, error) {
	h, err := b.jobs.History(ctx, &apimodels.ListJobHistoryRequest{JobIDOrName: id})
	if err != nil {
		return 0, fmt.Errorf("history of %s: %w", id, err)
	}
	if len(h.Items) < 2 {
		return 0, fmt.Errorf("history of %s: %d events", id, len(h.Items))
	}
	first, last := h.Items[0].Occurred(), h.Items[0].Occurred()
	for _, it := range h.Items {
		t := it.Occurred()
		if t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	return last.Sub(first), nil
}

// writeSpec writes the canary's own submit job, as the job binary builds
// it, for the CLI.
func (b *bencher) writeSpec(ctx context.Context) error {
	cfg, err := config.Load(ctx, envconfig.MapLookuper(map[string]string{
		"CANARY_ENGINE": "wasm", "CANARY_ENV": "bench", "CANARY_TIMEOUT": "60s", "BACALHAU_API_HOST": b.host,
	}))
	if err != nil {
		return err
	}
	job, err := cfg.JobSpec(scenarios.EngineWasm).Build("submit", "bench", "bench", 1, cfg.Timeout)
	if err != nil {
		return err
	}
	// The CLI refuses the fields the server sets; drop them.
	raw, err := json.Marshal(job)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return err
	}
	for _, k := range []string{"ID", "State", "Version", "Revision", "CreateTime", "ModifyTime"} {
		delete(spec, k)
	}
	js, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	b.spec = filepath.Join(b.dir, "job.json")
	return os.WriteFile(b.spec, js, 0o644)
}

// runCLI runs `bacalhau job run --wait` on the spec and returns its wall time.
func (b *bencher) runCLI(ctx context.Context) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, b.cli, "job", "run", "--wait", "--id-only",
		"--api-host", b.host, "--api-port", strconv.Itoa(b.port), b.spec)
	home := filepath.Join(b.dir, "cli-home")
	cmd.Env = []string{
		"HOME=" + home,
		"TMPDIR=" + b.dir,
		"BACALHAU_DIR=" + filepath.Join(home, ".bacalhau"),
		"BACALHAU_DISABLEANALYTICS=true",
		// Keep the update check on loopback (nothing listens there).
		"BACALHAU_UPDATE_CHECKER_ENDPOINT=http://127.0.0.1:9/version",
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("bacalhau job run: %v: %s%s", err, out.Bytes(), errb.Bytes())
	}
	id := strings.TrimSpace(out.String())
	if id == "" {
		return 0, fmt.Errorf("bacalhau job run printed no job ID: %s", errb.Bytes())
	}
	return wall, nil
}

// throughProxy runs scenario once through a loopback proxy counting bytes
// and HTTP/1.1 requests.
func (b *bencher) throughProxy(ctx context.Context, scenario string) (sent, recv int64, requests int, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, 0, err
	}
	defer l.Close()
	var up, down, reqs atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", b.api)
				if err != nil {
					return
				}
				defer s.Close()
				done := make(chan struct{})
				go func() {
					n, _ := io.Copy(io.MultiWriter(s, requestCounter{&reqs}), c)
					up.Add(n)
					s.(*net.TCPConn).CloseWrite()
					close(done)
				}()
				n, _ := io.Copy(c, s)
				down.Add(n)
				c.(*net.TCPConn).CloseWrite()
				<-done
			}()
		}
	}()
	if _, err := b.canary(ctx, scenario, l.Addr().String()); err != nil {
		return 0, 0, 0, err
	}
	l.Close()
	time.Sleep(50 * time.Millisecond) // let the copies finish counting
	return up.Load(), down.Load(), int(reqs.Load()), nil
}

// requestCounter counts request lines ("... HTTP/1.1\r\n") in what the
// client sends. A request line split across two writes is missed; the
// canary's are written whole.
type requestCounter struct{ n *atomic.Int64 }

func (r requestCounter) Write(p []byte) (int, error) {
	r.n.Add(int64(bytes.Count(p, []byte(" HTTP/1.1\r\n"))))
	return len(p), nil
}

func defaultCLI() string {
	if p := os.Getenv("BACALHAU_CLI"); p != "" {
		return p
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "bacalhau"
	}
	return filepath.Join(c, "bacalhau-canary", "cli", "bacalhau-v1.7.0")
}

func machine(note string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), LoadFrom: loadAvg(), Note: note}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func stats(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Stats{N: len(s), Min: s[0], Median: quantile(s, 0.5), P95: quantile(s, 0.95), Max: s[len(s)-1]}
}

// quantile of sorted s, linear between the closest ranks.
func quantile(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func note1(w io.Writer, msg string) { fmt.Fprintln(w, "bench:", msg) }
