// Command gen writes the canary's WebAssembly module: the program that
// prints scenarios.DefaultText and exits 0. pkg/scenarios embeds it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bacalhau-project/bacalhau-canary/internal/wasi"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func main() {
	out := flag.String("o", "", "module file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if out == "" {
		return fmt.Errorf("-o: required")
	}
	mod, err := wasi.Program{Stdout: scenarios.DefaultText}.Encode()
	if err != nil {
		return err
	}
	return os.WriteFile(out, mod, 0o644)
}
