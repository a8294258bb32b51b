package model

import (
	"math"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// The job and API the request counts assume: prod's docker job at up to
// about 10 s and a remote API at 100 ms round trip.
const (
	ProdJob = 10 * time.Second
	ProdRTT = 100 * time.Millisecond
)

// RunRequests are the requests one run of a scenario makes.
type RunRequests struct {
	// Once fail the run at their first transient fault: the submit (never
	// repeated; a reply lost after the server took it is recovered by the
	// label search, so counting it here is conservative) and the result
	// download.
	Once int
	// Reads are the idempotent API reads, each tried bacalhau.ReadTries
	// times before a transient fault fails the run.
	Reads int
}

// Requests counts a scenario's requests as its file makes them: the
// submit, Wait's polls for a job of ProdJob at ProdRTT, and the reads
// after it (executions; describe's get and history; the results list and
// the download).
func Requests(scenario string) RunRequests {
	polls := scenarios.Polls(ProdJob, ProdRTT)
	switch scenario {
	case "list":
		return RunRequests{Reads: 1}
	case "submit", "submitWithConcurrency":
		return RunRequests{Once: 1, Reads: polls + 1}
	case "submitAndDescribe":
		return RunRequests{Once: 1, Reads: polls + 3}
	case "submitAndGet":
		return RunRequests{Once: 2, Reads: polls + 2}
	}
	return RunRequests{Once: 1, Reads: polls + 3} // an unknown scenario: the most any makes
}

// RunFailure is the probability that a run fails when each request fails
// independently with probability q (a transient fault: a dropped request,
// a load balancer's 502) and the network is otherwise healthy. tries is
// how often a read is tried (1: no retries).
func RunFailure(q float64, r RunRequests, tries int) float64 {
	readFails := math.Pow(q, float64(tries))
	return 1 - math.Pow(1-q, float64(r.Once))*math.Pow(1-readFails, float64(r.Reads))
}

// FalsePagesPerRequestRate is FalsePagesPerQuarter of a scenario whose
// requests fail independently with probability q.
func FalsePagesPerRequestRate(q float64, scenario string, failed, window int, interval time.Duration, tries int) float64 {
	return FalsePagesPerQuarter(RunFailure(q, Requests(scenario), tries), failed, window, interval)
}

// ReadTries is how often the canary tries a read (pkg/bacalhau).
const ReadTries = bacalhau.ReadTries
