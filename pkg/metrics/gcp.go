package metrics

import (
	"context"
	"fmt"
	"log/slog"
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
	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// The gcp sink's write: a hung Monitoring API must not hang the job.
const (
	writeTimeout   = 30 * time.Second // all attempts together
	attemptTimeout = 10 * time.Second // one CreateTimeSeries call
	WriteAttempts  = 4                // on Unavailable or DeadlineExceeded
)

// writeBackoff pauses at most 0.5 s, 1 s, then 2 s (jittered) between attempts.
var writeBackoff = gax.Backoff{Initial: 500 * time.Millisecond, Max: 4 * time.Second, Multiplier: 2}

// GCP writes each run as ONE CreateTimeSeries request to Cloud Monitoring.
type GCP struct {
	Project  string
	Location string        // defaultLocation when empty
	Log      *slog.Logger  // gets the summary of a failed write; nil: none
	Interval time.Duration // schedule interval: points on the run's slot (slot.go); 0: on its end

	client *monitoring.MetricClient
}

func (g *GCP) Close() error { return g.client.Close() }

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
		v := &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: p.Double}}
		if p.ValueType == TypeInt64 {
			v.Value = &monitoringpb.TypedValue_Int64Value{Int64Value: p.Int64}
		}
		series = append(series, &monitoringpb.TimeSeries{
			Metric:     &metricpb.Metric{Type: Prefix + p.Metric, Labels: p.Labels},
			Resource:   resource,
			MetricKind: metricpb.MetricDescriptor_GAUGE,
			ValueType:  metricpb.MetricDescriptor_ValueType(metricpb.MetricDescriptor_ValueType_value[p.ValueType]),
			Points: []*monitoringpb.Point{{
				Interval: &monitoringpb.TimeInterval{StartTime: at, EndTime: at},
				Value:    v,
			}},
		})
	}
	return &monitoringpb.CreateTimeSeriesRequest{Name: "projects/" + g.Project, TimeSeries: series}
}

// Record writes r in one request, retrying only when the API was
// unavailable or did not answer in time, within writeTimeout (or
// ctx's deadline, if sooner) overall. The write outlives a cancelled ctx (a
// run interrupted is still recorded). With an interval, a write refused
// only because the run's slot (or a newer one) already holds a point is
// logged and is not an error: the run is not in the alert window (see
// slot.go).
func (g *GCP) Record(ctx context.Context, r scenarios.Result) error {
	deadline := time.Now().Add(writeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	req := g.Request(r)
	var last error
	err := g.client.CreateTimeSeries(ctx, req, gcp.Retry(WriteAttempts, writeBackoff, &last, codes.Unavailable, codes.DeadlineExceeded))
	if err == nil {
		return nil
	}
	if last != nil && status.Code(err) != status.Code(last) && ctx.Err() != nil {
		err = last // the budget ended a pause: the last attempt's error says why
	}
	s := Summary(err)
	log := g.Log.With("scenario", r.Scenario, "env", r.Env, "error", describe(err))
	if g.Interval > 0 && slotTaken(s) {
		slot := Slot(r.Start, g.Interval)
		log.LogAttrs(ctx, slog.LevelWarn, "run not in the alert window: its slot or a newer one was already recorded",
			slog.Time("slot", slot),
			slog.Float64("start_after_slot_seconds", r.Start.Sub(slot).Seconds()),
			slog.Float64("interval_seconds", g.Interval.Seconds()),
			slog.Int("success_point_count", int(s.GetSuccessPointCount())),
		)
		return nil
	}
	if s != nil {
		// The server's per-series summary: how many points it took, and
		// why it refused the others.
		var errs []any
		for i, e := range s.GetErrors()[:min(len(s.GetErrors()), maxSummaryErrors)] {
			errs = append(errs, slog.Group(fmt.Sprint(i),
				slog.String("code", codes.Code(e.GetStatus().GetCode()).String()),
				slog.String("message", text.Clip(e.GetStatus().GetMessage(), maxMessageText)),
				slog.Int("point_count", int(e.GetPointCount())),
			))
		}
		msg := "metric write partly failed"
		if s.GetSuccessPointCount() == 0 {
			msg = "metric write failed"
		}
		log.LogAttrs(ctx, slog.LevelError, msg,
			slog.String("project", g.Project),
			slog.Int("time_series", len(req.TimeSeries)),
			slog.Int("total_point_count", int(s.GetTotalPointCount())),
			slog.Int("success_point_count", int(s.GetSuccessPointCount())),
			slog.Int("error_count", len(s.GetErrors())),
			slog.Group("errors", errs...),
		)
	}
	return &WriteError{Project: g.Project, Series: len(req.TimeSeries), Err: err}
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
		return st.Code().String() + ": " + text.Quote(st.Message(), maxMessageText)
	}
	return text.Quote(err.Error(), maxMessageText)
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
