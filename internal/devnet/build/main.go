// Command build builds the devnet program and the jobstore tool of every
// supported Bacalhau release into the user cache (the same place tests,
// benchmarks and the local runner look) and prints their paths, so a slow
// first build happens once, up front, outside any test timeout. Where the
// production-shaped networks can run (devnet.ProdMissing), it also builds
// their S3 server, weed.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, v := range devnet.Versions {
		start := time.Now()
		bin, err := devnet.Build(ctx, v, func(msg string) { fmt.Fprintln(os.Stderr, "devnet:", msg) })
		if err != nil {
			fmt.Fprintln(os.Stderr, "devnet:", err)
			stop()
			os.Exit(1)
		}
		if d := time.Since(start); d > time.Second {
			fmt.Fprintf(os.Stderr, "devnet: built %s in %s\n", v, d.Round(time.Second))
		}
		fmt.Println(bin)
		tool, err := devnet.BuildJobstore(ctx, v, func(msg string) { fmt.Fprintln(os.Stderr, "devnet:", msg) })
		if err != nil {
			fmt.Fprintln(os.Stderr, "devnet:", err)
			stop()
			os.Exit(1)
		}
		fmt.Println(tool)
	}
	if m := devnet.ProdMissing(); m != "" {
		fmt.Fprintf(os.Stderr, "devnet: no S3 server build: production-shaped networks cannot run here (%s)\n", m)
		return
	}
	start := time.Now()
	bin, err := devnet.BuildWeed(ctx, func(msg string) { fmt.Fprintln(os.Stderr, "devnet:", msg) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "devnet:", err)
		stop()
		os.Exit(1)
	}
	if d := time.Since(start); d > time.Second {
		fmt.Fprintf(os.Stderr, "devnet: built weed in %s\n", d.Round(time.Second))
	}
	fmt.Println(bin)
}
