package canary

import "testing"

func TestBuildVersion(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "abc1234"
	if got := BuildVersion(); got != "abc1234" {
		t.Errorf("stamped: %q, want abc1234", got)
	}
	Version = ""
	if got := BuildVersion(); got == "" || got == "abc1234" {
		t.Errorf("unstamped: %q, want the build info's version or (devel)", got)
	}
}
