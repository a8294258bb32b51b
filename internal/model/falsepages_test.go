package model

import (
	"math"
	"testing"
	"time"
)

func TestFalsePagesPerQuarter(t *testing.T) {
	t.Parallel()
	// Onset needs the newest slot to fail and exactly Failed-1 of the
	// previous Window-1 to have failed, the oldest of the previous window
	// not counting: for 3 of 5, C(4,2)·p³·(1-p)² + the case the oldest
	// failed is excluded by prev < 3 (it leaves as the newest enters).
	p := 0.005
	slots := float64(Quarter / time.Minute)
	got := FalsePagesPerQuarter(p, 3, 5, time.Minute)
	// Exact: newest fails, 2 of the middle 4 fail, and the oldest did not
	// fail (else prev = 3 already) -> C(4,2) p^3 (1-p)^3.
	want := 6 * math.Pow(p, 3) * math.Pow(1-p, 3) * slots
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("got %v, want %v", got, want)
	}
	if FalsePagesPerQuarter(p, 3, 5, 5*time.Minute) >= got {
		t.Error("a longer interval must page less often")
	}
	if FalsePagesPerQuarter(0.01, 3, 5, time.Minute) <= got {
		t.Error("a higher failure rate must page more often")
	}
	if FalsePagesPerQuarter(p, 0, 5, time.Minute) != 0 || FalsePagesPerQuarter(p, 3, 5, 0) != 0 {
		t.Error("a degenerate policy must not page")
	}
}
