package scenarios_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	dockermodels "github.com/bacalhau-project/bacalhau/pkg/executor/docker/models"
	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/internal/model"
	"github.com/bacalhau-project/bacalhau-canary/pkg/config"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Prod runs the docker flavour of the canary job (no Docker engine runs
// here): the job built from prod's planned job environment (tofu's JSON
// plan, summarised in internal/model/testdata/plans.json) passes Bacalhau's
// own submission checks and docker spec decoding, for every scenario, with
// the publisher prod sets and with the network's default one.
func TestProdJobSpecPassesBacalhauValidation(t *testing.T) {
	t.Parallel()
	plans, err := model.Plans()
	if err != nil {
		t.Fatal(err)
	}
	for scenario, vars := range plans["prod"].JobEnv {
		for _, pub := range []string{vars["CANARY_PUBLISHER"], config.PublisherNetworkDefault} {
			env := maps.Clone(vars)
			env["CANARY_PUBLISHER"] = pub
			c, err := config.Load(t.Context(), envconfig.MapLookuper(env))
			if err == nil {
				err = c.Validate(true)
			}
			if err != nil {
				t.Fatalf("prod's %s job: %v", scenario, err)
			}
			if c.Engine != scenarios.EngineDocker {
				t.Fatalf("prod engine %q: this test covers the docker job", c.Engine)
			}
			spec := c.JobSpec(scenarios.EngineWasm)
			for _, s := range scenarios.All() {
				for _, count := range []int{1, 3} {
					job, err := spec.Build(s.Name, "prod", "prod-check", count, c.Timeout)
					if err != nil {
						t.Fatalf("publisher %q, %s: %v", pub, s.Name, err)
					}
					checkProdJob(t, job, c.Publisher, c.NodeSelectors)
				}
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
