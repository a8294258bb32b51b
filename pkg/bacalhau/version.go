package bacalhau

import (
	"net/http"
	"sync"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// VersionHeader carries the server's version on every API reply: Bacalhau
// v1.7.0 and v1.9.3 set it (with the commit, build date, OS and arch) in
// their ServerHeader middleware from the node's version.
const VersionHeader = apimodels.HTTPHeaderBacalhauGitVersion

// versionTransport notes the version header of the first reply that has
// one. It reads the replies the client gets anyway: no extra request, and
// a missing or odd header fails nothing.
type versionTransport struct {
	base http.RoundTripper

	mu      sync.Mutex
	version string
}

func (t *versionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil && resp != nil {
		if v := resp.Header.Get(VersionHeader); v != "" {
			t.mu.Lock()
			if t.version == "" {
				t.version = scenarios.SanitizeVersion(v)
			}
			t.mu.Unlock()
		}
	}
	return resp, err
}

// serverVersion is the sanitised version header of the first reply that
// had one, or scenarios.UnknownVersion.
func (t *versionTransport) serverVersion() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.version == "" {
		return scenarios.UnknownVersion
	}
	return t.version
}
