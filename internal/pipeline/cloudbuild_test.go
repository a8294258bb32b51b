// Package pipeline checks the deploy pipeline (cloudbuild.yaml): that it is
// gated in the right order, that its images are pinned by digest and that
// one Terraform tool both tests and deploys.
package pipeline

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type build struct {
	Substitutions map[string]string `yaml:"substitutions"`
	Options       struct {
		Env []string `yaml:"env"`
	} `yaml:"options"`
	Steps   []step `yaml:"steps"`
	Timeout string `yaml:"timeout"`
}

type step struct {
	ID         string   `yaml:"id"`
	Name       string   `yaml:"name"`
	Entrypoint string   `yaml:"entrypoint"`
	Args       []string `yaml:"args"`
	Env        []string `yaml:"env"`
}

func load(t *testing.T) build {
	t.Helper()
	raw, err := os.ReadFile("../../cloudbuild.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b build
	if err := yaml.Unmarshal(raw, &b); err != nil {
		t.Fatalf("cloudbuild.yaml: %v", err)
	}
	if len(b.Steps) == 0 {
		t.Fatal("cloudbuild.yaml has no steps")
	}
	return b
}

var substitution = regexp.MustCompile(`\$\{(_[A-Z0-9_]+)\}`)

// image is a step's image with the build's substitutions applied.
func (b build) image(s step) string {
	return substitution.ReplaceAllStringFunc(s.Name, func(m string) string {
		return b.Substitutions[substitution.FindStringSubmatch(m)[1]]
	})
}

// command is what a step runs, entrypoint and arguments in one string.
func (s step) command() string { return strings.Join(append([]string{s.Entrypoint}, s.Args...), " ") }

var pinned = regexp.MustCompile(`^[a-z0-9.-]+(/[a-z0-9._-]+)*(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$`)

func TestImagesPinnedByDigest(t *testing.T) {
	t.Parallel()
	b := load(t)
	for _, s := range b.Steps {
		if img := b.image(s); !pinned.MatchString(img) {
			t.Errorf("step %s runs image %q, want one pinned by digest (name[:tag]@sha256:<64 hex>)", s.ID, img)
		}
	}
}

func TestPipelineOrder(t *testing.T) {
	t.Parallel()
	b := load(t)
	index := map[string]int{}
	for i, s := range b.Steps {
		if s.ID == "" {
			t.Errorf("step %d has no id", i)
		}
		if _, dup := index[s.ID]; dup {
			t.Errorf("step id %s used twice", s.ID)
		}
		index[s.ID] = i
	}
	// Each pair: the first must run before the second.
	before := [][2]string{
		{"go-test", "image-build"},
		{"go-lint", "image-build"},
		{"tf-validate", "tf-plan"},
		{"tf-test", "tf-plan"},
		{"image-digest", "tf-plan"},
		{"image-digest", "gate"},
		{"tf-plan", "gate"},
		{"gate", "tf-apply"},
	}
	for _, p := range before {
		i, ok1 := index[p[0]]
		j, ok2 := index[p[1]]
		switch {
		case !ok1 || !ok2:
			t.Errorf("pipeline lacks step %s or %s", p[0], p[1])
		case i >= j:
			t.Errorf("step %s runs after %s; the gate needs it before", p[0], p[1])
		}
	}
	if last := b.Steps[len(b.Steps)-1].ID; last != "tf-apply" {
		t.Errorf("last step is %s, want tf-apply: nothing may run after the deploy", last)
	}
}

func TestGates(t *testing.T) {
	t.Parallel()
	b := load(t)
	byID := map[string]step{}
	for _, s := range b.Steps {
		byID[s.ID] = s
		if strings.Contains(s.command(), "-short") {
			t.Errorf("step %s runs short tests (%q): the gate runs every test, devnets included", s.ID, s.command())
		}
		if strings.Contains(s.command(), "-auto-approve") {
			t.Errorf("step %s applies with -auto-approve: apply the checked plan file instead", s.ID)
		}
	}
	if got := byID["go-test"].command(); got != "make test" {
		t.Errorf("go-test runs %q, want the README's test command `make test`", got)
	}
	apply := byID["tf-apply"]
	if !slices.Equal(apply.Args, []string{"apply", "/workspace/deploy.tfplan"}) {
		t.Errorf("tf-apply runs %q, want exactly the plan of tf-plan applied", apply.command())
	}
	if plan := byID["tf-plan"].command(); !strings.Contains(plan, "-out=/workspace/deploy.tfplan") || !strings.Contains(plan, "image-ref") {
		t.Errorf("tf-plan does not write /workspace/deploy.tfplan with the pushed image's digest: %q", plan)
	}
	gate := byID["gate"].command()
	for _, want := range []string{"scripts/deploy-gate.sh", "image-ref", "deployed-image", "gate-runs", "gate-sa"} {
		if !strings.Contains(gate, want) {
			t.Errorf("gate step lacks %q: %s", want, gate)
		}
	}
	if plan := byID["tf-plan"].command(); !strings.Contains(plan, "tofu output -raw gate_runs") || !strings.Contains(plan, "tofu output -raw deployed_image") {
		t.Errorf("tf-plan does not read the gate's inputs from the deployed state: %q", plan)
	}
}

// TestTestStepCannotRequireNetns: Cloud Build's steps are unprivileged
// containers without network namespaces; the two-host tests skip there
// (saying so) and must not be made mandatory, or every deploy fails.
func TestTestStepCannotRequireNetns(t *testing.T) {
	t.Parallel()
	b := load(t)
	env := b.Options.Env
	for _, s := range b.Steps {
		env = append(env, s.Env...)
	}
	for _, e := range env {
		if strings.HasPrefix(e, "CANARY_TEST_REQUIRE_NETNS=") {
			t.Errorf("cloudbuild.yaml sets %s: Cloud Build's steps have no network namespaces", e)
		}
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "CANARY_TEST_REQUIRE_NETNS=1") {
		t.Error(".ci/run no longer requires the two-host tests: nothing would run what Cloud Build skips")
	}
}

func TestOneTerraformTool(t *testing.T) {
	t.Parallel()
	b := load(t)
	tofu := b.Substitutions["_TOFU_IMAGE"]
	if tofu == "" {
		t.Fatal("no _TOFU_IMAGE substitution")
	}
	for _, s := range b.Steps {
		if !strings.HasPrefix(s.ID, "tf-") {
			if strings.Contains(s.command(), "terraform ") || strings.Contains(s.command(), "tofu ") {
				t.Errorf("step %s runs Terraform outside the tf- steps", s.ID)
			}
			continue
		}
		if b.image(s) != tofu {
			t.Errorf("step %s runs %q, want the one Terraform tool %q", s.ID, b.image(s), tofu)
		}
	}
	// The offline checks build the same OpenTofu release.
	raw, err := os.ReadFile("../../scripts/build-tofu.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`TOFU_VERSION:-v([0-9.]+)`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("scripts/build-tofu.sh names no default OpenTofu version")
	}
	if !strings.Contains(tofu, "opentofu:"+string(m[1])+"@") {
		t.Errorf("pipeline runs %s, the offline checks OpenTofu %s: one release for both", tofu, m[1])
	}
}
