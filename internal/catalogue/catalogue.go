// Package catalogue renders the scenario registry (pkg/scenarios) as
// terraform/scenarios.json, the one file Terraform, the models and the docs
// read the scenario names, slugs, phases and docs from. `go generate
// ./internal/catalogue` rewrites it; TestScenariosJSONIsFresh fails when it
// is stale.
package catalogue

//go:generate go run ./gen -out ../../terraform/scenarios.json

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Scenario is one entry of scenarios.json.
type Scenario struct {
	Name   string   `json:"name"`   // CANARY_SCENARIO value, resource.label.job of its metrics
	Slug   string   `json:"slug"`   // lowercase-hyphen form for Cloud Run and Scheduler names
	Doc    string   `json:"doc"`    // one line
	Phases []string `json:"phases"` // phase label values, in order
}

// File is the whole of scenarios.json.
type File struct {
	Comment   string     `json:"_comment"`
	Scenarios []Scenario `json:"scenarios"`
}

var upper = regexp.MustCompile(`([A-Z])`)

// Slug is name in lowercase with a hyphen before each former capital:
// submitAndDescribe -> submit-and-describe.
func Slug(name string) string {
	return strings.ToLower(upper.ReplaceAllString(name, "-$1"))
}

// Build is the catalogue of every registered scenario, in registry order.
func Build() File {
	f := File{Comment: "Generated from pkg/scenarios by `go generate ./internal/catalogue`; do not edit."}
	for _, s := range scenarios.All() {
		f.Scenarios = append(f.Scenarios, Scenario{Name: s.Name, Slug: Slug(s.Name), Doc: s.Doc, Phases: s.Phases})
	}
	return f
}

// Render is Build as the bytes of scenarios.json.
func Render() ([]byte, error) {
	b, err := json.MarshalIndent(Build(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding scenarios.json: %w", err)
	}
	return append(b, '\n'), nil
}
