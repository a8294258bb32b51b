// Command build builds the devnet program into the user cache (the same
// place tests and the local runner look) and prints its path, so a slow
// first build happens once, up front, outside any test timeout.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/bacalhau-project/bacalhau-canary/pkg/devnet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	bin, err := devnet.Build(ctx, func(msg string) { fmt.Fprintln(os.Stderr, "devnet:", msg) })
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "devnet:", err)
		os.Exit(1)
	}
	fmt.Println(bin)
}
