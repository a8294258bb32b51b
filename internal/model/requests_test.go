package model

import (
	"math"
	"testing"
	"time"
)

func TestRunFailure(t *testing.T) {
	t.Parallel()
	q := 0.001
	// Without retries every request counts: a submit polling 15 times
	// fails about 1.7% of its runs.
	r := RunRequests{Once: 1, Reads: 16}
	if got, want := RunFailure(q, r, 1), 1-math.Pow(1-q, 17); math.Abs(got-want) > 1e-15 {
		t.Errorf("no retries: %v, want %v", got, want)
	}
	// With them a read fails only when every try does: the submit is
	// what is left.
	if got := RunFailure(q, r, ReadTries); got < q || got > q*1.0001 {
		t.Errorf("with retries: %v, want about %v (the submit alone)", got, q)
	}
	if RunFailure(q, RunRequests{Reads: 1}, ReadTries) > 1e-12 {
		t.Error("a list with retries should practically never fail on transient faults")
	}
	if RunFailure(0, r, 1) != 0 || RunFailure(1, r, ReadTries) != 1 {
		t.Error("the bounds")
	}
}

func TestRequests(t *testing.T) {
	t.Parallel()
	// The polling goal: at most about 15 GETs for a 10 s job at 100 ms.
	if r := Requests("submit"); r.Reads-1 > 15 {
		t.Errorf("submit polls %d times for a %s job at %s", r.Reads-1, ProdJob, ProdRTT)
	}
	// The count before the change: 0.1% per request paged prod's
	// submit about 23 times a quarter; now far below one.
	if f := FalsePagesPerRequestRate(0.001, "submit", 3, 5, time.Minute, ReadTries); f > 0.01 {
		t.Errorf("submit every minute at 0.1%% per request: %.3f false pages a quarter", f)
	}
}
