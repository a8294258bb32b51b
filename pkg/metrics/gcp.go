package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/googleapis/gax-go/v2"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	monitoredrespb "google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bacalhau-project/bacalhau-canary/pkg/gcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Write budget of the gcp sink: a hung Monitoring API must not hang the job.
const (
	DefaultWriteTimeout = 30 * time.Second // all attempts together
	attemptTimeout      = 10 * time.Second // one CreateTimeSeries call
	DefaultAttempts     = 4
	DefaultBackoff      = 500 * time.Millisecond // before the 2nd attempt; doubles
	maxBackoff          = 4 * time.Second
)

// GCPOptions configure the gcp sink.
type GCPOptions struct {
	Project  string
	Location string
	Endpoint string // plaintext, unauthenticated endpoint (emulators, tests); empty: the real API
	Log      *slog.Logger
	Interval time.Duration // schedule interval: stamp points on the run's slot (slot.go); 0: on its end
}

// GCP writes each run as ONE CreateTimeSeries request to Cloud Monitoring.
type GCP struct {
	Project  string
	Location string
	Log      *slog.Logger // nil: no summary lines
	// Interval is the schedule interval (CANARY_SCHEDULE_INTERVAL): points
	// are stamped on the run's slot (see slot.go). Zero: on the run's end.
	Interval time.Duration

	// Retry budget; zero values take the defaults above.
	WriteTimeout time.Duration
	Attempts     int
	Backoff      time.Duration

	client timeSeriesWriter
	closer func() error
}

// timeSeriesWriter is the part of the Monitoring client the sink uses.
type timeSeriesWriter interface {
	CreateTimeSeries(ctx context.Context, req *monitoringpb.CreateTimeSeriesRequest, opts ...gax.CallOption) error
}

var _ Sink = (*GCP)(nil)

// NewGCP creates the Monitoring client. It does not connect yet.
func NewGCP(ctx context.Context, o GCPOptions) (*GCP, error) {
	if o.Project == "" {
		return nil, ErrNoProject
	}
	if o.Location == "" {
		o.Location = DefaultLocation
	}
	client, err := monitoring.NewMetricClient(ctx, gcp.ClientOptions(o.Endpoint)...)
	if err != nil {
		return nil, fmt.Errorf("monitoring client: %w", err)
	}
	return &GCP{Project: o.Project, Location: o.Location, Log: o.Log, Interval: o.Interval, client: client, closer: client.Close}, nil
}

// Close closes the client.
func (g *GCP) Close() error {
	if g.closer == nil {
		return nil
	}
	return g.closer()
}

// Request is the CreateTimeSeries request for r: every point of the run,
// each a GAUGE with start = end = Stamp (the run's slot, or its end without
// an interval), against the scenario's generic_task.
func (g *GCP) Request(r scenarios.Result) *monitoringpb.CreateTimeSeriesRequest {
	stamp := Stamp(r, g.Interval)
	at := timestamppb.New(stamp)
	resource := &monitoredrespb.MonitoredResource{
		Type:   ResourceType,
		Labels: ResourceLabels(g.Project, g.Location, r.Scenario),
	}
	pts := Points(r, stamp)
	series := make([]*monitoringpb.TimeSeries, 0, len(pts))
	for _, p := range pts {
		v := &monitoringpb.TypedValue{}
		vt := metricpb.MetricDescriptor_DOUBLE
		if p.ValueType == TypeInt64 {
			v.Value = &monitoringpb.TypedValue_Int64Value{Int64Value: p.Int64}
			vt = metricpb.MetricDescriptor_INT64
		} else {
			v.Value = &monitoringpb.TypedValue_DoubleValue{DoubleValue: p.Double}
		}
		series = append(series, &monitoringpb.TimeSeries{
			Metric:     &metricpb.Metric{Type: p.Type(), Labels: p.Labels},
			Resource:   resource,
			MetricKind: metricpb.MetricDescriptor_GAUGE,
			ValueType:  vt,
			Points: []*monitoringpb.Point{{
				Interval: &monitoringpb.TimeInterval{StartTime: at, EndTime: at},
				Value:    v,
			}},
		})
	}
	return &monitoringpb.CreateTimeSeriesRequest{Name: "projects/" + g.Project, TimeSeries: series}
}

// Record writes r in one request, retrying only when the API was
// unavailable or did not answer in time, within WriteTimeout overall. The
// write outlives a cancelled ctx (a run interrupted is still recorded) but
// never its budget. With an interval, a write refused only because the
// run's slot (or a newer one) already holds a point is logged and is not an
// error: the run is not in the alert window (see slot.go).
func (g *GCP) Record(ctx context.Context, r scenarios.Result) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orDefault(g.WriteTimeout, DefaultWriteTimeout))
	defer cancel()
	req := g.Request(r)
	attempts := g.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	delay := orDefault(g.Backoff, DefaultBackoff)
	var err error
	for attempt := 1; ; attempt++ {
		err = g.write(ctx, req)
		if err == nil {
			return nil
		}
		if !retryable(err) || attempt >= attempts || ctx.Err() != nil {
			break
		}
		wait := delay/2 + rand.N(delay/2+1) // jitter: [delay/2, delay]
		delay = min(2*delay, maxBackoff)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	if g.Interval > 0 && slotTaken(err) {
		g.logNotInWindow(r, err)
		return nil
	}
	g.logSummary(r, req, err)
	return &WriteError{Project: g.Project, Series: len(req.TimeSeries), Err: err}
}

func (g *GCP) write(ctx context.Context, req *monitoringpb.CreateTimeSeriesRequest) error {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	return g.client.CreateTimeSeries(ctx, req)
}

func retryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// WriteError is a run that could not be written to Cloud Monitoring.
type WriteError struct {
	Project string
	Series  int
	Err     error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("writing %d time series to Cloud Monitoring (project %s): %s", e.Series, e.Project, describe(e.Err))
}

func (e *WriteError) Unwrap() error { return e.Err }

// describe is the status code and the server's message, without the
// "rpc error:" prefix, the message bounded and quoted (it is Monitoring's
// text, for a log line and the local runner's terminal).
func describe(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Code().String() + ": " + scenarios.Quote(st.Message(), maxMessageText)
	}
	return scenarios.Quote(err.Error(), maxMessageText)
}

// At most maxSummaryErrors of a write's per-series errors, each message
// at most maxMessageText bytes, go into its log line (a request has up to
// 200 series, and Monitoring's messages have no bound).
const (
	maxSummaryErrors = 10
	maxMessageText   = 512
)

// Summary returns the per-series summary Cloud Monitoring attaches to a
// write it rejected in part or whole.
func Summary(err error) *monitoringpb.CreateTimeSeriesSummary {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if s, ok := d.(*monitoringpb.CreateTimeSeriesSummary); ok {
			return s
		}
	}
	return nil
}

// logNotInWindow notes a run whose slot was already recorded.
func (g *GCP) logNotInWindow(r scenarios.Result, err error) {
	if g.Log == nil {
		return
	}
	slot := Slot(r.Start, g.Interval)
	g.Log.LogAttrs(context.Background(), slog.LevelWarn, "run not in the alert window: its slot or a newer one was already recorded",
		slog.String("scenario", r.Scenario),
		slog.String("env", r.Env),
		slog.Time("slot", slot),
		slog.Float64("start_after_slot_seconds", r.Start.Sub(slot).Seconds()),
		slog.Float64("interval_seconds", g.Interval.Seconds()),
		slog.Int("success_point_count", int(Summary(err).GetSuccessPointCount())),
		slog.String("error", describe(err)),
	)
}

// logSummary logs the server's per-series summary of a failed write: how
// many points it took, and why it refused the others.
func (g *GCP) logSummary(r scenarios.Result, req *monitoringpb.CreateTimeSeriesRequest, err error) {
	s := Summary(err)
	if g.Log == nil || s == nil {
		return
	}
	errs := make([]any, 0, min(len(s.GetErrors()), maxSummaryErrors))
	for i, e := range s.GetErrors() {
		if i == maxSummaryErrors {
			break
		}
		errs = append(errs, slog.Group(fmt.Sprint(i),
			slog.String("code", codes.Code(e.GetStatus().GetCode()).String()),
			slog.String("message", scenarios.Clip(e.GetStatus().GetMessage(), maxMessageText)),
			slog.Int("point_count", int(e.GetPointCount())),
		))
	}
	msg := "metric write partly failed"
	if s.GetSuccessPointCount() == 0 {
		msg = "metric write failed"
	}
	g.Log.LogAttrs(context.Background(), slog.LevelError, msg,
		slog.String("scenario", r.Scenario),
		slog.String("env", r.Env),
		slog.String("project", g.Project),
		slog.Int("time_series", len(req.TimeSeries)),
		slog.Int("total_point_count", int(s.GetTotalPointCount())),
		slog.Int("success_point_count", int(s.GetSuccessPointCount())),
		slog.Int("error_count", len(s.GetErrors())),
		slog.Group("errors", errs...),
		slog.String("error", describe(err)),
	)
}
