// Command gen writes terraform/scenarios.json, terraform/metrics.json and
// the phases table of docs/metrics.md from the scenario registry and the
// metric catalogue.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bacalhau-project/bacalhau-canary/internal/catalogue"
)

func main() {
	scenarios := flag.String("scenarios", "", "scenarios.json to write")
	metrics := flag.String("metrics", "", "metrics.json to write")
	docs := flag.String("docs", "", "markdown file whose phases table to rewrite")
	flag.Parse()
	if err := run(*scenarios, *metrics, *docs); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(scenarios, metrics, docs string) error {
	if scenarios == "" || metrics == "" || docs == "" {
		return fmt.Errorf("-scenarios, -metrics and -docs: required")
	}
	for file, render := range map[string]func() ([]byte, error){scenarios: catalogue.Render, metrics: catalogue.RenderMetrics} {
		b, err := render()
		if err != nil {
			return err
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return err
		}
	}
	doc, err := os.ReadFile(docs)
	if err != nil {
		return err
	}
	if doc, err = catalogue.WithPhasesTable(doc); err != nil {
		return fmt.Errorf("%s: %w", docs, err)
	}
	return os.WriteFile(docs, doc, 0o644)
}
