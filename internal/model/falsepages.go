package model

import "time"

// Quarter is a quarter of a year.
const Quarter = 91*24*time.Hour + 6*time.Hour

// FalsePagesPerQuarter is the expected number of pages a quarter of the
// "network failing" condition when each run fails independently with
// probability p and the network is otherwise healthy: the rate at which the
// failed runs among the last Window slots rise to Failed from below
// (a page opens when the condition turns true; slots are exact, so a window
// holds exactly Window runs).
func FalsePagesPerQuarter(p float64, failed, window int, interval time.Duration) float64 {
	if interval <= 0 || failed < 1 || window < failed {
		return 0
	}
	// Enumerate the Window+1 newest slots: the previous window is slots
	// 0..W-1, the current one 1..W.
	n := window + 1
	onset := 0.0
	for mask := 0; mask < 1<<n; mask++ {
		prob, prev, cur := 1.0, 0, 0
		for i := range n {
			f := mask&(1<<i) != 0
			if f {
				prob *= p
			} else {
				prob *= 1 - p
			}
			if f && i < window {
				prev++
			}
			if f && i >= 1 {
				cur++
			}
		}
		if prev < failed && cur >= failed {
			onset += prob
		}
	}
	return onset * float64(Quarter/interval)
}
