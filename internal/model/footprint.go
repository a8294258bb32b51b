package model

import "time"

// The canary's job-store bound. Neither supported Bacalhau release deletes
// or collects jobs, and every job list (the canary's and every user's
// `bacalhau job list`, label filter or not) loads, decodes and sorts every
// job in the store: each canary job adds the same time to every list call.
const (
	// ListPerJob is what one canary job adds to a list call on a v1.7.0
	// orchestrator: 331 ms at 10,000 jobs, measured on a real orchestrator
	// whose store was seeded with canary-shaped jobs (DESIGN; `make
	// footprint` measures it again, docs/jobstore.md).
	ListPerJob = 331 * time.Millisecond / 10000
	// ListBudget is the most the canary's jobs may add to any list call.
	ListBudget = 250 * time.Millisecond
	// PurgeEvery is how often an operator purges the canary's jobs at most
	// (jobstore purge, docs/jobstore.md).
	PurgeEvery = 7 * 24 * time.Hour
	// MaxJobsBetweenPurges is ListBudget / ListPerJob (7,552), rounded
	// down to 7,500.
	MaxJobsBetweenPurges = 7500
	// MaxJobsPerDay is what prod may submit a day: 1,071.
	MaxJobsPerDay = MaxJobsBetweenPurges / int(PurgeEvery/(24*time.Hour))
)

// WeekJobs is how many canary jobs the scenario leaves in the store
// between two weekly purges, and ListAdded what they add to a list call.
func (s Scheduled) WeekJobs() int { return s.JobsPerDay() * int(PurgeEvery/(24*time.Hour)) }

// ListAdded is what n canary jobs add to a list call (v1.7.0).
func ListAdded(n int) time.Duration { return time.Duration(n) * ListPerJob }
