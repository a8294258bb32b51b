package fakegcp

import (
	"net"
	"net/http"
	"strings"
	"sync"
)

// Metadata is a fake metadata server: GET /computeMetadata/v1/<path> with
// the Metadata-Flavor: Google header answers Values[path] as text.
type Metadata struct {
	srv *http.Server
	lis net.Listener

	mu       sync.Mutex
	values   map[string]string
	replies  map[string]Reply
	requests []string
}

// Reply is a raw answer for one path: what a broken or hostile metadata
// server sends instead of the value (a redirect, a page, a huge body).
type Reply struct {
	Status int
	Header map[string]string
	Body   []byte
}

// Answer makes path answer r instead of its value.
func (m *Metadata) Answer(path string, r Reply) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.replies == nil {
		m.replies = map[string]Reply{}
	}
	m.replies[path] = r
}

// CloudRun are the values Cloud Run's metadata server gives a job in
// project demo (number 123456789) in europe-west4.
func CloudRun() map[string]string {
	return map[string]string{
		"project/project-id":         "demo",
		"project/numeric-project-id": "123456789",
		"instance/region":            "projects/123456789/regions/europe-west4",
		"instance/zone":              "projects/123456789/zones/europe-west4-1",
	}
}

// StartMetadata serves values on 127.0.0.1. Set GCE_METADATA_HOST to Host().
func StartMetadata(values map[string]string) (*Metadata, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &Metadata{lis: lis, values: map[string]string{}}
	for k, v := range values {
		m.values[k] = v
	}
	m.srv = &http.Server{Handler: http.HandlerFunc(m.serve)}
	go func() { _ = m.srv.Serve(lis) }()
	return m, nil
}

// Host is host:port, the value of GCE_METADATA_HOST.
func (m *Metadata) Host() string { return m.lis.Addr().String() }

// Close stops the server.
func (m *Metadata) Close() { _ = m.srv.Close() }

// Requests lists the paths asked for (under /computeMetadata/v1/), in order.
func (m *Metadata) Requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.requests...)
}

func (m *Metadata) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "Missing required header \"Metadata-Flavor\": \"Google\"", http.StatusForbidden)
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, "Request forbidden: X-Forwarded-For header present", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/computeMetadata/v1/")
	m.mu.Lock()
	m.requests = append(m.requests, path)
	v, found := m.values[path]
	reply, raw := m.replies[path]
	m.mu.Unlock()
	if raw {
		for k, hv := range reply.Header {
			w.Header().Set(k, hv)
		}
		w.WriteHeader(reply.Status)
		_, _ = w.Write(reply.Body)
		return
	}
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/text")
	_, _ = w.Write([]byte(v))
}
