package scenarios

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	dockermodels "github.com/bacalhau-project/bacalhau/pkg/executor/docker/models"
	wasmmodels "github.com/bacalhau-project/bacalhau/pkg/executor/wasm/models"
	"github.com/bacalhau-project/bacalhau/pkg/models"
)

// Engines the canary job can run on.
const (
	EngineDocker = "docker"
	EngineWasm   = "wasm"
)

// Labels on every job the canary submits. Bacalhau's CLI hides jobs
// labelled bacalhau_canary=true from `job list` by default.
const (
	LabelCanary   = "bacalhau_canary"
	LabelScenario = "canary_scenario"
	LabelEnv      = "canary_env"
	LabelRun      = "canary_run" // unique per run: finds the job of a submit whose reply was lost
)

// PublisherLocal is the default publisher of the canary job: the compute
// node serves the result over HTTP. Stock Bacalhau v1.7 nodes have no
// default publisher, and submitAndGet needs one.
const PublisherLocal = "local"

// DefaultText is what the canary job prints.
const DefaultText = "Hello from the Bacalhau canary\n"

// canaryWasm is the wasm flavour of the job: a WASI module that prints
// DefaultText and exits 0, written by internal/wasi (a test fails when it
// is stale). The generator imports this package, so the file must exist
// to regenerate it; an empty one will do.
//
//go:generate go run ../../internal/wasi/gen -o canary.wasm
//go:embed canary.wasm
var canaryWasm []byte

// DockerImage runs the docker flavour of the job.
const DockerImage = "busybox:1.36.1"

const wasmTarget = "/canary/main.wasm"

// JobSpec describes the canary job, which prints DefaultText.
type JobSpec struct {
	Engine    string // EngineDocker or EngineWasm
	Selectors []*models.LabelSelectorRequirement
	Publisher string // publisher type of the job's results; "" leaves it to the network's job defaults
}

// Build returns the job to submit for scenario, with count executions and
// a task timeout below the run's deadline, so a job the canary could not
// stop still ends by itself soon after.
func (s JobSpec) Build(scenario, env, runID string, count int, deadline time.Duration) (*models.Job, error) {
	timeout := max(int64(deadline.Seconds()*0.9), 1)
	task := &models.Task{
		Name:     "canary",
		Timeouts: &models.TimeoutConfig{ExecutionTimeout: timeout, TotalTimeout: timeout},
	}
	if s.Publisher != "" {
		task.Publisher = &models.SpecConfig{Type: s.Publisher}
	}
	var err error
	switch s.Engine {
	case EngineDocker:
		task.Engine, err = dockermodels.NewDockerEngineBuilder(DockerImage).WithEntrypoint("printf", "%s", DefaultText).Build()
	case EngineWasm:
		task.Engine, err = wasmmodels.NewWasmEngineBuilder(wasmTarget).WithEntrypoint("_start").Build()
		task.InputSources = []*models.InputSource{{
			Source: &models.SpecConfig{
				Type:   models.StorageSourceInline,
				Params: map[string]any{"URL": "data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(canaryWasm)},
			},
			Target: wasmTarget,
		}}
	default:
		return nil, fmt.Errorf("unknown engine %q (want %s or %s)", s.Engine, EngineDocker, EngineWasm)
	}
	if err != nil {
		return nil, fmt.Errorf("building %s engine spec: %w", s.Engine, err)
	}
	return &models.Job{
		Type:  models.JobTypeBatch,
		Count: count,
		Labels: map[string]string{
			LabelCanary:   "true",
			LabelScenario: scenario,
			LabelEnv:      env,
			LabelRun:      runID,
		},
		Constraints: s.Selectors,
		Tasks:       []*models.Task{task},
	}, nil
}

// newRunID returns a run's unique label value (16 hex digits).
func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
