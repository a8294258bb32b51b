// Command footprint measures what the canary's jobs cost the network: for
// each supported Bacalhau release and growing numbers of canary jobs in the
// job store (seeded through the release's own store code: the devnet
// module's jobstore tool), it starts the real node on the store and times
// list (the canary's), the label-filtered list `bacalhau job list` sends,
// get of one job and submit, with the node's peak RSS and the store's size.
// Not part of make test: `make footprint`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/internal/footprint"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "footprint:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("footprint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizesFlag := fs.String("sizes", "0,1000,5000,10000", "canary jobs in the store, ascending, comma-separated")
	versionsFlag := fs.String("versions", "", "Bacalhau releases (default every supported one)")
	rounds := fs.Int("rounds", 7, "timed calls of each kind per size (medians)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var sizes []int
	for _, f := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || len(sizes) > 0 && n < sizes[len(sizes)-1] {
			return fmt.Errorf("-sizes %q: want ascending non-negative counts", *sizesFlag)
		}
		sizes = append(sizes, n)
	}
	if *rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1")
	}
	versions := devnet.Versions
	if *versionsFlag != "" {
		versions = nil
		for _, v := range strings.Split(*versionsFlag, ",") {
			versions = append(versions, devnet.Version(strings.TrimSpace(v)))
		}
	}
	dir, err := os.MkdirTemp("", "bacalhau-canary-footprint-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintf(stdout, "Bacalhau job-store footprint: %d CPUs, %s/%s, %s, load average %s; medians of %d calls\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, cpuModel(), loadAverage(), *rounds)
	fmt.Fprintln(stdout, "| release | canary jobs | store | a job | list | filtered list | get | submit | node peak RSS |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, v := range versions {
		store := filepath.Join(dir, strings.ReplaceAll(string(v), ".", "_")+".db")
		seeded := 0
		var getID string
		for _, n := range sizes {
			if n > seeded {
				fmt.Fprintf(stderr, "footprint: %s: seeding %d canary jobs\n", v, n-seeded)
				ids, err := footprint.Seed(ctx, v, store, n-seeded, "-env", "prod", "-age", "1h")
				if err != nil {
					return err
				}
				if getID == "" {
					getID = ids[len(ids)/2]
				}
				seeded = n
			} else if seeded == 0 {
				if _, err := footprint.Seed(ctx, v, store, 0); err != nil {
					return err
				}
			}
			st, err := os.Stat(store)
			if err != nil {
				return err
			}
			row, err := measure(ctx, v, store, getID, *rounds)
			if err != nil {
				return fmt.Errorf("%s at %d jobs: %w", v, n, err)
			}
			perJob := "–"
			if n > 0 {
				perJob = fmt.Sprintf("%.0f KB", float64(st.Size())/float64(n)/1000)
			}
			fmt.Fprintf(stdout, "| %s | %d | %.1f MB | %s | %s | %s | %s | %s | %.0f MB |\n", v, n, float64(st.Size())/1e6, perJob,
				ms(row.t.List), ms(row.t.FilteredList), ms(row.t.Get), ms(row.t.Submit), float64(row.rss)/(1<<20))
		}
	}
	return nil
}

type result struct {
	t   footprint.Timings
	rss int64
}

// measure starts the node on the store, times the calls and reads the
// process's peak RSS.
func measure(ctx context.Context, v devnet.Version, store, getID string, rounds int) (result, error) {
	n, err := devnet.Start(ctx, devnet.Options{Version: v, JobStore: store})
	if err != nil {
		return result{}, err
	}
	defer n.Stop()
	c := footprint.NewClient(n)
	if getID == "" {
		if getID, err = c.Submit(ctx); err != nil {
			return result{}, err
		}
	}
	t, err := c.Measure(ctx, rounds, getID, true)
	if err != nil {
		return result{}, err
	}
	rss, err := footprint.PeakRSS(n.PID())
	return result{t: t, rss: rss}, err
}

func ms(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
