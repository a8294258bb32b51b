package bacalhau_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// server answers every job list with the given version headers, one per
// call (the last repeats), and status.
func server(t *testing.T, status int, versions ...string) (bacalhau.Options, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		if len(versions) > 0 {
			if v := versions[min(n, len(versions)-1)]; v != "" {
				w.Header().Set(apimodels.HTTPHeaderBacalhauGitVersion, v)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status == http.StatusOK {
			w.Write([]byte(`{"Items":[]}`))
		} else {
			w.Write([]byte(`{"error":"boom","message":"boom"}`))
		}
	}))
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return bacalhau.Options{Host: host, Port: p, Timeout: 5 * time.Second}, &calls
}

func TestServerVersionFromReplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		status   int
		versions []string
		calls    int
		want     string
	}{
		{"v1.9.3 header", http.StatusOK, []string{"v1.9.3"}, 1, "v1.9.3"},
		{"v1.7.0 header on an error reply", http.StatusBadRequest, []string{"v1.7.0"}, 1, "v1.7.0"},
		{"no header", http.StatusOK, nil, 2, scenarios.UnknownVersion},
		{"not a version", http.StatusOK, []string{"v1.9.3 <b>"}, 1, scenarios.UnknownVersion},
		{"first reply with one wins", http.StatusOK, []string{"", "v1.9.3", "v1.7.0"}, 3, "v1.9.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts, calls := server(t, tc.status, tc.versions...)
			conn := bacalhau.New(opts)
			api := conn.Jobs
			if got := conn.Version(); got != scenarios.UnknownVersion {
				t.Errorf("before any call: %q, want unknown", got)
			}
			for i := 0; i < tc.calls; i++ {
				_, err := api.List(context.Background(), &apimodels.ListJobsRequest{})
				if (err == nil) != (tc.status == http.StatusOK) {
					t.Fatalf("list: %v with status %d", err, tc.status)
				}
			}
			if got := conn.Version(); got != tc.want {
				t.Errorf("server version %q, want %q", got, tc.want)
			}
			if n := int(calls.Load()); n != tc.calls {
				t.Errorf("%d requests, want %d: reading the version must cost none", n, tc.calls)
			}
		})
	}
}
