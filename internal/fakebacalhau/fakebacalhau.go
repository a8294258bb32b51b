// Package fakebacalhau is a loopback stand-in for a Bacalhau v1.7
// orchestrator that answers only the job list (the list scenario), for
// tests and benchmarks that need an API but not a network. It notes when
// the first request arrived.
package fakebacalhau

import (
	"compress/gzip"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// API is the fake orchestrator.
type API struct {
	// Key, when set, is the bearer token every request must carry (401 otherwise).
	Key string
	// ListPad, when set, pads the listed job's name to that many bytes and
	// gzips the reply when the client accepts it: the largest reply a
	// canary reads, for memory measurements.
	ListPad int

	srv *http.Server
	lis net.Listener

	mu    sync.Mutex
	first time.Time
	calls int
}

// Start serves the fake on 127.0.0.1.
func Start() (*API, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &API{lis: lis}
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve)}
	go func() { _ = a.srv.Serve(lis) }()
	return a, nil
}

// Host and Port are the values of BACALHAU_API_HOST and BACALHAU_API_PORT.
func (a *API) Host() string { return a.lis.Addr().(*net.TCPAddr).IP.String() }

// Port is the API's port.
func (a *API) Port() int { return a.lis.Addr().(*net.TCPAddr).Port }

// Close stops the server.
func (a *API) Close() { _ = a.srv.Close() }

// First is when the first request arrived (zero before any), and Calls
// how many came.
func (a *API) First() (time.Time, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.first, a.calls
}

// Reset forgets the requests seen so far.
func (a *API) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.first, a.calls = time.Time{}, 0
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	a.mu.Lock()
	if a.calls == 0 {
		a.first = now
	}
	a.calls++
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); a.Key != "" && token != a.Key {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/api/v1/orchestrator/jobs" {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(apimodels.APIError{HTTPStatusCode: 404, Message: "not served by the fake: " + r.URL.Path})
		return
	}
	job := &models.Job{ID: "j-fake-1", CreateTime: now.UnixNano(), State: models.NewJobState(models.JobStateTypeCompleted)}
	if a.ListPad > 0 {
		job.Name = strings.Repeat("n", a.ListPad)
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			defer gz.Close()
			_ = json.NewEncoder(gz).Encode(apimodels.ListJobsResponse{Items: []*models.Job{job}})
			return
		}
	}
	_ = json.NewEncoder(w).Encode(apimodels.ListJobsResponse{Items: []*models.Job{job}})
}
