// Package fakegcp serves loopback fakes of the Google Cloud services the
// canary talks to, for tests and benchmarks: Cloud Monitoring's
// MetricService and Secret Manager over real gRPC, and the metadata server
// over HTTP. Each listens on 127.0.0.1 only.
//
// The Monitoring fake enforces Cloud Monitoring's documented write rules
// (https://cloud.google.com/monitoring/quotas, "Writing metric data") with
// the API's status codes and, where known, its messages, and keeps what it
// accepted so tests can assert on it.
package fakegcp

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Cloud Monitoring's limits on writes.
const (
	MaxSeriesPerRequest = 200
	MinSamplingPeriod   = 5 * time.Second // between two points of one series
	MaxPointAge         = 25 * time.Hour
	MaxPointAhead       = 5 * time.Minute
	MaxMetricLabels     = 10
	MaxLabelKeyLen      = 100
	MaxLabelValueLen    = 1024
)

// Messages Cloud Monitoring answers with.
const (
	MsgSamplingPeriod = "One or more points were written more frequently than the maximum sampling period configured for the metric."
	MsgOutOfOrder     = "Points must be written in order. One or more of the points specified had an older start time than the most recent point."
	MsgDuplicate      = "Duplicate TimeSeries encountered. Only one point can be written per TimeSeries per request."
	MsgOnePoint       = "Only one point can be written per TimeSeries per request."
	MsgTooMany        = "A maximum of 200 TimeSeries can be written in a single request."
	MsgTooOld         = "Data points cannot be written more than 25h in the past."
	MsgTooNew         = "Data points cannot be written more than 5m in the future."
	MsgNotWritten     = "One or more TimeSeries could not be written"
)

// metricPrefixes are the metric type prefixes a client may write.
var metricPrefixes = []string{
	"custom.googleapis.com/",
	"external.googleapis.com/",
	"workload.googleapis.com/",
	"prometheus.googleapis.com/",
	"logging.googleapis.com/user/",
}

// writableResources are monitored resource types that accept user-written
// metrics, with their required labels (project_id included). Types such as
// cloud_run_job and cloud_run_revision exist but are not writable.
var writableResources = map[string][]string{
	"global":           {"project_id"},
	"generic_task":     {"project_id", "location", "namespace", "job", "task_id"},
	"generic_node":     {"project_id", "location", "namespace", "node_id"},
	"gce_instance":     {"project_id", "instance_id", "zone"},
	"gke_container":    {"project_id", "cluster_name", "namespace_id", "instance_id", "pod_id", "container_name", "zone"},
	"k8s_container":    {"project_id", "location", "cluster_name", "namespace_name", "pod_name", "container_name"},
	"k8s_pod":          {"project_id", "location", "cluster_name", "namespace_name", "pod_name"},
	"k8s_node":         {"project_id", "location", "cluster_name", "node_name"},
	"k8s_cluster":      {"project_id", "location", "cluster_name"},
	"aws_ec2_instance": {"project_id", "instance_id", "region", "aws_account"},
}

var (
	labelKey    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)
	projectName = regexp.MustCompile(`^projects/([^/]+)$`)
)

// Write is one time series the fake accepted.
type Write struct {
	Project  string
	Received time.Time
	Series   *monitoringpb.TimeSeries
}

// Monitoring is a fake Cloud Monitoring MetricService.
type Monitoring struct {
	monitoringpb.UnimplementedMetricServiceServer

	// Now is the server's clock; time.Now when nil. Set before the first call.
	Now func() time.Time

	srv *grpc.Server
	lis net.Listener

	mu       sync.Mutex
	requests int
	refuse   *status.Status
	accepted []Write
	last     map[string]time.Time // series key → end time of its last point
	kinds    map[string]kinds     // metric type → kind and value type of its first point
}

type kinds struct {
	kind metricpb.MetricDescriptor_MetricKind
	vt   metricpb.MetricDescriptor_ValueType
}

// StartMonitoring serves a fake MetricService on 127.0.0.1.
func StartMonitoring() (*Monitoring, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &Monitoring{srv: grpc.NewServer(), lis: lis, last: map[string]time.Time{}, kinds: map[string]kinds{}}
	monitoringpb.RegisterMetricServiceServer(m.srv, m)
	go func() { _ = m.srv.Serve(lis) }()
	return m, nil
}

// Addr is host:port to give CANARY_MONITORING_ENDPOINT.
func (m *Monitoring) Addr() string { return m.lis.Addr().String() }

// Close stops the server.
func (m *Monitoring) Close() { m.srv.Stop() }

// Refuse makes every later call fail with code and msg (codes.OK: accept
// again), e.g. codes.Unavailable for an outage.
func (m *Monitoring) Refuse(code codes.Code, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if code == codes.OK {
		m.refuse = nil
		return
	}
	m.refuse = status.New(code, msg)
}

// RefuseStatus makes every later call fail with st (nil: accept again):
// a status with details, such as a per-series summary.
func (m *Monitoring) RefuseStatus(st *status.Status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refuse = st
}

// Requests counts CreateTimeSeries calls, refused or not.
func (m *Monitoring) Requests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests
}

// Accepted returns every time series written so far, in order.
func (m *Monitoring) Accepted() []Write {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Write, len(m.accepted))
	for i, w := range m.accepted {
		out[i] = Write{Project: w.Project, Received: w.Received, Series: proto.Clone(w.Series).(*monitoringpb.TimeSeries)}
	}
	return out
}

func (m *Monitoring) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// CreateTimeSeries checks the request against Cloud Monitoring's rules.
// Request-wide problems reject it all; a series that breaks a rule is
// refused alone while the others are written, and the error carries a
// CreateTimeSeriesSummary, as the real API does.
func (m *Monitoring) CreateTimeSeries(ctx context.Context, req *monitoringpb.CreateTimeSeriesRequest) (*emptypb.Empty, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if m.refuse != nil {
		return nil, m.refuse.Err()
	}
	match := projectName.FindStringSubmatch(req.GetName())
	if match == nil {
		return nil, status.Errorf(codes.InvalidArgument, "Field name had an invalid value of %q: must be of the form projects/[PROJECT_ID_OR_NUMBER].", req.GetName())
	}
	project := match[1]
	n := len(req.GetTimeSeries())
	switch {
	case n == 0:
		return nil, status.Error(codes.InvalidArgument, "Field timeSeries had an invalid value: at least one TimeSeries must be written.")
	case n > MaxSeriesPerRequest:
		return nil, status.Error(codes.InvalidArgument, "Field timeSeries had an invalid value: "+MsgTooMany)
	}

	now := m.now()
	type failure struct {
		index int
		code  codes.Code
		msg   string
	}
	var failures []failure
	var ok []Write
	seen := map[string]bool{}
	pendingKinds := map[string]kinds{}
	for i, ts := range req.GetTimeSeries() {
		code, msg := m.check(project, ts, now, seen, pendingKinds)
		if code != codes.OK {
			failures = append(failures, failure{i, code, msg})
			continue
		}
		ok = append(ok, Write{Project: project, Received: now, Series: proto.Clone(ts).(*monitoringpb.TimeSeries)})
	}
	for _, w := range ok {
		m.last[seriesKey(project, w.Series)] = w.Series.GetPoints()[0].GetInterval().GetEndTime().AsTime()
		if _, known := m.kinds[w.Series.GetMetric().GetType()]; !known {
			m.kinds[w.Series.GetMetric().GetType()] = kindsOf(w.Series)
		}
	}
	m.accepted = append(m.accepted, ok...)
	if len(failures) == 0 {
		return &emptypb.Empty{}, nil
	}

	// Group the failures by cause for the summary, as the API does.
	type cause struct {
		code codes.Code
		msg  string
	}
	counts := map[cause]int32{}
	var order []cause
	parts := make([]string, 0, len(failures))
	for _, f := range failures {
		c := cause{f.code, f.msg}
		if counts[c] == 0 {
			order = append(order, c)
		}
		counts[c]++
		ts := req.GetTimeSeries()[f.index]
		parts = append(parts, fmt.Sprintf("timeSeries[%d] (metric.type=%q, metric.labels=%s): write for resource=%s%s failed with: %s",
			f.index, ts.GetMetric().GetType(), labelString(ts.GetMetric().GetLabels()),
			ts.GetResource().GetType(), labelString(ts.GetResource().GetLabels()), f.msg))
	}
	summary := &monitoringpb.CreateTimeSeriesSummary{
		TotalPointCount:   int32(n),
		SuccessPointCount: int32(len(ok)),
	}
	for _, c := range order {
		summary.Errors = append(summary.Errors, &monitoringpb.CreateTimeSeriesSummary_Error{
			Status:     &spb.Status{Code: int32(c.code), Message: c.msg},
			PointCount: counts[c],
		})
	}
	st := status.New(failures[0].code, MsgNotWritten+": "+strings.Join(parts, "; "))
	if withDetails, err := st.WithDetails(summary); err == nil {
		st = withDetails
	}
	return nil, st.Err()
}

// check applies the per-series rules; codes.OK means the series is written.
func (m *Monitoring) check(project string, ts *monitoringpb.TimeSeries, now time.Time, seen map[string]bool, pending map[string]kinds) (codes.Code, string) {
	metric := ts.GetMetric()
	if !hasPrefix(metric.GetType()) {
		return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.metric.type had an invalid value of %q: The metric type must begin with one of %s.", metric.GetType(), strings.Join(metricPrefixes, ", "))
	}
	if len(metric.GetLabels()) > MaxMetricLabels {
		return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.metric.labels had an invalid value: The metric has %d labels; at most %d are allowed.", len(metric.GetLabels()), MaxMetricLabels)
	}
	for k, v := range metric.GetLabels() {
		switch {
		case len(k) > MaxLabelKeyLen:
			return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.metric.labels had an invalid value: label key %q is longer than %d characters.", k, MaxLabelKeyLen)
		case !labelKey.MatchString(k):
			return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.metric.labels had an invalid value: label key %q must start with a letter and hold only letters, digits and underscores.", k)
		case len(v) > MaxLabelValueLen:
			return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.metric.labels[%s] had an invalid value: label values are at most %d characters.", k, MaxLabelValueLen)
		}
	}
	res := ts.GetResource()
	required, writable := writableResources[res.GetType()]
	if !writable {
		return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.resource.type had an invalid value of %q: The monitored resource type is not supported for writing user-defined metrics.", res.GetType())
	}
	for _, k := range required {
		if res.GetLabels()[k] == "" {
			return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.resource.labels had an invalid value: The monitored resource %s is missing required label %q.", res.GetType(), k)
		}
	}
	for k := range res.GetLabels() {
		if !contains(required, k) {
			return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.resource.labels had an invalid value: The monitored resource %s has no label %q.", res.GetType(), k)
		}
	}
	if p := res.GetLabels()["project_id"]; p != project {
		return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.resource.labels.project_id had an invalid value of %q: it must match the project of the request (%s).", p, project)
	}
	if len(ts.GetPoints()) != 1 {
		return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.points had an invalid value: %s (got %d)", MsgOnePoint, len(ts.GetPoints()))
	}
	pt := ts.GetPoints()[0]
	k := kindsOf(ts)
	if want, known := m.kinds[metric.GetType()]; known {
		if want.kind != k.kind {
			return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.metric_kind had an invalid value of %q: must be %s.", k.kind, want.kind)
		}
		if want.vt != k.vt {
			return codes.InvalidArgument, fmt.Sprintf("Value type for metric %s must be %s, but is %s.", metric.GetType(), want.vt, k.vt)
		}
	} else if want, known := pending[metric.GetType()]; known && want != k {
		return codes.InvalidArgument, fmt.Sprintf("Value type for metric %s must be %s, but is %s.", metric.GetType(), want.vt, k.vt)
	} else {
		pending[metric.GetType()] = k
	}
	if ts.GetValueType() != metricpb.MetricDescriptor_VALUE_TYPE_UNSPECIFIED && ts.GetValueType() != k.vt {
		return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.value_type had an invalid value of %q: the point holds a %s.", ts.GetValueType(), k.vt)
	}
	iv := pt.GetInterval()
	if iv.GetEndTime() == nil {
		return codes.InvalidArgument, "Field timeSeries.points.interval.end_time had an invalid value: the end time is required."
	}
	end := iv.GetEndTime().AsTime()
	if k.kind == metricpb.MetricDescriptor_GAUGE && iv.GetStartTime() != nil && !iv.GetStartTime().AsTime().Equal(end) {
		return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.points.interval.start_time had an invalid value of %q: The start time must be equal to the end time (%s) for the gauge metric %s.",
			iv.GetStartTime().AsTime().Format(time.RFC3339Nano), end.Format(time.RFC3339Nano), metric.GetType())
	}
	if end.Before(now.Add(-MaxPointAge)) {
		return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.points.interval.end_time had an invalid value of %q: %s", end.Format(time.RFC3339Nano), MsgTooOld)
	}
	if end.After(now.Add(MaxPointAhead)) {
		return codes.InvalidArgument, fmt.Sprintf("Field timeSeries.points.interval.end_time had an invalid value of %q: %s", end.Format(time.RFC3339Nano), MsgTooNew)
	}
	key := seriesKey(project, ts)
	if seen[key] {
		return codes.InvalidArgument, "Field timeSeries had an invalid value: " + MsgDuplicate
	}
	seen[key] = true
	if last, ok := m.last[key]; ok {
		if !end.After(last) {
			return codes.InvalidArgument, MsgOutOfOrder
		}
		if end.Sub(last) < MinSamplingPeriod {
			return codes.InvalidArgument, MsgSamplingPeriod
		}
	}
	return codes.OK, ""
}

func kindsOf(ts *monitoringpb.TimeSeries) kinds {
	k := kinds{kind: ts.GetMetricKind(), vt: ts.GetValueType()}
	if k.kind == metricpb.MetricDescriptor_METRIC_KIND_UNSPECIFIED {
		k.kind = metricpb.MetricDescriptor_GAUGE
	}
	if pts := ts.GetPoints(); len(pts) > 0 {
		switch pts[0].GetValue().GetValue().(type) {
		case *monitoringpb.TypedValue_Int64Value:
			k.vt = metricpb.MetricDescriptor_INT64
		case *monitoringpb.TypedValue_DoubleValue:
			k.vt = metricpb.MetricDescriptor_DOUBLE
		case *monitoringpb.TypedValue_BoolValue:
			k.vt = metricpb.MetricDescriptor_BOOL
		case *monitoringpb.TypedValue_StringValue:
			k.vt = metricpb.MetricDescriptor_STRING
		case *monitoringpb.TypedValue_DistributionValue:
			k.vt = metricpb.MetricDescriptor_DISTRIBUTION
		}
	}
	return k
}

// seriesKey identifies a time series: project, metric type and labels,
// resource type and labels.
func seriesKey(project string, ts *monitoringpb.TimeSeries) string {
	return project + "|" + ts.GetMetric().GetType() + labelString(ts.GetMetric().GetLabels()) + "|" +
		ts.GetResource().GetType() + labelString(ts.GetResource().GetLabels())
}

func labelString(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func hasPrefix(metricType string) bool {
	for _, p := range metricPrefixes {
		if strings.HasPrefix(metricType, p) && len(metricType) > len(p) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
