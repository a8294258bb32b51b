package scenarios_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dockermodels "github.com/bacalhau-project/bacalhau/pkg/executor/docker/models"
	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/pkg/config"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// prodSettings reads the prod entry of terraform/main.tf's envs map: the
// values the prod jobs get (engine, selectors, API host, timeout, and
// publisher when the plan sets one).
func prodSettings(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile("../../terraform/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\n\s*prod\s*=\s*\{(.*?)\n\s*\}`).FindSubmatch(src)
	if m == nil {
		t.Fatal("terraform/main.tf: no prod = { … } entry")
	}
	out := map[string]string{}
	for _, kv := range regexp.MustCompile(`(?m)^\s*(\w+)\s*=\s*"([^"]*)"`).FindAllSubmatch(m[1], -1) {
		out[string(kv[1])] = string(kv[2])
	}
	for _, k := range []string{"engine", "node_selectors", "bacalhau_api_host", "canary_timeout"} {
		if _, ok := out[k]; !ok {
			t.Fatalf("terraform/main.tf prod: no %s", k)
		}
	}
	return out
}

// Prod runs the docker flavour of the canary job (no Docker engine runs
// here): the job built from prod's own settings passes Bacalhau's own
// submission checks and docker spec decoding, for every scenario.
func TestProdJobSpecPassesBacalhauValidation(t *testing.T) {
	t.Parallel()
	prod := prodSettings(t)
	if prod["engine"] != scenarios.EngineDocker {
		t.Fatalf("prod engine %q: this test covers the docker job", prod["engine"])
	}
	deadline, err := time.ParseDuration(prod["canary_timeout"])
	if err != nil {
		t.Fatal(err)
	}
	// The publisher prod's plan sets, or CANARY_PUBLISHER's default; and the
	// network's default publisher, which prod may choose.
	publishers := []string{prod["publisher"], config.PublisherNetworkDefault}
	for _, pub := range publishers {
		env := map[string]string{
			"CANARY_SCENARIO":       "submit",
			"CANARY_ENV":            "prod",
			"CANARY_ENGINE":         prod["engine"],
			"CANARY_NODE_SELECTORS": prod["node_selectors"],
			"BACALHAU_API_HOST":     prod["bacalhau_api_host"],
		}
		if pub != "" {
			env["CANARY_PUBLISHER"] = pub
		}
		c, err := config.Load(t.Context(), envconfig.MapLookuper(env))
		if err != nil {
			t.Fatal(err)
		}
		spec := c.JobSpec(scenarios.EngineWasm)
		for _, s := range scenarios.All() {
			for _, count := range []int{1, 3} {
				job, err := spec.Build(s.Name, "prod", "prod-check", count, deadline)
				if err != nil {
					t.Fatalf("publisher %q, %s: %v", pub, s.Name, err)
				}
				checkProdJob(t, job, c.Publisher, prod["node_selectors"])
			}
		}
	}
}

func checkProdJob(t *testing.T, job *models.Job, publisher, selectors string) {
	t.Helper()
	job.Normalize()
	if err := job.ValidateSubmission(); err != nil {
		t.Fatalf("ValidateSubmission: %v", err)
	}
	task := job.Task()
	docker, err := dockermodels.DecodeSpec(task.Engine)
	if err != nil {
		t.Fatalf("docker spec: %v", err)
	}
	if docker.Image != scenarios.DockerImage || !strings.Contains(strings.Join(docker.Entrypoint, " "), strings.TrimSpace(scenarios.DefaultText)) {
		t.Errorf("docker spec %+v: want %s printing the canary text", docker, scenarios.DockerImage)
	}
	var got []string
	for _, c := range job.Constraints {
		got = append(got, c.String())
	}
	if want, _ := config.ParseSelectors(selectors); len(want) != len(job.Constraints) || selectors != "" && !strings.Contains(strings.Join(got, ","), strings.Split(selectors, "=")[0]) {
		t.Errorf("constraints %v, want prod's selectors %q", got, selectors)
	}
	switch {
	case publisher == config.PublisherNetworkDefault && task.Publisher != nil && !task.Publisher.IsEmpty():
		t.Errorf("publisher %+v, want none (the network's default)", task.Publisher)
	case publisher != config.PublisherNetworkDefault && (task.Publisher == nil || task.Publisher.Type != publisher):
		t.Errorf("publisher %+v, want %s", task.Publisher, publisher)
	}
}

// The checks above can fail: Bacalhau's own validation refuses what it
// must.
func TestBacalhauValidationRefusesBrokenJobs(t *testing.T) {
	t.Parallel()
	build := func() *models.Job {
		job, err := scenarios.JobSpec{Engine: scenarios.EngineDocker}.Build("submit", "prod", "prod-check", 1, 45*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return job
	}
	noImage := build()
	noImage.Task().Engine.Params["Image"] = ""
	if _, err := dockermodels.DecodeSpec(noImage.Task().Engine); err == nil {
		t.Error("DecodeSpec accepted a docker spec without an image")
	}
	for name, breakIt := range map[string]func(*models.Job){
		"negative count": func(j *models.Job) { j.Count = -1 },
		"no task":        func(j *models.Job) { j.Tasks = nil },
		"unknown type":   func(j *models.Job) { j.Type = "nightly" },
	} {
		job := build()
		breakIt(job)
		job.Normalize()
		if err := job.ValidateSubmission(); err == nil {
			t.Errorf("ValidateSubmission accepted a job with %s", name)
		}
	}
}
