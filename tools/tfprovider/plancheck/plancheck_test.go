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
	"unicode/utf8"

	"cloud.google.com/go/monitoring/dashboard/apiv1/dashboardpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// scenarios are the scenario names of the canary's contract
// (CANARY_SCENARIO values), read from terraform/scenarios.json.
var scenarios []string

type catalogue struct {
	Prefix  string      `json:"prefix"`
	Metrics []catMetric `json:"metrics"`
}

type catMetric struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	ValueType string `json:"value_type"`
	Unit      string `json:"unit"`
	Labels    []struct {
		Key string `json:"key"`
	} `json:"labels"`
	SupersededBy string   `json:"superseded_by"`
	ChartedAs    string   `json:"charted_as"`
	WrittenBy    []string `json:"written_by"`
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
	cat        catalogue
	metrics    map[string]map[string]bool // metric type -> label keys
	superseded map[string]bool            // metric types the dashboard charts by their successor or as another
	writtenBy  map[string][]string        // metric types only some scenarios write -> those scenarios
	env        string
	variables  map[string]any
	res        []resource
}

func load(t *testing.T) *fixture {
	t.Helper()
	planPath := os.Getenv("TF_PLAN_JSON")
	if planPath == "" {
		t.Skip("TF_PLAN_JSON is not set: run scripts/tf-check.sh, which plans terraform/ offline and sets it")
	}
	f := &fixture{metrics: map[string]map[string]bool{}, superseded: map[string]bool{}, writtenBy: map[string][]string{}}
	var sc struct {
		Scenarios []struct {
			Name string `json:"name"`
		} `json:"scenarios"`
	}
	readJSON(t, filepath.Join("..", "..", "..", "terraform", "scenarios.json"), &sc)
	scenarios = nil
	for _, s := range sc.Scenarios {
		scenarios = append(scenarios, s.Name)
	}
	catPath := filepath.Join("..", "..", "..", "terraform", "metrics.json")
	readJSON(t, catPath, &f.cat)
	for _, m := range f.cat.Metrics {
		labels := map[string]bool{}
		for _, l := range m.Labels {
			labels[l.Key] = true
		}
		f.metrics[f.cat.Prefix+m.Name] = labels
		f.superseded[f.cat.Prefix+m.Name] = m.SupersededBy != "" || m.ChartedAs != ""
		for _, other := range []string{m.SupersededBy, m.ChartedAs} {
			if other != "" && !slices.ContainsFunc(f.cat.Metrics, func(o catMetric) bool { return o.Name == other && o.SupersededBy == "" && o.ChartedAs == "" }) {
				t.Fatalf("metrics.json: %s is charted as %q, which is no charted metric of the catalogue", m.Name, other)
			}
		}
		f.writtenBy[f.cat.Prefix+m.Name] = m.WrittenBy
	}
	var p planJSON
	readJSON(t, planPath, &p)
	env, ok := p.Variables["env"].Value.(string)
	if !ok {
		t.Fatalf("plan has no env variable")
	}
	f.env = env
	f.variables = map[string]any{}
	for k, v := range p.Variables {
		f.variables[k] = v.Value
	}
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
	slos := f.slos(t)
	budgets := map[string]bool{} // job -> its SLO's error budget charted
	for i, tile := range layout.GetTiles() {
		where := fmt.Sprintf("tile %d (%q)", i, tile.GetWidget().GetTitle())
		titles[tile.GetWidget().GetTitle()] = true
		if tile.GetXPos()+tile.GetWidth() > layout.GetColumns() {
			t.Errorf("%s: overflows the %d columns", where, layout.GetColumns())
		}
		for _, q := range promQueries(tile) {
			for _, sel := range f.checkPromQL(t, where, q) {
				for _, job := range sel.jobs {
					if seen[job] == nil {
						seen[job] = map[string]bool{}
					}
					seen[job][sel.metric] = true
				}
			}
		}
		for _, tsf := range timeSeriesFilters(tile) {
			if m := sloSelectorRE.FindStringSubmatch(tsf.GetFilter()); m != nil {
				if slo, ok := slos[m[1]]; ok {
					budgets[slo.job] = true
				} else {
					t.Errorf("%s: %s names no SLO of the plan", where, tsf.GetFilter())
				}
				continue
			}
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
	f.checkLogsPanels(t, layout.GetTiles())
	if overlap := overlappingTiles(layout.GetTiles()); overlap != "" {
		t.Error(overlap)
	}

	jobs := f.jobs(t)
	for _, s := range jobs {
		if !titles[s] {
			t.Errorf("dashboard has no section titled %q", s)
		}
		for mt := range f.metrics {
			if w := f.writtenBy[mt]; len(w) > 0 && !slices.Contains(w, s) {
				if seen[s][mt] {
					t.Errorf("dashboard charts %s for %s, which never writes it", mt, s)
				}
				continue
			}
			if !seen[s][mt] && !f.superseded[mt] {
				t.Errorf("dashboard charts no %s for %s", mt, s)
			}
		}
		if !budgets[s] {
			t.Errorf("dashboard charts no error budget for %s", s)
		}
	}
}

// logsFilterRE is the failed runs' panel filter: Cloud Run jobs, a
// disjunction of job names, the runner's result line of a failed run
// (pkg/scenarios/runner.go logs "scenario failed").
var logsFilterRE = regexp.MustCompile(`^resource\.type="cloud_run_job" AND \(((?:resource\.labels\.job_name="[a-z0-9-]+"(?: OR )?)+)\) AND jsonPayload\.message="scenario failed"$`)

var jobNameRE = regexp.MustCompile(`resource\.labels\.job_name="([a-z0-9-]+)"`)

// checkLogsPanels: one logs panel, on the plan's project, showing the
// failed result lines of exactly the deployed Cloud Run jobs.
func (f *fixture) checkLogsPanels(t *testing.T, tiles []*dashboardpb.MosaicLayout_Tile) {
	t.Helper()
	var panels []*dashboardpb.LogsPanel
	for _, tile := range tiles {
		if lp := tile.GetWidget().GetLogsPanel(); lp != nil {
			panels = append(panels, lp)
		}
	}
	if len(panels) != 1 {
		t.Fatalf("dashboard has %d logs panels, want 1 (failed runs)", len(panels))
	}
	lp := panels[0]
	if want := []string{"projects/" + f.variables["project_id"].(string)}; !slices.Equal(lp.GetResourceNames(), want) {
		t.Errorf("logs panel reads %v, want %v", lp.GetResourceNames(), want)
	}
	m := logsFilterRE.FindStringSubmatch(lp.GetFilter())
	if m == nil {
		t.Fatalf("logs panel filter %q is not the failed result lines of the canary's jobs", lp.GetFilter())
	}
	var got []string
	for _, jm := range jobNameRE.FindAllStringSubmatch(m[1], -1) {
		got = append(got, jm[1])
	}
	var want []string
	for _, r := range f.ofType("google_cloud_run_v2_job") {
		var v struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(r.Values, &v); err != nil {
			t.Fatal(err)
		}
		want = append(want, v.Name)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("logs panel shows jobs %v, the plan deploys %v", got, want)
	}
}

// sloSelectorRE is the dashboard's error-budget selector of one SLO.
var sloSelectorRE = regexp.MustCompile(`^select_slo_budget_fraction\("(projects/[^/"]+/services/[^/"]+/serviceLevelObjectives/[^/"]+)"\)$`)

type slo struct {
	job          string
	windowPeriod string
	timeSeries   string
	min, max     float64
	goal         float64
	rollingDays  int
}

// slos returns the plan's SLOs by resource name, each checked to belong to
// the plan's one custom service.
func (f *fixture) slos(t *testing.T) map[string]slo {
	t.Helper()
	var project string
	if v, ok := f.variables["project_id"].(string); ok {
		project = v
	}
	services := f.ofType("google_monitoring_custom_service")
	if len(services) != 1 {
		t.Fatalf("plan has %d custom services, want 1", len(services))
	}
	var svc struct {
		ServiceID string `json:"service_id"`
	}
	if err := json.Unmarshal(services[0].Values, &svc); err != nil {
		t.Fatal(err)
	}
	out := map[string]slo{}
	for _, r := range f.ofType("google_monitoring_slo") {
		var v struct {
			Service           string  `json:"service"`
			SloID             string  `json:"slo_id"`
			Goal              float64 `json:"goal"`
			RollingPeriodDays int     `json:"rolling_period_days"`
			CalendarPeriod    *string `json:"calendar_period"`
			WindowsBasedSli   []struct {
				WindowPeriod      string `json:"window_period"`
				MetricMeanInRange []struct {
					TimeSeries string `json:"time_series"`
					Range      []struct {
						Min float64 `json:"min"`
						Max float64 `json:"max"`
					} `json:"range"`
				} `json:"metric_mean_in_range"`
			} `json:"windows_based_sli"`
		}
		if err := json.Unmarshal(r.Values, &v); err != nil {
			t.Fatalf("%s: %v", r.Address, err)
		}
		job, _ := r.Index.(string)
		if v.Service != svc.ServiceID {
			t.Errorf("%s: service %q, the plan's custom service is %q", r.Address, v.Service, svc.ServiceID)
		}
		if len(v.WindowsBasedSli) != 1 || len(v.WindowsBasedSli[0].MetricMeanInRange) != 1 || len(v.WindowsBasedSli[0].MetricMeanInRange[0].Range) != 1 {
			t.Errorf("%s: not a windows-based SLI on a metric's mean in a range", r.Address)
			continue
		}
		w := v.WindowsBasedSli[0]
		name := fmt.Sprintf("projects/%s/services/%s/serviceLevelObjectives/%s", project, svc.ServiceID, v.SloID)
		out[name] = slo{
			job: job, windowPeriod: w.WindowPeriod, timeSeries: w.MetricMeanInRange[0].TimeSeries,
			min: w.MetricMeanInRange[0].Range[0].Min, max: w.MetricMeanInRange[0].Range[0].Max,
			goal: v.Goal, rollingDays: v.RollingPeriodDays,
		}
		if v.CalendarPeriod != nil {
			t.Errorf("%s: calendar period %q, want a rolling period only", r.Address, *v.CalendarPeriod)
		}
	}
	return out
}

// TestSLOsJudgeEachSlotOnSuccess: one SLO per deployed scenario, 28-day
// rolling, goal in (0, 0.9999], a window per schedule slot, good exactly
// when the slot's success point is 1 (not 0).
func TestSLOsJudgeEachSlotOnSuccess(t *testing.T) {
	f := load(t)
	iv := f.intervals(t)
	byJob := map[string]slo{}
	for name, s := range f.slos(t) {
		if _, dup := byJob[s.job]; dup {
			t.Errorf("two SLOs for %s", s.job)
		}
		byJob[s.job] = s
		if s.rollingDays != 28 {
			t.Errorf("%s: rolling period %d days, want 28", name, s.rollingDays)
		}
		if s.goal <= 0 || s.goal > 0.9999 {
			t.Errorf("%s: goal %v outside Monitoring's (0, 0.9999]", name, s.goal)
		}
		if want := fmt.Sprintf("%ds", iv[s.job]*60); s.windowPeriod != want {
			t.Errorf("%s: window %s, want the scenario's slot %s", name, s.windowPeriod, want)
		}
		if mt, job := f.checkFilter(t, name, s.timeSeries); mt != f.cat.Prefix+"success" || job != s.job {
			t.Errorf("%s: SLI on %s of %s, want success of %s", name, mt, job, s.job)
		}
		// Either reading of the API's range (min <= x < max, or <= max).
		for _, x := range []float64{0, 1} {
			halfOpen, closed := s.min <= x && x < s.max, s.min <= x && x <= s.max
			if halfOpen != (x == 1) || closed != (x == 1) {
				t.Errorf("%s: range [%v, %v] judges success=%v good=%v (half-open), %v (closed)", name, s.min, s.max, x, halfOpen, closed)
			}
		}
	}
	for _, j := range f.jobs(t) {
		if _, ok := byJob[j]; !ok {
			t.Errorf("no SLO for %s", j)
		}
	}
}

// promQueries returns every PromQL query of the tile's charts.
func promQueries(tile *dashboardpb.MosaicLayout_Tile) []string {
	var out []string
	for _, ds := range tile.GetWidget().GetXyChart().GetDataSets() {
		if q := ds.GetTimeSeriesQuery().GetPrometheusQuery(); q != "" {
			out = append(out, q)
		}
	}
	return out
}

// selectorRE is the one PromQL selector form the configuration uses, with
// its range.
var selectorRE = regexp.MustCompile(`\{"([^"]+)", monitored_resource="generic_task", namespace="bacalhau-canary", env="([^"]+)", job=~"([^"]+)"(?:, [a-z_]+!?=~?"[^"]*")*\}\[([0-9]+)m\](?: offset ([0-9]+)m)?`)

type selector struct {
	metric  string
	jobs    []string
	minutes int
	offset  int
}

// checkPromQL checks every selector of q names a catalogue metric, the
// plan's env and scenarios, and returns them; a query without one fails.
func (f *fixture) checkPromQL(t *testing.T, where, q string) []selector {
	t.Helper()
	ms := selectorRE.FindAllStringSubmatch(q, -1)
	if len(ms) == 0 || strings.Count(q, "{") != len(ms) {
		t.Errorf("%s: query %q has a selector not of the one form", where, q)
	}
	var out []selector
	for _, m := range ms {
		if _, ok := f.metrics[m[1]]; !ok {
			t.Errorf("%s: query names metric %q, which is not in metrics.json", where, m[1])
		}
		if m[2] != f.env {
			t.Errorf("%s: query names env %q, plan is for %q", where, m[2], f.env)
		}
		jobs := strings.Split(m[3], "|")
		for _, j := range jobs {
			if !slices.Contains(scenarios, j) {
				t.Errorf("%s: query names job %q, which is not a scenario", where, j)
			}
		}
		var n int
		fmt.Sscan(m[4], &n)
		var off int
		if m[5] != "" {
			fmt.Sscan(m[5], &off)
		}
		out = append(out, selector{metric: m[1], jobs: jobs, minutes: n, offset: off})
	}
	return out
}

// intervals are the deployed scenarios' CANARY_SCHEDULE_INTERVAL, in minutes.
func (f *fixture) intervals(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range f.ofType("google_cloud_run_v2_job") {
		var v struct {
			Template []struct {
				Template []struct {
					Containers []struct {
						Env []struct{ Name, Value string } `json:"env"`
					} `json:"containers"`
				} `json:"template"`
			} `json:"template"`
		}
		if err := json.Unmarshal(r.Values, &v); err != nil {
			t.Fatalf("%s: %v", r.Address, err)
		}
		for _, e := range v.Template[0].Template[0].Containers[0].Env {
			if e.Name == "CANARY_SCHEDULE_INTERVAL" {
				var n int
				if _, err := fmt.Sscanf(e.Value, "%dm", &n); err != nil {
					t.Errorf("%s: CANARY_SCHEDULE_INTERVAL %q", r.Address, e.Value)
				}
				out[r.Index.(string)] = n
			}
		}
	}
	return out
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
		ConditionPQL []struct {
			Query string `json:"query"`
		} `json:"condition_prometheus_query_language"`
	} `json:"conditions"`
}

// logMetricFilterRE is the canary-broken condition's filter on the
// log-based metric.
var logMetricFilterRE = regexp.MustCompile(`^metric\.type = "logging\.googleapis\.com/user/([^"]+)" AND resource\.type = "cloud_run_job"$`)

// TestAlertPoliciesUseCatalogueMetrics: at most three conditions; the
// failing and stopped queries cover every deployed scenario exactly once,
// over window_runs (5) resp. stopped_runs of its own intervals, grouped by
// job; the canary condition watches the plan's log-based metric.
func TestAlertPoliciesUseCatalogueMetrics(t *testing.T) {
	f := load(t)
	jobs := f.jobs(t)
	iv := f.intervals(t)
	logMetrics := map[string]bool{}
	for _, r := range f.ofType("google_logging_metric") {
		var v struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(r.Values, &v); err != nil {
			t.Fatal(err)
		}
		logMetrics[v.Name] = true
	}
	conditions := 0
	covered := map[string]map[string]int{} // policy -> job/metric -> selectors
	for _, r := range f.ofType("google_monitoring_alert_policy") {
		var p policy
		if err := json.Unmarshal(r.Values, &p); err != nil {
			t.Fatalf("%s: %v", r.Address, err)
		}
		if len(p.Conditions) == 0 {
			t.Errorf("%s: no conditions", r.Address)
		}
		conditions += len(p.Conditions)
		for i, c := range p.Conditions {
			where := fmt.Sprintf("%s condition %d", r.Address, i)
			if len(c.ConditionMQL) > 0 || len(c.ConditionAbsent) > 0 {
				t.Errorf("%s: unexpected MQL or absence condition", where)
			}
			for _, pq := range c.ConditionPQL {
				if !strings.Contains(pq.Query, "by (job)") {
					t.Errorf("%s: query not grouped by job: %s", where, pq.Query)
				}
				for _, sel := range f.checkPromQL(t, where, pq.Query) {
					for _, j := range sel.jobs {
						if covered[r.Name] == nil {
							covered[r.Name] = map[string]int{}
						}
						covered[r.Name][j+"/"+strings.TrimPrefix(sel.metric, f.cat.Prefix)]++
						cause := strings.HasSuffix(sel.metric, "/failure_cause")
						if r.Name == "failing" && !cause && (sel.minutes != 5*iv[j] || sel.offset != iv[j]) {
							t.Errorf("%s: %s's window is %d min offset %d, want 5 runs of %d min offset one interval", where, j, sel.minutes, sel.offset, iv[j])
						}
						// The cause: the newest failure of the window and
						// of the current slot.
						if r.Name == "failing" && cause && (sel.minutes != 6*iv[j] || sel.offset != 0) {
							t.Errorf("%s: %s's cause range is %d min offset %d, want 6 runs of %d min, no offset", where, j, sel.minutes, sel.offset, iv[j])
						}
					}
				}
			}
			for _, ct := range c.ConditionThreshold {
				m := logMetricFilterRE.FindStringSubmatch(ct.Filter)
				if m == nil || !logMetrics[m[1]] {
					t.Errorf("%s: filter %q does not name a log-based metric of the plan", where, ct.Filter)
				}
			}
		}
	}
	if conditions > 3 {
		t.Errorf("%d alert conditions, at most 3 ($4.50 a month)", conditions)
	}
	for _, s := range jobs {
		// failing: count and sum of success, twice (the branch with the
		// cause and the one without), failure_cause once, and nothing of
		// failed_run (its class and phase would split the incident);
		// stopped: two ranges of duration_seconds.
		if n, m, c := covered["failing"][s+"/success"], covered["failing"][s+"/failed_run"], covered["failing"][s+"/failure_cause"]; n != 4 || m != 0 || c != 1 {
			t.Errorf("failing reads %s's success %d, failed_run %d and failure_cause %d times, want 4, 0 and 1 (one branch)", s, n, m, c)
		}
		if n := covered["stopped"][s+"/duration_seconds"]; n != 2 {
			t.Errorf("stopped covers %s %d times, want once (two ranges)", s, n/2)
		}
	}
}

// docVarRE is one documentation variable, ${name}.
var docVarRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// TestAlertDocumentationFits: each policy's documentation is within the
// API's limits (content: 8,192 characters and 10,240 bytes; a subject is
// cut to 255 bytes once expanded, so its text stays well below), and names
// only variables its firing series has: the scenario (job) of a PromQL
// policy, and the failing one's value, the cause; the log metric's
// threshold series' job_name.
func TestAlertDocumentationFits(t *testing.T) {
	f := load(t)
	allowed := map[string]map[string]bool{
		"failing": {"metric.label.job": true, "metric.label.value": true},
		"stopped": {"metric.label.job": true},
		"canary":  {"metric.label.job_name": true},
	}
	for _, r := range f.ofType("google_monitoring_alert_policy") {
		var p struct {
			Documentation []struct {
				Subject string `json:"subject"`
				Content string `json:"content"`
			} `json:"documentation"`
		}
		if err := json.Unmarshal(r.Values, &p); err != nil {
			t.Fatalf("%s: %v", r.Address, err)
		}
		if len(p.Documentation) != 1 {
			t.Errorf("%s: %d documentation blocks, want 1", r.Address, len(p.Documentation))
			continue
		}
		d := p.Documentation[0]
		if n, b := utf8.RuneCountInString(d.Content), len(d.Content); n > 8192 || b > 10240 {
			t.Errorf("%s: content of %d characters, %d bytes: the API takes at most 8,192 and 10,240", r.Address, n, b)
		}
		if text := docVarRE.ReplaceAllString(d.Subject, ""); d.Subject == "" || len(text) > 160 {
			t.Errorf("%s: subject %q: want one whose text, with room for its variables, fits in 255 bytes", r.Address, d.Subject)
		}
		for _, m := range docVarRE.FindAllStringSubmatch(d.Subject+d.Content, -1) {
			if !allowed[r.Name][m[1]] {
				t.Errorf("%s: documentation variable ${%s} is not one the policy's series has", r.Address, m[1])
			}
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
