package model

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PlanSummary is what the models take from one env's Terraform plan (tofu
// show -json): the deployed scenarios with their schedules, the jobs' CPU and
// memory, the alert's N of M and the number of alert conditions. tf-check
// plans every env and TestPlanSummariesAreFresh fails when
// testdata/plans.json no longer says what the plans say.
type PlanSummary struct {
	Env             string            `json:"env"`
	IntervalMinutes map[string]int    `json:"interval_minutes"` // per scenario, from CANARY_SCHEDULE_INTERVAL
	Schedules       map[string]string `json:"schedules"`        // per scenario, the scheduler's cron
	TimeoutSeconds  int               `json:"timeout_seconds"`  // CANARY_TIMEOUT
	CPU             string            `json:"cpu"`
	Memory          string            `json:"memory"`
	Failed          int               `json:"failed_runs"`  // network failing: at least Failed ...
	Window          int               `json:"window_runs"`  // ... of the last Window runs
	StoppedRuns     int               `json:"stopped_runs"` // stopped: no run for StoppedRuns intervals
	Conditions      int               `json:"conditions"`
	// JobEnv is each scenario's planned job environment (the Cloud Run
	// job's env list), for the job's own configuration check
	// (functions/job TestPlannedJobEnvironments).
	JobEnv map[string]map[string]string `json:"job_env"`
}

//go:embed testdata/plans.json
var plansJSON []byte

// Plans are the summaries of the committed plans, keyed by env.
func Plans() (map[string]PlanSummary, error) {
	var out map[string]PlanSummary
	if err := json.Unmarshal(plansJSON, &out); err != nil {
		return nil, fmt.Errorf("testdata/plans.json: %w", err)
	}
	return out, nil
}

type tfPlan struct {
	Variables map[string]struct {
		Value any `json:"value"`
	} `json:"variables"`
	PlannedValues struct {
		RootModule struct {
			Resources []struct {
				Type   string          `json:"type"`
				Name   string          `json:"name"`
				Index  any             `json:"index"`
				Values json.RawMessage `json:"values"`
			} `json:"resources"`
		} `json:"root_module"`
	} `json:"planned_values"`
}

var (
	// A failing branch: "... [Wm])) ...) >= F" and a stopped branch's short range.
	failingRE = regexp.MustCompile(`job=~"([^"]+)"\}\[([0-9]+)m\] offset [0-9]+m\)\)\) >= ([0-9]+)`)
	stoppedRE = regexp.MustCompile(`unless max by \(job\) \(last_over_time\(\{[^}]*job=~"([^"]+)"\}\[([0-9]+)m\]\)\)`)
)

// Summarize reads a plan's JSON.
func Summarize(raw []byte) (PlanSummary, error) {
	var p tfPlan
	if err := json.Unmarshal(raw, &p); err != nil {
		return PlanSummary{}, fmt.Errorf("plan JSON: %w", err)
	}
	env, _ := p.Variables["env"].Value.(string)
	s := PlanSummary{Env: env, IntervalMinutes: map[string]int{}, Schedules: map[string]string{}, JobEnv: map[string]map[string]string{}}
	queries := map[string][]string{} // policy -> PromQL, read once the intervals are known
	for _, r := range p.PlannedValues.RootModule.Resources {
		switch r.Type {
		case "google_cloud_run_v2_job":
			var v struct {
				Template []struct {
					Template []struct {
						Containers []struct {
							Env       []struct{ Name, Value string } `json:"env"`
							Resources []struct {
								Limits map[string]string `json:"limits"`
							} `json:"resources"`
						} `json:"containers"`
					} `json:"template"`
				} `json:"template"`
			}
			if err := json.Unmarshal(r.Values, &v); err != nil || len(v.Template) == 0 || len(v.Template[0].Template) == 0 || len(v.Template[0].Template[0].Containers) == 0 {
				return s, fmt.Errorf("cloud run job %v: no container (%v)", r.Index, err)
			}
			c := v.Template[0].Template[0].Containers[0]
			key, _ := r.Index.(string)
			s.JobEnv[key] = map[string]string{}
			for _, e := range c.Env {
				s.JobEnv[key][e.Name] = e.Value
				switch e.Name {
				case "CANARY_SCHEDULE_INTERVAL":
					d, err := time.ParseDuration(e.Value)
					if err != nil {
						return s, fmt.Errorf("%s: CANARY_SCHEDULE_INTERVAL %q: %w", key, e.Value, err)
					}
					s.IntervalMinutes[key] = int(d / time.Minute)
				case "CANARY_TIMEOUT":
					d, err := time.ParseDuration(e.Value)
					if err != nil {
						return s, fmt.Errorf("%s: CANARY_TIMEOUT %q: %w", key, e.Value, err)
					}
					s.TimeoutSeconds = int(d / time.Second)
				}
			}
			if len(c.Resources) > 0 {
				s.CPU, s.Memory = c.Resources[0].Limits["cpu"], c.Resources[0].Limits["memory"]
			}
		case "google_cloud_scheduler_job":
			var v struct {
				Schedule string `json:"schedule"`
			}
			if err := json.Unmarshal(r.Values, &v); err != nil {
				return s, fmt.Errorf("scheduler job %v: %w", r.Index, err)
			}
			key, _ := r.Index.(string)
			s.Schedules[key] = v.Schedule
		case "google_monitoring_alert_policy":
			var v struct {
				Conditions []struct {
					PQL []struct {
						Query string `json:"query"`
					} `json:"condition_prometheus_query_language"`
				} `json:"conditions"`
			}
			if err := json.Unmarshal(r.Values, &v); err != nil {
				return s, fmt.Errorf("alert policy %s: %w", r.Name, err)
			}
			s.Conditions += len(v.Conditions)
			for _, c := range v.Conditions {
				for _, q := range c.PQL {
					queries[r.Name] = append(queries[r.Name], q.Query)
				}
			}
		}
	}
	for _, policy := range []string{"failing", "stopped"} {
		for _, q := range queries[policy] {
			if err := s.readQuery(policy, q); err != nil {
				return s, err
			}
		}
	}
	if len(s.IntervalMinutes) == 0 || s.Window == 0 || s.Failed == 0 || s.StoppedRuns == 0 {
		return s, fmt.Errorf("plan of %q: no scheduled scenario or no failing/stopped condition", env)
	}
	return s, nil
}

// readQuery takes N of M (failing) or the stopped runs from a policy's
// PromQL: the range of each branch divided by its scenarios' interval.
func (s *PlanSummary) readQuery(policy, q string) error {
	re := map[string]*regexp.Regexp{"failing": failingRE, "stopped": stoppedRE}[policy]
	if re == nil {
		return nil
	}
	for _, m := range re.FindAllStringSubmatch(q, -1) {
		minutes, _ := strconv.Atoi(m[2])
		for _, job := range strings.Split(m[1], "|") {
			iv := s.IntervalMinutes[job]
			if iv == 0 || minutes%iv != 0 {
				return fmt.Errorf("%s: %s's range %dm is not a whole number of its %d-minute intervals", policy, job, minutes, iv)
			}
			runs := minutes / iv
			target := &s.StoppedRuns
			if policy == "failing" {
				target = &s.Window
				f, _ := strconv.Atoi(m[3])
				if s.Failed != 0 && s.Failed != f {
					return fmt.Errorf("failing: thresholds %d and %d differ between branches", s.Failed, f)
				}
				s.Failed = f
			}
			if *target != 0 && *target != runs {
				return fmt.Errorf("%s: %d and %d runs differ between scenarios", policy, *target, runs)
			}
			*target = runs
		}
	}
	return nil
}
