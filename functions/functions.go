// Package functions serves every canary scenario as an HTTP function
// (functions-framework-go), registered under the scenario's own name: a
// request runs that scenario once, records it like the job does, and
// answers the result as JSON:
//
//	200  the scenario passed and was recorded
//	503  the scenario failed (and was recorded): the probed network is unwell
//	500  the result could not be recorded, or the configuration is bad: the canary is unwell
//	405  a method other than GET or POST
//
// Configuration comes from the environment as for the job (see DESIGN.md);
// CANARY_SCENARIO is not used, the function's name says which scenario runs.
package functions

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/pkg/canary"
	"github.com/bacalhau-project/bacalhau-canary/pkg/config"
	"github.com/bacalhau-project/bacalhau-canary/pkg/logging"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

var server = NewServer(envconfig.OsLookuper(), os.Stdout)

func init() {
	for _, s := range scenarios.All() {
		functions.HTTP(s.Name, server.Handler(s.Name))
	}
}

// Server runs scenarios for HTTP requests with one configuration, loaded
// on the first request.
type Server struct {
	env    envconfig.Lookuper
	stdout io.Writer
	log    *slog.Logger

	once   sync.Once
	canary *canary.Canary
	err    error
}

// NewServer reads its configuration from env and logs to stdout.
func NewServer(env envconfig.Lookuper, stdout io.Writer) *Server {
	return &Server{env: env, stdout: stdout, log: logging.New(stdout)}
}

func (s *Server) setup() (*canary.Canary, error) {
	s.once.Do(func() {
		ctx := context.Background()
		cfg, err := config.Load(ctx, s.env)
		if err == nil {
			cfg.Scenario = "" // the function's name decides
			err = cfg.Validate(true)
		}
		if err != nil {
			s.err = err
			return
		}
		s.canary = canary.New(cfg, canary.Options{
			DefaultEngine: scenarios.EngineDocker,
			DefaultSink:   metrics.KindGCP,
			Log:           s.log,
			Stdout:        s.stdout,
		})
	})
	return s.canary, s.err
}

// Response is the JSON answer: the run's result, and whether it was recorded.
type Response struct {
	Scenario             string             `json:"scenario"`
	Env                  string             `json:"env"`
	Success              bool               `json:"success"`
	ErrorClass           string             `json:"error_class,omitempty"`
	Error                string             `json:"error,omitempty"`
	JobID                string             `json:"job_id,omitempty"`
	JobStopped           bool               `json:"job_stopped,omitempty"`
	Start                time.Time          `json:"start"`
	DurationSeconds      float64            `json:"duration_seconds"`
	PhaseDurationSeconds map[string]float64 `json:"phase_duration_seconds"`
	Recorded             bool               `json:"recorded"`
	RecordError          string             `json:"record_error,omitempty"`
}

// ErrorResponse answers a request the canary could not run.
type ErrorResponse struct {
	Error string `json:"error"`
}

// Handler runs the named scenario once per request.
func (s *Server) Handler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			reply(w, http.StatusMethodNotAllowed, ErrorResponse{Error: "use GET or POST"})
			return
		}
		sc, ok := scenarios.Lookup(name)
		if !ok {
			reply(w, http.StatusNotFound, ErrorResponse{Error: "no scenario " + name})
			return
		}
		c, err := s.setup()
		if err != nil {
			s.log.Error("configuration error", slog.String("scenario", name), slog.String("reason", err.Error()))
			reply(w, http.StatusInternalServerError, ErrorResponse{Error: err.Error()})
			return
		}
		// The run and its write outlive a caller that hangs up; both are
		// bounded (CANARY_TIMEOUT, the sink's write budget).
		res, recErr := c.Run(context.WithoutCancel(r.Context()), sc)
		resp := response(res)
		status := http.StatusOK
		switch {
		case recErr != nil:
			resp.RecordError = recErr.Error()
			status = http.StatusInternalServerError
			s.log.Error("result not recorded",
				slog.String("scenario", res.Scenario), slog.String("env", res.Env),
				slog.Bool("success", res.Success), slog.String("reason", recErr.Error()))
		case !res.Success:
			status = http.StatusServiceUnavailable
		}
		resp.Recorded = recErr == nil
		reply(w, status, resp)
	}
}

func response(r scenarios.Result) Response {
	phases := make(map[string]float64, len(r.Phases))
	for _, p := range r.Phases {
		phases[p.Name] = p.Duration.Seconds()
	}
	return Response{
		Scenario:             r.Scenario,
		Env:                  r.Env,
		Success:              r.Success,
		ErrorClass:           string(r.Class),
		Error:                r.Error,
		JobID:                r.JobID,
		JobStopped:           r.Stopped,
		Start:                r.Start,
		DurationSeconds:      r.Duration.Seconds(),
		PhaseDurationSeconds: phases,
	}
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
