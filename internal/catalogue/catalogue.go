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
	Code    int64  `json:"code"`    // its code in failure_cause (metrics.ClassCode)
	Runbook string `json:"runbook"` // who must act and where to look first
}

// Phase is one phase's code in failure_cause (metrics.PhaseCode).
type Phase struct {
	Name string `json:"name"`
	Code int64  `json:"code"`
}

// File is the whole of scenarios.json.
type File struct {
	Comment     string     `json:"_comment"`
	Scenarios   []Scenario `json:"scenarios"`
	Classes     []Class    `json:"classes"`
	CausePhases []Phase    `json:"cause_phases"` // failure_cause = class code * 100 + phase code
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
		f.Classes = append(f.Classes, Class{Name: string(c), Code: metrics.ClassCode(c), Runbook: c.Runbook()})
	}
	for _, ph := range metrics.CausePhases {
		f.CausePhases = append(f.CausePhases, Phase{Name: ph, Code: metrics.PhaseCode(ph)})
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

// Markers of the generated tables in docs/metrics.md: every scenario's
// phases, and failure_cause's codes.
const (
	TableBegin  = "<!-- phases:begin (go generate ./internal/catalogue) -->\n"
	TableEnd    = "<!-- phases:end -->"
	CausesBegin = "<!-- causes:begin (go generate ./internal/catalogue) -->\n"
	CausesEnd   = "<!-- causes:end -->"
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

// CausesTable is the markdown table of failure_cause's codes, a row per
// code: the class and the phase it stands for (0: unknown class, no phase).
func CausesTable() string {
	f := Build()
	var b strings.Builder
	b.WriteString("| code | class | phase |\n|---|---|---|\n")
	b.WriteString("| 0 | unknown | none or unknown |\n")
	for i := range max(len(f.Classes), len(f.CausePhases)) {
		cls, ph := "", ""
		if i < len(f.Classes) {
			cls = "`" + f.Classes[i].Name + "`"
		}
		if i < len(f.CausePhases) {
			ph = "`" + f.CausePhases[i].Name + "`"
		}
		fmt.Fprintf(&b, "| %d | %s | %s |\n", i+1, cls, ph)
	}
	return b.String()
}

// WithPhasesTable returns doc with the text between each pair of markers
// replaced by its table: PhasesTable and CausesTable.
func WithPhasesTable(doc []byte) ([]byte, error) {
	s := string(doc)
	for _, t := range []struct{ begin, end, table string }{
		{TableBegin, TableEnd, PhasesTable()},
		{CausesBegin, CausesEnd, CausesTable()},
	} {
		i, j := strings.Index(s, t.begin), strings.Index(s, t.end)
		if i < 0 || j < i {
			return nil, fmt.Errorf("no %q ... %q markers", strings.TrimSpace(t.begin), t.end)
		}
		s = s[:i+len(t.begin)] + t.table + s[j:]
	}
	return []byte(s), nil
}
