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

const path = "../../terraform/scenarios.json"

func TestScenariosJSONIsFresh(t *testing.T) {
	t.Parallel()
	want, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatalf("%v (run go generate ./internal/catalogue)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("terraform/scenarios.json is stale: run go generate ./internal/catalogue")
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
