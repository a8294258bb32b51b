package promqlcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Env is what the checks take from one env's plan.
type Env struct {
	Name      string
	Project   string // GOOGLE_CLOUD_PROJECT of the jobs
	Location  string // CANARY_LOCATION of the jobs
	Scenarios []Scenario
	Failing   Condition // policy "failing"
	Stopped   Condition // policy "stopped"
	// Queries are every PromQL query of every alert policy, by policy name.
	Queries map[string][]string
}

// Scenario is one deployed scenario: its schedule and deadline.
type Scenario struct {
	Name     string
	Interval time.Duration // CANARY_SCHEDULE_INTERVAL, the same as the scheduler's cron
	Timeout  time.Duration // CANARY_TIMEOUT
}

// Condition is a policy's one PromQL condition and the thresholds its
// display name states (the design, rendered from the same settings as the
// query but not from the query).
type Condition struct {
	Query string
	Every time.Duration // evaluation_interval
	// Failing: at least Failed of the last Window scheduled runs failed.
	Failed, Window int
	// Stopped: no run recorded for Runs intervals.
	Runs int
}

// Intervals are the distinct schedules of the env, shortest first.
func (e Env) Intervals() []time.Duration {
	var ivs []time.Duration
	for _, s := range e.Scenarios {
		if !slices.Contains(ivs, s.Interval) {
			ivs = append(ivs, s.Interval)
		}
	}
	slices.Sort(ivs)
	return ivs
}

// Scenario returns the scenario named name.
func (e Env) Scenario(name string) (Scenario, bool) {
	i := slices.IndexFunc(e.Scenarios, func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return e.Scenarios[i], true
}

type planJSON struct {
	Variables map[string]struct {
		Value any `json:"value"`
	} `json:"variables"`
	PlannedValues struct {
		RootModule struct {
			Resources []planResource `json:"resources"`
		} `json:"root_module"`
	} `json:"planned_values"`
	ResourceChanges []struct {
		Type   string `json:"type"`
		Name   string `json:"name"`
		Index  any    `json:"index"`
		Change struct {
			After json.RawMessage `json:"after"`
		} `json:"change"`
	} `json:"resource_changes"`
}

type planResource struct {
	Type   string          `json:"type"`
	Name   string          `json:"name"`
	Index  any             `json:"index"`
	Values json.RawMessage `json:"values"`
}

type runJob struct {
	Template []struct {
		Template []struct {
			Containers []struct {
				Env []struct{ Name, Value string } `json:"env"`
			} `json:"containers"`
		} `json:"template"`
	} `json:"template"`
}

type alertPolicy struct {
	Conditions []struct {
		DisplayName string `json:"display_name"`
		PQL         []struct {
			Query              string `json:"query"`
			EvaluationInterval string `json:"evaluation_interval"`
		} `json:"condition_prometheus_query_language"`
	} `json:"conditions"`
}

var (
	failingNameRE = regexp.MustCompile(`^at least ([0-9]+) of the last ([0-9]+) scheduled runs failed$`)
	stoppedNameRE = regexp.MustCompile(`^no run recorded for ([0-9]+) intervals$`)
	cronRE        = regexp.MustCompile(`^(\*|\*/([0-9]+)|0) \* \* \* \*$`)
)

// LoadEnv reads one env's plan (tofu show -json).
func LoadEnv(path string) (Env, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Env{}, err
	}
	var p planJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		return Env{}, fmt.Errorf("%s: plan JSON: %w", path, err)
	}
	e, err := readEnv(p)
	if err != nil {
		return Env{}, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// resources are the plan's planned values, or its resource changes' after
// values when it has none.
func (p planJSON) resources() []planResource {
	if len(p.PlannedValues.RootModule.Resources) > 0 {
		return p.PlannedValues.RootModule.Resources
	}
	out := make([]planResource, 0, len(p.ResourceChanges))
	for _, r := range p.ResourceChanges {
		out = append(out, planResource{Type: r.Type, Name: r.Name, Index: r.Index, Values: r.Change.After})
	}
	return out
}

func readEnv(p planJSON) (Env, error) {
	e := Env{Queries: map[string][]string{}}
	e.Name, _ = p.Variables["env"].Value.(string)
	if e.Name == "" {
		return e, errors.New("no variable env")
	}
	crons := map[string]time.Duration{}
	for _, r := range p.resources() {
		key, _ := r.Index.(string)
		switch r.Type {
		case "google_cloud_run_v2_job":
			s, project, location, err := readJob(key, r.Values)
			if err != nil {
				return e, err
			}
			e.Scenarios = append(e.Scenarios, s)
			if e.Project != "" && (e.Project != project || e.Location != location) {
				return e, fmt.Errorf("cloud run job %s: project/location %s/%s differ from %s/%s", key, project, location, e.Project, e.Location)
			}
			e.Project, e.Location = project, location
		case "google_cloud_scheduler_job":
			var v struct {
				Schedule string `json:"schedule"`
			}
			if err := json.Unmarshal(r.Values, &v); err != nil {
				return e, fmt.Errorf("scheduler job %s: %w", key, err)
			}
			iv, err := cronInterval(v.Schedule)
			if err != nil {
				return e, fmt.Errorf("scheduler job %s: %w", key, err)
			}
			crons[key] = iv
		case "google_monitoring_alert_policy":
			if err := e.readPolicy(r.Name, r.Values); err != nil {
				return e, fmt.Errorf("alert policy %s: %w", r.Name, err)
			}
		}
	}
	if len(e.Scenarios) == 0 {
		return e, errors.New("no cloud run job")
	}
	slices.SortFunc(e.Scenarios, func(a, b Scenario) int { return compareStrings(a.Name, b.Name) })
	for _, s := range e.Scenarios {
		iv, ok := crons[s.Name]
		if !ok {
			return e, fmt.Errorf("scenario %s has no scheduler job", s.Name)
		}
		if iv != s.Interval {
			return e, fmt.Errorf("scenario %s: CANARY_SCHEDULE_INTERVAL %s but its cron runs every %s", s.Name, s.Interval, iv)
		}
	}
	if e.Failing.Query == "" || e.Stopped.Query == "" {
		return e, errors.New("no failing or no stopped PromQL condition")
	}
	return e, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func readJob(key string, values json.RawMessage) (s Scenario, project, location string, err error) {
	var v runJob
	if err := json.Unmarshal(values, &v); err != nil {
		return s, "", "", fmt.Errorf("cloud run job %s: %w", key, err)
	}
	if len(v.Template) == 0 || len(v.Template[0].Template) == 0 || len(v.Template[0].Template[0].Containers) == 0 {
		return s, "", "", fmt.Errorf("cloud run job %s: no container", key)
	}
	env := map[string]string{}
	for _, kv := range v.Template[0].Template[0].Containers[0].Env {
		env[kv.Name] = kv.Value
	}
	s.Name = env["CANARY_SCENARIO"]
	if s.Name != key {
		return s, "", "", fmt.Errorf("cloud run job %s: CANARY_SCENARIO %q", key, s.Name)
	}
	for name, d := range map[string]*time.Duration{"CANARY_SCHEDULE_INTERVAL": &s.Interval, "CANARY_TIMEOUT": &s.Timeout} {
		if *d, err = time.ParseDuration(env[name]); err != nil || *d <= 0 {
			return s, "", "", fmt.Errorf("cloud run job %s: %s %q is not a positive duration", key, name, env[name])
		}
	}
	project, location = env["GOOGLE_CLOUD_PROJECT"], env["CANARY_LOCATION"]
	if project == "" || location == "" {
		return s, "", "", fmt.Errorf("cloud run job %s: no GOOGLE_CLOUD_PROJECT or CANARY_LOCATION", key)
	}
	return s, project, location, nil
}

// cronInterval is the interval of an every-N-minutes cron.
func cronInterval(cron string) (time.Duration, error) {
	m := cronRE.FindStringSubmatch(cron)
	switch {
	case m == nil:
		return 0, fmt.Errorf("cron %q is not every N minutes", cron)
	case m[1] == "*":
		return time.Minute, nil
	case m[1] == "0":
		return time.Hour, nil
	}
	n, err := strconv.Atoi(m[2])
	if err != nil || n <= 0 || 60%n != 0 {
		return 0, fmt.Errorf("cron %q: minutes must divide an hour", cron)
	}
	return time.Duration(n) * time.Minute, nil
}

func (e *Env) readPolicy(name string, values json.RawMessage) error {
	var v alertPolicy
	if err := json.Unmarshal(values, &v); err != nil {
		return err
	}
	for _, c := range v.Conditions {
		for _, q := range c.PQL {
			e.Queries[name] = append(e.Queries[name], q.Query)
			every, err := time.ParseDuration(q.EvaluationInterval)
			if err != nil || every <= 0 {
				return fmt.Errorf("evaluation_interval %q is not a positive duration", q.EvaluationInterval)
			}
			cond := Condition{Query: q.Query, Every: every}
			var target *Condition
			switch name {
			case "failing":
				m := failingNameRE.FindStringSubmatch(c.DisplayName)
				if m == nil {
					return fmt.Errorf("condition %q does not read \"at least N of the last M scheduled runs failed\"", c.DisplayName)
				}
				cond.Failed, _ = strconv.Atoi(m[1])
				cond.Window, _ = strconv.Atoi(m[2])
				target = &e.Failing
			case "stopped":
				m := stoppedNameRE.FindStringSubmatch(c.DisplayName)
				if m == nil {
					return fmt.Errorf("condition %q does not read \"no run recorded for N intervals\"", c.DisplayName)
				}
				cond.Runs, _ = strconv.Atoi(m[1])
				target = &e.Stopped
			default:
				continue
			}
			if target.Query != "" {
				return errors.New("more than one PromQL condition")
			}
			*target = cond
		}
	}
	return nil
}
