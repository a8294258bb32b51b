// Command gen writes terraform/scenarios.json from the scenario registry.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bacalhau-project/bacalhau-canary/internal/catalogue"
)

func main() {
	out := flag.String("out", "", "file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if out == "" {
		return fmt.Errorf("-out: required")
	}
	b, err := catalogue.Render()
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
