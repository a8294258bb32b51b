package scenarios

import (
	"strings"
	"testing"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// A secret cut by a clip keeps no start of itself (of at least minPrefix
// bytes) before the clip note, whatever its length.
func TestRedactClippedSecret(t *testing.T) {
	t.Parallel()
	for _, n := range []int{8, 300, 64 << 10} {
		key := strings.Repeat("k7", n/2)
		for _, keep := range []int{minPrefix, n / 2, n - 1} {
			clipped := text.Clip("token "+key+" rejected", 6+keep)
			got := NewRedactor(key).Redact(clipped)
			if strings.Contains(got, key[:minPrefix]) || !strings.Contains(got, Redacted+text.ClipNote) {
				t.Errorf("key of %d bytes cut after %d: %.80q", n, keep, got)
			}
		}
	}
	// Text before a clip that is no start of the secret stays.
	if got := NewRedactor("secret-value").Redact(text.Clip("nothing secret here at all", 10)); !strings.HasPrefix(got, "nothing se") {
		t.Errorf("got %q", got)
	}
}

// BenchmarkRedact64KiBKey: Secret Manager's largest payload echoed into a
// clipped error text (the case that was quadratic: seconds of CPU).
func BenchmarkRedact64KiBKey(b *testing.B) {
	key := strings.Repeat("a", 64<<10)
	text := text.Clip("HTTP 400: request carried Authorization: Bearer "+key+" and more", 300)
	r := NewRedactor(key)
	b.ResetTimer()
	for b.Loop() {
		if strings.Contains(r.Redact(text), key[:64]) {
			b.Fatal("key not redacted")
		}
	}
}
