package fakegcp_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	monitoredrespb "google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/gcp"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func series(metric string, labels map[string]string, at time.Time) *monitoringpb.TimeSeries {
	ts := timestamppb.New(at)
	return &monitoringpb.TimeSeries{
		Metric: &metricpb.Metric{Type: "custom.googleapis.com/t/" + metric, Labels: labels},
		Resource: &monitoredrespb.MonitoredResource{Type: "generic_task", Labels: map[string]string{
			"project_id": "demo", "location": "global", "namespace": "n", "job": "j", "task_id": "0",
		}},
		MetricKind: metricpb.MetricDescriptor_GAUGE,
		ValueType:  metricpb.MetricDescriptor_INT64,
		Points: []*monitoringpb.Point{{
			Interval: &monitoringpb.TimeInterval{StartTime: ts, EndTime: ts},
			Value:    &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: 1}},
		}},
	}
}

func client(t *testing.T) (*fakegcp.Monitoring, *monitoring.MetricClient) {
	t.Helper()
	m, err := fakegcp.StartMonitoring()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.Now = func() time.Time { return now }
	c, err := monitoring.NewMetricClient(context.Background(), gcp.ClientOptions(m.Addr())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return m, c
}

func write(c *monitoring.MetricClient, ts ...*monitoringpb.TimeSeries) error {
	return c.CreateTimeSeries(context.Background(), &monitoringpb.CreateTimeSeriesRequest{Name: "projects/demo", TimeSeries: ts})
}

func TestRules(t *testing.T) {
	many := make([]*monitoringpb.TimeSeries, 201)
	for i := range many {
		many[i] = series("m", map[string]string{"i": fmt.Sprint(i)}, now)
	}
	manyLabels := map[string]string{}
	for i := 0; i < 11; i++ {
		manyLabels[fmt.Sprintf("l%d", i)] = "v"
	}
	twoPoints := series("m", nil, now)
	twoPoints.Points = append(twoPoints.Points, twoPoints.Points[0])
	startBefore := series("m", nil, now)
	startBefore.Points[0].Interval.StartTime = timestamppb.New(now.Add(-time.Minute))
	runJob := series("m", nil, now)
	runJob.Resource = &monitoredrespb.MonitoredResource{Type: "cloud_run_job", Labels: map[string]string{"project_id": "demo", "location": "l", "job_name": "j"}}
	runRevision := series("m", nil, now)
	runRevision.Resource = &monitoredrespb.MonitoredResource{Type: "cloud_run_revision", Labels: map[string]string{"project_id": "demo"}}
	missingLabel := series("m", nil, now)
	delete(missingLabel.Resource.Labels, "task_id")
	otherProject := series("m", nil, now)
	otherProject.Resource.Labels["project_id"] = "other"
	builtin := series("m", nil, now)
	builtin.Metric.Type = "run.googleapis.com/job/completed_task_attempt_count"
	wrongType := series("m", nil, now)
	wrongType.ValueType = metricpb.MetricDescriptor_DOUBLE

	for _, tc := range []struct {
		name   string
		series []*monitoringpb.TimeSeries
		want   string
	}{
		{"201 series", many, fakegcp.MsgTooMany},
		{"two points", []*monitoringpb.TimeSeries{twoPoints}, fakegcp.MsgOnePoint},
		{"same series twice", []*monitoringpb.TimeSeries{series("m", nil, now), series("m", nil, now)}, fakegcp.MsgDuplicate},
		{"gauge start before end", []*monitoringpb.TimeSeries{startBefore}, "The start time must be equal to the end time"},
		{"26h old", []*monitoringpb.TimeSeries{series("m", nil, now.Add(-26*time.Hour))}, fakegcp.MsgTooOld},
		{"6m ahead", []*monitoringpb.TimeSeries{series("m", nil, now.Add(6*time.Minute))}, fakegcp.MsgTooNew},
		{"built-in metric type", []*monitoringpb.TimeSeries{builtin}, "The metric type must begin with one of custom.googleapis.com/"},
		{"11 labels", []*monitoringpb.TimeSeries{series("m", manyLabels, now)}, "at most 10 are allowed"},
		{"long label value", []*monitoringpb.TimeSeries{series("m", map[string]string{"k": strings.Repeat("v", 1025)}, now)}, "at most 1024 characters"},
		{"label key with a dash", []*monitoringpb.TimeSeries{series("m", map[string]string{"error-class": "x"}, now)}, "must start with a letter"},
		{"cloud_run_job", []*monitoringpb.TimeSeries{runJob}, `invalid value of "cloud_run_job": The monitored resource type is not supported`},
		{"cloud_run_revision", []*monitoringpb.TimeSeries{runRevision}, `"cloud_run_revision"`},
		{"missing resource label", []*monitoringpb.TimeSeries{missingLabel}, `missing required label "task_id"`},
		{"other project", []*monitoringpb.TimeSeries{otherProject}, "must match the project of the request"},
		{"value type differs from point", []*monitoringpb.TimeSeries{wrongType}, "the point holds a INT64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := client(t)
			err := write(c, tc.series...)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.want) {
				t.Fatalf("err = %v, want InvalidArgument containing %q", err, tc.want)
			}
			if tc.name == "same series twice" {
				if n := len(m.Accepted()); n != 1 {
					t.Errorf("accepted %d, want the first of the two", n)
				}
				return
			}
			if n := len(m.Accepted()); n != 0 {
				t.Errorf("accepted %d series of a bad request", n)
			}
		})
	}
}

func TestSamplingPeriodAndOrder(t *testing.T) {
	m, c := client(t)
	if err := write(c, series("a", nil, now), series("b", nil, now)); err != nil {
		t.Fatal(err)
	}
	// 4 s later: too soon for a (same series), fine for c (new series).
	err := write(c, series("a", nil, now.Add(4*time.Second)), series("c", nil, now.Add(4*time.Second)))
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), fakegcp.MsgSamplingPeriod) || !strings.Contains(st.Message(), "timeSeries[0]") {
		t.Fatalf("err = %v, want the sampling period error for timeSeries[0]", err)
	}
	var summary *monitoringpb.CreateTimeSeriesSummary
	for _, d := range st.Details() {
		summary, _ = d.(*monitoringpb.CreateTimeSeriesSummary)
	}
	if summary.GetTotalPointCount() != 2 || summary.GetSuccessPointCount() != 1 || len(summary.GetErrors()) != 1 || summary.GetErrors()[0].GetPointCount() != 1 {
		t.Errorf("summary %v", summary)
	}
	// Different labels are a different series.
	if err := write(c, series("a", map[string]string{"env": "x"}, now.Add(time.Second))); err != nil {
		t.Errorf("new label set: %v", err)
	}
	if err := write(c, series("b", nil, now.Add(-time.Second))); !strings.Contains(fmt.Sprint(err), fakegcp.MsgOutOfOrder) {
		t.Errorf("older point: %v, want out of order", err)
	}
	if err := write(c, series("a", nil, now.Add(5*time.Second))); err != nil {
		t.Errorf("5 s later: %v", err)
	}
	if n := len(m.Accepted()); n != 5 {
		t.Errorf("accepted %d series, want 5", n)
	}
}

func TestMetricKeepsItsValueType(t *testing.T) {
	_, c := client(t)
	if err := write(c, series("m", nil, now)); err != nil {
		t.Fatal(err)
	}
	d := series("m", map[string]string{"k": "v"}, now.Add(time.Minute))
	d.ValueType = metricpb.MetricDescriptor_DOUBLE
	d.Points[0].Value = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: 1}}
	if err := write(c, d); !strings.Contains(fmt.Sprint(err), "must be INT64, but is DOUBLE") {
		t.Errorf("err = %v", err)
	}
}

func TestRefuse(t *testing.T) {
	m, c := client(t)
	m.Refuse(codes.Unavailable, "down")
	if err := write(c, series("m", nil, now)); status.Code(err) != codes.Unavailable {
		t.Errorf("err = %v", err)
	}
	m.Refuse(codes.OK, "")
	if err := write(c, series("m", nil, now)); err != nil {
		t.Errorf("after Refuse(OK): %v", err)
	}
	if m.Requests() != 2 {
		t.Errorf("requests %d", m.Requests())
	}
}
