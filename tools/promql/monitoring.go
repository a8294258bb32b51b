package promqlcheck

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/teststorage"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
)

// Cloud Monitoring's write rules for one series' points, as the sink lives
// by them (pkg/metrics/slot.go): in order and at least minGap apart, no
// older than maxAge and no further ahead than maxAhead of the write. A
// refused point is lost; the rest of the request still lands.
const (
	minGap   = 5 * time.Second
	maxAge   = 25 * time.Hour
	maxAhead = 5 * time.Minute
)

// customPrefix starts every metric type a CreateTimeSeries may write.
const customPrefix = "custom.googleapis.com/"

// Point is one point the store accepted.
type Point struct {
	Labels labels.Labels // as PromQL sees the series
	At     time.Time     // the point's time (end of its interval)
	Wall   time.Time     // when it was written
	Value  float64
}

// Store holds what Cloud Monitoring would hold after a sequence of
// CreateTimeSeries requests, in a Prometheus TSDB the engine queries.
type Store struct {
	ts       *teststorage.TestStorage
	last     map[string]time.Time // series -> time of its newest point
	Accepted []Point
	Refused  int
}

// NewStore opens an empty store (a TSDB in a temporary folder); Close
// removes it.
func NewStore() (*Store, error) {
	ts, err := teststorage.NewWithError(func(o *tsdb.Options) {
		// Room for a simulated day and more in the head, never compacted.
		o.MinBlockDuration = int64(72 * time.Hour / time.Millisecond)
		o.MaxBlockDuration = o.MinBlockDuration
	})
	if err != nil {
		return nil, fmt.Errorf("test storage: %w", err)
	}
	return &Store{ts: ts, last: map[string]time.Time{}}, nil
}

// Close closes and removes the TSDB.
func (s *Store) Close() error { return s.ts.Close() }

// Queryable is the store for the engine.
func (s *Store) Queryable() storage.Queryable { return s.ts }

// Write applies one CreateTimeSeries request made at wall time: each
// series' one point is accepted or refused by the write rules. A request
// the real API would reject outright (malformed) is an error.
func (s *Store) Write(ctx context.Context, wall time.Time, req *monitoringpb.CreateTimeSeriesRequest) error {
	if n := len(req.GetTimeSeries()); n == 0 || n > 200 {
		return fmt.Errorf("request of %d series", n)
	}
	app := s.ts.Appender(ctx)
	var accepted []Point
	for _, series := range req.GetTimeSeries() {
		lset, at, v, err := promSeries(series)
		if err != nil {
			_ = app.Rollback()
			return err
		}
		key := lset.String()
		last, seen := s.last[key]
		if wall.Sub(at) > maxAge || at.Sub(wall) > maxAhead || (seen && at.Before(last.Add(minGap))) {
			s.Refused++
			continue
		}
		if _, err := app.Append(0, lset, at.UnixMilli(), v); err != nil {
			_ = app.Rollback()
			return fmt.Errorf("tsdb refused a point Monitoring accepts (%s at %s): %w", key, at, err)
		}
		s.last[key] = at
		accepted = append(accepted, Point{Labels: lset, At: at, Wall: wall, Value: v})
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("tsdb commit: %w", err)
	}
	s.Accepted = append(s.Accepted, accepted...)
	return nil
}

// promSeries is one written series as Cloud Monitoring's PromQL shows it:
// the metric type as the metric name, the metric labels as they are, the
// monitored resource's labels beside them and its type as
// monitored_resource.
func promSeries(ts *monitoringpb.TimeSeries) (labels.Labels, time.Time, float64, error) {
	typ := ts.GetMetric().GetType()
	if !strings.HasPrefix(typ, customPrefix) {
		return labels.EmptyLabels(), time.Time{}, 0, fmt.Errorf("metric type %q is not custom", typ)
	}
	if ts.GetMetricKind() != metricpb.MetricDescriptor_GAUGE {
		return labels.EmptyLabels(), time.Time{}, 0, fmt.Errorf("%s: kind %s, the canary writes gauges", typ, ts.GetMetricKind())
	}
	if len(ts.GetPoints()) != 1 {
		return labels.EmptyLabels(), time.Time{}, 0, fmt.Errorf("%s: %d points, one per series per request", typ, len(ts.GetPoints()))
	}
	p := ts.GetPoints()[0]
	start, end := p.GetInterval().GetStartTime(), p.GetInterval().GetEndTime()
	if end == nil || (start != nil && !start.AsTime().Equal(end.AsTime())) {
		return labels.EmptyLabels(), time.Time{}, 0, fmt.Errorf("%s: a gauge's start must equal its end", typ)
	}
	m := map[string]string{labels.MetricName: typ, "monitored_resource": ts.GetResource().GetType()}
	for k, v := range ts.GetResource().GetLabels() {
		m[k] = v
	}
	for k, v := range ts.GetMetric().GetLabels() {
		if _, clash := m[k]; clash {
			return labels.EmptyLabels(), time.Time{}, 0, fmt.Errorf("%s: metric label %q clashes with a resource label", typ, k)
		}
		m[k] = v
	}
	var v float64
	switch tv := p.GetValue().GetValue().(type) {
	case *monitoringpb.TypedValue_Int64Value:
		v = float64(tv.Int64Value)
	case *monitoringpb.TypedValue_DoubleValue:
		v = tv.DoubleValue
	default:
		return labels.EmptyLabels(), time.Time{}, 0, errors.New(typ + ": value neither int64 nor double")
	}
	return labels.FromMap(m), end.AsTime(), v, nil
}
