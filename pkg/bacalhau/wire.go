package bacalhau

import (
	"cmp"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// wireTransport sits below the checking transport and sees each reply as
// it came, whatever the verdict on its body: it notes the reply's status
// in its call's verdict (for the retries), and the
// version header of the first reply that has one. Bacalhau v1.7.0 and
// v1.9.3 set that header on every reply; a missing or odd one fails
// nothing.
type wireTransport struct {
	base http.RoundTripper

	mu      sync.Mutex
	version string
}

func (t *wireTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// net/http itself sends a GET again on a new connection when a reused
	// one closed before any byte of the reply (an EOF): each connection
	// after the first is such a retry, counted as the canary's own.
	var conns atomic.Int32
	ctx := req.Context()
	resp, err := t.base.RoundTrip(req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { conns.Add(1) },
	})))
	for range conns.Load() - 1 {
		scenarios.NoteRetry(ctx, scenarios.FaultEOF)
	}
	if err != nil {
		return nil, err
	}
	verdictOf(ctx).status = resp.StatusCode
	if h := resp.Header.Get(apimodels.HTTPHeaderBacalhauGitVersion); h != "" {
		t.mu.Lock()
		t.version = cmp.Or(t.version, scenarios.SanitizeVersion(h))
		t.mu.Unlock()
	}
	return resp, nil
}

// serverVersion is the sanitised version header of the first reply that
// had one, or scenarios.UnknownVersion.
func (t *wireTransport) serverVersion() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return cmp.Or(t.version, scenarios.UnknownVersion)
}
