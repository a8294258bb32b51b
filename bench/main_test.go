package main

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestStats(t *testing.T) {
	s := stats([]float64{5, 1, 4, 2, 3})
	if s.N != 5 || s.Min != 1 || s.Max != 5 || s.Median != 3 {
		t.Errorf("got %+v", s)
	}
	if want := 4.8; s.P95 < want-1e-9 || s.P95 > want+1e-9 {
		t.Errorf("p95 = %v, want %v (between the two largest)", s.P95, want)
	}
	if stats(nil) != (Stats{}) {
		t.Error("empty samples should give zero stats")
	}
	if s := stats([]float64{7}); s.Median != 7 || s.P95 != 7 {
		t.Errorf("one sample: %+v", s)
	}
}

func TestRequestCounter(t *testing.T) {
	var n atomic.Int64
	c := requestCounter{&n}
	c.Write([]byte("PUT /api/v1/orchestrator/jobs HTTP/1.1\r\nHost: x\r\n\r\n{}GET /api/v1/orchestrator/jobs/j-1 HTTP/1.1\r\n\r\n"))
	c.Write([]byte("GET /a HTTP/1.1\r\n\r\n"))
	if n.Load() != 3 {
		t.Errorf("counted %d requests, want 3", n.Load())
	}
}

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{
		66 * time.Second:                       "1m06s",
		3 * time.Minute:                        "3m",
		4*time.Minute + 53900*time.Millisecond: "4m54s",
		45 * time.Second:                       "45s",
	} {
		if got := short(d); got != want {
			t.Errorf("short(%s) = %q, want %q", d, got, want)
		}
	}
}
