package model

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"
)

// RunTimes is the billed time of one run of each scenario: the cost
// model's one input of run times (runtimes.json).
type RunTimes struct {
	Measured bool   // false while the numbers are placeholders
	Source   string // where and how they were measured
	Billed   map[string]time.Duration
	Default  time.Duration // a scenario missing from Billed
}

//go:embed runtimes.json
var runTimesJSON []byte

// LoadRunTimes reads runtimes.json.
func LoadRunTimes() (RunTimes, error) {
	var f struct {
		Measured bool               `json:"measured"`
		Source   string             `json:"source"`
		Seconds  map[string]float64 `json:"seconds"`
		Default  float64            `json:"default_seconds"`
	}
	if err := json.Unmarshal(runTimesJSON, &f); err != nil {
		return RunTimes{}, fmt.Errorf("runtimes.json: %w", err)
	}
	if f.Source == "" || f.Default <= 0 {
		return RunTimes{}, fmt.Errorf("runtimes.json: no source or no positive default_seconds")
	}
	r := RunTimes{Measured: f.Measured, Source: f.Source, Billed: map[string]time.Duration{}, Default: seconds(f.Default)}
	for name, s := range f.Seconds {
		if s <= 0 || s > 3600 {
			return RunTimes{}, fmt.Errorf("runtimes.json: %s: %v s is not a run time", name, s)
		}
		r.Billed[name] = seconds(s)
	}
	return r, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Of is the billed time of one run of the named scenario.
func (r RunTimes) Of(name string) time.Duration {
	if d, ok := r.Billed[name]; ok {
		return d
	}
	return r.Default
}
