package plancheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"cloud.google.com/go/monitoring/dashboard/apiv1/dashboardpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The scenario names of the canary's contract (CANARY_SCENARIO values).
var scenarios = []string{"list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency"}

type catalogue struct {
	Prefix  string `json:"prefix"`
	Metrics []struct {
		Name      string `json:"name"`
		Kind      string `json:"kind"`
		ValueType string `json:"value_type"`
		Unit      string `json:"unit"`
		Labels    []struct {
			Key string `json:"key"`
		} `json:"labels"`
	} `json:"metrics"`
}

type planJSON struct {
	Variables map[string]struct {
		Value any `json:"value"`
	} `json:"variables"`
	PlannedValues struct {
		RootModule struct {
			Resources []resource `json:"resources"`
		} `json:"root_module"`
	} `json:"planned_values"`
}

type resource struct {
	Address string          `json:"address"`
	Type    string          `json:"type"`
	Name    string          `json:"name"`
	Index   any             `json:"index"`
	Values  json.RawMessage `json:"values"`
}

// filterRE is the one filter form the configuration uses.
var filterRE = regexp.MustCompile(`^metric\.type = "([^"]+)" AND resource\.type = "generic_task" AND resource\.label\.job = "([^"]+)" AND metric\.label\.env = "([^"]+)"$`)

type fixture struct {
	cat     catalogue
	metrics map[string]map[string]bool // metric type -> label keys
	env     string
	res     []resource
}

func load(t *testing.T) *fixture {
	t.Helper()
	planPath := os.Getenv("TF_PLAN_JSON")
	if planPath == "" {
		t.Skip("TF_PLAN_JSON is not set: run scripts/tf-check.sh, which plans terraform/ offline and sets it")
	}
	f := &fixture{metrics: map[string]map[string]bool{}}
	catPath := filepath.Join("..", "..", "..", "terraform", "metrics.json")
	readJSON(t, catPath, &f.cat)
	for _, m := range f.cat.Metrics {
		labels := map[string]bool{}
		for _, l := range m.Labels {
			labels[l.Key] = true
		}
		f.metrics[f.cat.Prefix+m.Name] = labels
	}
	var p planJSON
	readJSON(t, planPath, &p)
	env, ok := p.Variables["env"].Value.(string)
	if !ok {
		t.Fatalf("plan has no env variable")
	}
	f.env = env
	f.res = p.PlannedValues.RootModule.Resources
	return f
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
}

func (f *fixture) ofType(typ string) []resource {
	var out []resource
	for _, r := range f.res {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// checkFilter checks a filter has the one form and names a catalogue metric,
// a contract scenario and the plan's env; it returns the metric type and job.
func (f *fixture) checkFilter(t *testing.T, where, filter string) (metricType, job string) {
	t.Helper()
	m := filterRE.FindStringSubmatch(filter)
	if m == nil {
		t.Errorf("%s: filter %q is not of the form metric.type AND resource.type = generic_task AND resource.label.job AND metric.label.env", where, filter)
		return "", ""
	}
	if _, ok := f.metrics[m[1]]; !ok {
		t.Errorf("%s: filter names metric %q, which is not in metrics.json", where, m[1])
	}
	if !slices.Contains(scenarios, m[2]) {
		t.Errorf("%s: filter names job %q, which is not a scenario", where, m[2])
	}
	if m[3] != f.env {
		t.Errorf("%s: filter names env %q, plan is for %q", where, m[3], f.env)
	}
	return m[1], m[2]
}

// checkGroupBy checks group-by fields name labels the metric has.
func (f *fixture) checkGroupBy(t *testing.T, where, metricType string, fields []string) {
	t.Helper()
	for _, g := range fields {
		switch {
		case strings.HasPrefix(g, "metric.label."):
			if key := strings.TrimPrefix(g, "metric.label."); !f.metrics[metricType][key] {
				t.Errorf("%s: groups by %s, but %s has no label %q", where, g, metricType, key)
			}
		case slices.Contains([]string{"resource.label.job", "resource.label.location", "resource.label.project_id", "resource.label.namespace", "resource.label.task_id"}, g):
		default:
			t.Errorf("%s: groups by unknown field %q", where, g)
		}
	}
}

func TestDashboardDecodesAndUsesCatalogueMetrics(t *testing.T) {
	f := load(t)
	dashboards := f.ofType("google_monitoring_dashboard")
	if len(dashboards) != 1 {
		t.Fatalf("plan has %d dashboards, want 1", len(dashboards))
	}
	var values struct {
		DashboardJSON string `json:"dashboard_json"`
	}
	if err := json.Unmarshal(dashboards[0].Values, &values); err != nil {
		t.Fatal(err)
	}
	var d dashboardpb.Dashboard
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal([]byte(values.DashboardJSON), &d); err != nil {
		t.Fatalf("dashboard JSON is not a google.monitoring.dashboard.v1.Dashboard: %v", err)
	}
	if d.GetDisplayName() == "" {
		t.Error("dashboard has no display name")
	}
	layout := d.GetMosaicLayout()
	if layout == nil {
		t.Fatal("dashboard has no mosaic layout")
	}

	titles := map[string]bool{}
	seen := map[string]map[string]bool{} // job -> metric types charted
	for i, tile := range layout.GetTiles() {
		where := fmt.Sprintf("tile %d (%q)", i, tile.GetWidget().GetTitle())
		titles[tile.GetWidget().GetTitle()] = true
		if tile.GetXPos()+tile.GetWidth() > layout.GetColumns() {
			t.Errorf("%s: overflows the %d columns", where, layout.GetColumns())
		}
		for _, tsf := range timeSeriesFilters(tile) {
			mt, job := f.checkFilter(t, where, tsf.GetFilter())
			if mt == "" {
				continue
			}
			if seen[job] == nil {
				seen[job] = map[string]bool{}
			}
			seen[job][mt] = true
			f.checkGroupBy(t, where, mt, tsf.GetAggregation().GetGroupByFields())
		}
	}
	if overlap := overlappingTiles(layout.GetTiles()); overlap != "" {
		t.Error(overlap)
	}

	jobs := f.jobs(t)
	for _, s := range jobs {
		if !titles[s] {
			t.Errorf("dashboard has no section titled %q", s)
		}
		for mt := range f.metrics {
			if !seen[s][mt] {
				t.Errorf("dashboard charts no %s for %s", mt, s)
			}
		}
	}
}

// timeSeriesFilters returns every TimeSeriesFilter anywhere below m.
func timeSeriesFilters(m proto.Message) []*dashboardpb.TimeSeriesFilter {
	var out []*dashboardpb.TimeSeriesFilter
	var walk func(protoreflect.Message)
	walk = func(msg protoreflect.Message) {
		if tsf, ok := msg.Interface().(*dashboardpb.TimeSeriesFilter); ok {
			out = append(out, tsf)
		}
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.Message() == nil:
			case fd.IsList():
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.IsMap():
				if fd.MapValue().Message() != nil {
					v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
						walk(mv.Message())
						return true
					})
				}
			default:
				walk(v.Message())
			}
			return true
		})
	}
	walk(m.ProtoReflect())
	return out
}

func overlappingTiles(tiles []*dashboardpb.MosaicLayout_Tile) string {
	for i, a := range tiles {
		for _, b := range tiles[i+1:] {
			if a.GetXPos() < b.GetXPos()+b.GetWidth() && b.GetXPos() < a.GetXPos()+a.GetWidth() &&
				a.GetYPos() < b.GetYPos()+b.GetHeight() && b.GetYPos() < a.GetYPos()+a.GetHeight() {
				return fmt.Sprintf("tiles %q and %q overlap", a.GetWidget().GetTitle(), b.GetWidget().GetTitle())
			}
		}
	}
	return ""
}

// jobs returns the scenarios the plan deploys (keys of the Cloud Run jobs).
func (f *fixture) jobs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range f.ofType("google_cloud_run_v2_job") {
		key, ok := r.Index.(string)
		if !ok || !slices.Contains(scenarios, key) {
			t.Errorf("%s: not keyed by a scenario name", r.Address)
			continue
		}
		out = append(out, key)
	}
	if len(out) == 0 {
		t.Fatal("plan deploys no scenario")
	}
	sort.Strings(out)
	return out
}

type aggregation struct {
	AlignmentPeriod    string   `json:"alignment_period"`
	PerSeriesAligner   string   `json:"per_series_aligner"`
	CrossSeriesReducer string   `json:"cross_series_reducer"`
	GroupByFields      []string `json:"group_by_fields"`
}

type policy struct {
	DisplayName string `json:"display_name"`
	Conditions  []struct {
		DisplayName        string `json:"display_name"`
		ConditionThreshold []struct {
			Filter       string        `json:"filter"`
			Aggregations []aggregation `json:"aggregations"`
		} `json:"condition_threshold"`
		ConditionAbsent []struct {
			Filter       string        `json:"filter"`
			Aggregations []aggregation `json:"aggregations"`
		} `json:"condition_absent"`
		ConditionMQL []json.RawMessage `json:"condition_monitoring_query_language"`
		ConditionPQL []json.RawMessage `json:"condition_prometheus_query_language"`
	} `json:"conditions"`
}

func TestAlertPoliciesUseCatalogueMetrics(t *testing.T) {
	f := load(t)
	jobs := f.jobs(t)
	failing := map[string]bool{}
	absent := map[string]bool{}
	for _, r := range f.ofType("google_monitoring_alert_policy") {
		var p policy
		if err := json.Unmarshal(r.Values, &p); err != nil {
			t.Fatalf("%s: %v", r.Address, err)
		}
		if len(p.Conditions) == 0 {
			t.Errorf("%s: no conditions", r.Address)
		}
		for i, c := range p.Conditions {
			where := fmt.Sprintf("%s condition %d", r.Address, i)
			if len(c.ConditionMQL)+len(c.ConditionPQL) > 0 {
				t.Errorf("%s: query-language conditions escape this check; use filters", where)
			}
			for _, ct := range c.ConditionThreshold {
				mt, job := f.checkFilter(t, where, ct.Filter)
				for _, a := range ct.Aggregations {
					f.checkGroupBy(t, where, mt, a.GroupByFields)
				}
				if r.Name == "failing" {
					if r.Index != job {
						t.Errorf("%s watches %q", where, job)
					}
					failing[job] = true
				}
			}
			for _, ca := range c.ConditionAbsent {
				mt, job := f.checkFilter(t, where, ca.Filter)
				for _, a := range ca.Aggregations {
					f.checkGroupBy(t, where, mt, a.GroupByFields)
				}
				absent[job] = true
			}
			if len(c.ConditionThreshold)+len(c.ConditionAbsent) == 0 {
				t.Errorf("%s: neither a threshold nor an absence condition", where)
			}
		}
	}
	for _, s := range jobs {
		if !failing[s] {
			t.Errorf("no failure policy watches %s", s)
		}
		if !absent[s] {
			t.Errorf("no absence condition watches %s", s)
		}
	}
}

func TestMetricDescriptorsMatchCatalogue(t *testing.T) {
	f := load(t)
	type descriptor struct {
		Type       string `json:"type"`
		MetricKind string `json:"metric_kind"`
		ValueType  string `json:"value_type"`
		Unit       string `json:"unit"`
		Labels     []struct {
			Key       string `json:"key"`
			ValueType string `json:"value_type"`
		} `json:"labels"`
	}
	got := map[string]descriptor{}
	for _, r := range f.ofType("google_monitoring_metric_descriptor") {
		var d descriptor
		if err := json.Unmarshal(r.Values, &d); err != nil {
			t.Fatalf("%s: %v", r.Address, err)
		}
		got[d.Type] = d
	}
	if len(got) != len(f.cat.Metrics) {
		t.Errorf("plan has %d metric descriptors, metrics.json %d metrics", len(got), len(f.cat.Metrics))
	}
	for _, m := range f.cat.Metrics {
		d, ok := got[f.cat.Prefix+m.Name]
		if !ok {
			t.Errorf("no descriptor for %s", m.Name)
			continue
		}
		if d.MetricKind != m.Kind || d.ValueType != m.ValueType || d.Unit != m.Unit {
			t.Errorf("%s: descriptor is %s/%s/%q, metrics.json says %s/%s/%q", m.Name, d.MetricKind, d.ValueType, d.Unit, m.Kind, m.ValueType, m.Unit)
		}
		var want, have []string
		for _, l := range m.Labels {
			want = append(want, l.Key)
		}
		for _, l := range d.Labels {
			have = append(have, l.Key)
			if l.ValueType != "STRING" {
				t.Errorf("%s: label %s is %s, want STRING", m.Name, l.Key, l.ValueType)
			}
		}
		sort.Strings(want)
		sort.Strings(have)
		if !slices.Equal(want, have) {
			t.Errorf("%s: descriptor labels %v, metrics.json %v", m.Name, have, want)
		}
	}
}
