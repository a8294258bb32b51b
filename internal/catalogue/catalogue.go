// Package catalogue renders the scenario registry (pkg/scenarios) as
// terraform/scenarios.json, the one file Terraform and the models read the
// scenario names, slugs, phases and docs and the error classes' runbooks from, and as the phases table of
// docs/metrics.md; and the metric catalogue (pkg/metrics) as
// terraform/metrics.json. `go generate ./internal/catalogue` rewrites them;
// the Fresh tests fail when one is stale.
package catalogue

//go:generate go run ./gen -scenarios ../../terraform/scenarios.json -metrics ../../terraform/metrics.json -docs ../../docs/metrics.md

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Scenario is one entry of scenarios.json.
type Scenario struct {
	Name   string   `json:"name"`   // CANARY_SCENARIO value, resource.label.job of its metrics
	Slug   string   `json:"slug"`   // lowercase-hyphen form for Cloud Run and Scheduler names
	Doc    string   `json:"doc"`    // one line
	Phases []string `json:"phases"` // phase label values, in order
}

// Class is one error class of scenarios.json with its runbook line.
type Class struct {
	Name    string `json:"name"`    // the error_class label value
	Runbook string `json:"runbook"` // who must act and where to look first
}

// File is the whole of scenarios.json.
type File struct {
	Comment   string     `json:"_comment"`
	Scenarios []Scenario `json:"scenarios"`
	Classes   []Class    `json:"classes"`
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
		f.Scenarios = append(f.Scenarios, Scenario{Name: s.Name, Slug: Slug(s.Name), Doc: s.Doc, Phases: s.AllPhases()})
	}
	for _, c := range scenarios.Classes {
		f.Classes = append(f.Classes, Class{Name: string(c), Runbook: c.Runbook()})
	}
	return f
}

// Render is Build as the bytes of scenarios.json.
func Render() ([]byte, error) { return encode("scenarios.json", Build()) }

// RenderMetrics is the bytes of metrics.json: metrics.Catalogue().
func RenderMetrics() ([]byte, error) { return encode("metrics.json", metrics.Catalogue()) }

func encode(name string, v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", name, err)
	}
	return append(b, '\n'), nil
}

// Markers of the generated phases table in docs/metrics.md.
const (
	TableBegin = "<!-- phases:begin (go generate ./internal/catalogue) -->\n"
	TableEnd   = "<!-- phases:end -->"
)

// PhasesTable is the markdown table of every scenario's phases, in order.
func PhasesTable() string {
	var b strings.Builder
	b.WriteString("| scenario | phases |\n|---|---|\n")
	for _, s := range Build().Scenarios {
		b.WriteString("| `" + s.Name + "` | `" + strings.Join(s.Phases, "`, `") + "` |\n")
	}
	return b.String()
}

// WithPhasesTable returns doc with the text between its markers replaced
// by PhasesTable.
func WithPhasesTable(doc []byte) ([]byte, error) {
	s := string(doc)
	i, j := strings.Index(s, TableBegin), strings.Index(s, TableEnd)
	if i < 0 || j < i {
		return nil, fmt.Errorf("no %q ... %q markers", strings.TrimSpace(TableBegin), TableEnd)
	}
	return []byte(s[:i+len(TableBegin)] + PhasesTable() + s[j:]), nil
}
