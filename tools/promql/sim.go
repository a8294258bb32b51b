package promqlcheck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// A script says what happens in each schedule slot of a scenario, one
// letter per slot, from the simulation's start.
const (
	Pass    = 'P' // the run passes
	Fail    = 'F' // the run fails (a network error class)
	Canary  = 'C' // the run fails for the canary's own reasons (class canary)
	Missing = '-' // no run: the scheduler or Cloud Run did not start one
	// LateEnd fails in a run that starts in its slot and records 1 s after
	// the next slot began, before the next slot's run records.
	LateEnd = 'L'
	// Overtaken fails in a run that records after the next slot's run has
	// recorded: Monitoring refuses its points (older than the newest).
	Overtaken = 'O'
	// LateStart fails in a run that starts 1 s after its slot ended: its
	// points are stamped on the next slot, ahead of that slot's own run,
	// whose points are then refused.
	LateStart = 'D'
	// Same fails the same way every time: a timeout in the scenario's last
	// phase (a Fail's class and phase vary with its slot).
	Same = 'T'
	// Unlabelled fails as a Fail, written by an image older than
	// failed_run and failure_cause: its request has neither series.
	Unlabelled = 'U'
)

// failClasses are the network error classes a Fail cycles through.
var failClasses = []scenarios.Class{
	scenarios.ErrUnavailable, scenarios.ErrTimeout, scenarios.ErrAuth, scenarios.ErrBadRequest, scenarios.ErrServer,
	scenarios.ErrProtocol, scenarios.ErrPublisher, scenarios.ErrJobFailed, scenarios.ErrOutputMismatch, scenarios.ErrConcurrency,
}

// A normal run starts 2-10 s into its slot and takes 0.5 s to a third of
// the timeout, so an Overtaken run (ending timeout-1s after the next slot
// began) records after the next normal run when the timeout is above
// minTimeout.
const (
	minDelay   = 2 * time.Second
	maxDelay   = 10 * time.Second
	minTimeout = 18 * time.Second
)

// Write is one run's CreateTimeSeries request, made when the run ended.
type Write struct {
	Wall    time.Time
	Result  scenarios.Result
	Request *monitoringpb.CreateTimeSeriesRequest
}

// Runs are the writes of a scenario's script from t0 (a slot start), each
// request built by the canary's own sink code (metrics.GCP.Request: points
// from metrics.Points, stamped with metrics.Stamp on the plan's interval).
func Runs(e Env, sc Scenario, t0 time.Time, script string, rng *rand.Rand) ([]Write, error) {
	if !metrics.Slot(t0, sc.Interval).Equal(t0) {
		return nil, fmt.Errorf("start %s is not a slot of %s", t0, sc.Interval)
	}
	if sc.Timeout < minTimeout || sc.Timeout >= sc.Interval {
		return nil, fmt.Errorf("%s: timeout %s outside the scripts' range [%s, %s)", sc.Name, sc.Timeout, minTimeout, sc.Interval)
	}
	def, ok := scenarios.Lookup(sc.Name)
	if !ok {
		return nil, fmt.Errorf("plan deploys %q, which is not a scenario of the canary", sc.Name)
	}
	sink := &metrics.GCP{Project: e.Project, Location: e.Location, Interval: sc.Interval}
	var out []Write
	for i, c := range script {
		slot := t0.Add(time.Duration(i) * sc.Interval)
		var start time.Time
		var took time.Duration
		switch c {
		case Missing:
			continue
		case Pass, Fail, Canary, Same, Unlabelled:
			start = slot.Add(minDelay + time.Duration(rng.Int64N(int64(maxDelay-minDelay)+1)))
			took = 500*time.Millisecond + time.Duration(rng.Int64N(int64(sc.Timeout/3)))
		case LateEnd:
			start, took = slot.Add(sc.Interval+time.Second-sc.Timeout), sc.Timeout
		case Overtaken:
			start, took = slot.Add(sc.Interval-time.Second), sc.Timeout
		case LateStart:
			start, took = slot.Add(sc.Interval+time.Second), 500*time.Millisecond
		default:
			return nil, fmt.Errorf("script %q: unknown slot %q", script, c)
		}
		r := result(def, e.Name, c, i, start, took)
		req := sink.Request(r)
		if c == Unlabelled {
			req.TimeSeries = slices.DeleteFunc(req.TimeSeries, func(ts *monitoringpb.TimeSeries) bool {
				t := ts.GetMetric().GetType()
				return t == metrics.Prefix+metrics.FailedRun || t == metrics.Prefix+metrics.FailureCause
			})
		}
		out = append(out, Write{Wall: start.Add(took), Result: r, Request: req})
	}
	return out, nil
}

// result is the runner's result of one scripted run: every phase listed,
// the runner's connect phase first, a failed run failing in one of them
// (which one varies with the slot).
func result(def scenarios.Scenario, env string, c rune, i int, start time.Time, took time.Duration) scenarios.Result {
	r := scenarios.Result{
		Scenario: def.Name, Env: env, Success: c == Pass, Start: start, Duration: took,
		RunID: fmt.Sprintf("run-%d", i), ServerVersion: "v1.9.3", Endpoint: "https://bacalhau.example:1234",
	}
	phases := def.AllPhases()
	failAt := len(phases)
	if !r.Success {
		failAt = i % len(phases)
		r.FailedPhase = phases[failAt]
		r.Class = failClasses[i%len(failClasses)]
		switch c {
		case Canary:
			r.Class = scenarios.ErrCanary
		case Same:
			failAt = len(phases) - 1
			r.Class, r.FailedPhase = scenarios.ErrTimeout, phases[failAt]
		}
		r.Error = "scripted failure: " + string(r.Class)
	}
	for j, name := range phases {
		ph := scenarios.Phase{Name: name}
		if j <= failAt {
			ph.Reached, ph.Duration = true, took/time.Duration(len(phases))
		}
		r.Phases = append(r.Phases, ph)
	}
	return r
}

// Sim replays writes into a store in wall-time order and evaluates PromQL
// at given times on what has been written by then.
type Sim struct {
	Store  *Store
	engine *promql.Engine
	writes []Write
	next   int
}

// NewEngine is the Prometheus 3 engine with its default parser (quoted
// UTF-8 metric names).
func NewEngine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{
		MaxSamples: 10_000_000,
		Timeout:    time.Minute,
		Parser:     parser.NewParser(parser.Options{}),
	})
}

// NewSim replays writes (in any order) into store.
func NewSim(engine *promql.Engine, store *Store, writes []Write) *Sim {
	w := slices.Clone(writes)
	slices.SortStableFunc(w, func(a, b Write) int { return a.Wall.Compare(b.Wall) })
	return &Sim{Store: store, engine: engine, writes: w}
}

// Eval is the query's instant vector at t, once every write made at or
// before t has reached the store.
func (s *Sim) Eval(ctx context.Context, query string, t time.Time) (promql.Vector, error) {
	for ; s.next < len(s.writes) && !s.writes[s.next].Wall.After(t); s.next++ {
		if err := s.Store.Write(ctx, s.writes[s.next].Wall, s.writes[s.next].Request); err != nil {
			return nil, err
		}
	}
	q, err := s.engine.NewInstantQuery(ctx, s.Store.Queryable(), nil, query, t)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("evaluating at %s: %w", t, res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		return nil, fmt.Errorf("at %s: %w", t, err)
	}
	return v, nil
}
