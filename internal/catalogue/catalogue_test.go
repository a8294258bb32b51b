package catalogue

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

func TestGeneratedFilesAreFresh(t *testing.T) {
	t.Parallel()
	for path, render := range map[string]func() ([]byte, error){
		"../../terraform/scenarios.json": Render,
		"../../terraform/metrics.json":   RenderMetrics,
	} {
		want, err := render()
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.FromSlash(path))
		if err != nil {
			t.Fatalf("%v (run go generate ./internal/catalogue)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./internal/catalogue", path)
		}
	}
}

func TestPhasesTableIsFresh(t *testing.T) {
	t.Parallel()
	got, err := os.ReadFile(filepath.FromSlash("../../docs/metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := WithPhasesTable(got)
	if err != nil {
		t.Fatalf("docs/metrics.md: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/metrics.md's phases table is stale: run go generate ./internal/catalogue")
	}
	if _, err := WithPhasesTable([]byte("no markers")); err == nil {
		t.Errorf("a file without markers got a table")
	}
}

func TestCatalogueCoversTheRegistry(t *testing.T) {
	t.Parallel()
	var f File
	b, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var names []string
	slugs := map[string]bool{}
	for _, s := range f.Scenarios {
		names = append(names, s.Name)
		if len(s.Phases) == 0 || s.Doc == "" {
			t.Errorf("%s: no phases or no doc", s.Name)
		}
		if slugs[s.Slug] {
			t.Errorf("%s: slug %q is taken", s.Name, s.Slug)
		}
		slugs[s.Slug] = true
	}
	// CausesTable's rows are codes: a class's and a phase's code is its
	// position plus one.
	for i, c := range f.Classes {
		if c.Code != int64(i+1) {
			t.Errorf("class %s has code %d at position %d", c.Name, c.Code, i)
		}
	}
	for i, p := range f.CausePhases {
		if p.Code != int64(i+1) {
			t.Errorf("phase %s has code %d at position %d", p.Name, p.Code, i)
		}
	}
	if !slices.Equal(names, scenarios.Names()) {
		t.Errorf("catalogue %v, registry %v", names, scenarios.Names())
	}
}

func TestSlug(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"list": "list", "submitAndDescribe": "submit-and-describe", "submitWithConcurrency": "submit-with-concurrency"} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}
