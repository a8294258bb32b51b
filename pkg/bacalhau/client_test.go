package bacalhau

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// serve starts an API on loopback answering every call with h, and
// returns the canary's job API for it.
func serve(t *testing.T, h http.HandlerFunc, mod ...func(*Options)) scenarios.Jobs {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	o := Options{Host: host, Port: p, Timeout: 2 * time.Second, APIKey: "k-123"}
	for _, m := range mod {
		m(&o)
	}
	jobs := New(o).Jobs
	return jobs
}

func reply(code int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func gz(b []byte) string {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.String()
}

// v17AuthBody is what Bacalhau v1.7.0 answers to a wrong API key: its
// authorization middleware's echo.NewHTTPError(500, …) through the API's
// error handler.
const v17AuthBody = `{"Status":500,"Message":"authentication failed: invalid API key","RequestID":"","Code":"InternalError","Component":"APIServer"}`

const goodJob = `{"Job":{"ID":"j-1","Type":"batch","Count":1,"State":{"StateType":"Completed"},"Tasks":[{"Name":"t","Engine":{"Type":"wasm"}}]}}`

func TestRepliesAreClassed(t *testing.T) {
	t.Parallel()
	bomb := gz(append(append([]byte(`{"Job":{"ID":"`), bytes.Repeat([]byte("a"), MaxReplyBytes+1)...), `"}}`...))
	tests := []struct {
		name string
		h    http.HandlerFunc
		want scenarios.Class // "" passes
		text string          // in the error
	}{
		{"ok", reply(200, goodJob), "", ""},
		{"ok-gzip", reply(200, gz([]byte(goodJob)), "Content-Encoding", "gzip"), "", ""},
		{"null-body", reply(200, "null"), scenarios.ErrProtocol, "not one JSON object"},
		{"null-task", reply(200, `{"Job":{"ID":"j-1","Tasks":[null]}}`), scenarios.ErrProtocol, "panic"},
		{"null-input-source", reply(200, `{"Job":{"ID":"j-1","Tasks":[{"InputSources":[null]}]}}`), scenarios.ErrProtocol, ""},
		{"array-body", reply(200, `[]`), scenarios.ErrProtocol, "not one JSON object"},
		{"empty-200", reply(200, ""), scenarios.ErrProtocol, "not one JSON object"},
		{"trailing-data", reply(200, goodJob+`{}`), scenarios.ErrProtocol, "not one JSON object"},
		{"wrong-type", reply(200, `{"Job":"x"}`), scenarios.ErrProtocol, "cannot decode"},
		{"bad-gzip", reply(200, "this is not gzip", "Content-Encoding", "gzip"), scenarios.ErrProtocol, "not"},
		{"unknown-encoding", reply(200, goodJob, "Content-Encoding", "br"), scenarios.ErrProtocol, "Content-Encoding"},
		{"gzip-bomb", reply(200, bomb, "Content-Encoding", "gzip"), scenarios.ErrProtocol, "over"},
		{"huge", reply(200, `{"Job":{"ID":"`+strings.Repeat("b", MaxReplyBytes)+`"}}`), scenarios.ErrProtocol, "over"},
		{"201", reply(201, goodJob), scenarios.ErrProtocol, "HTTP 201"},
		{"204", reply(204, ""), scenarios.ErrProtocol, "HTTP 204"},
		{"302-no-location", reply(302, ""), scenarios.ErrProtocol, "without Location"},
		{"401", reply(401, `{"Status":401,"Message":"Invalid token."}`), scenarios.ErrAuth, ""},
		{"403", reply(403, `{"Status":403,"Message":"Access denied."}`), scenarios.ErrAuth, ""},
		{"500-v17-auth", reply(500, v17AuthBody), scenarios.ErrAuth, "refusing the credentials"},
		{"500-v17-missing-key", reply(500, strings.Replace(v17AuthBody, "authentication failed: invalid API key", "missing authorization header", 1)), scenarios.ErrAuth, ""},
		{"500-v17-capability", reply(500, strings.Replace(v17AuthBody, "authentication failed: invalid API key", "user 'canary' does not have the required capability 'read:job'", 1)), scenarios.ErrAuth, ""},
		{"500-other", reply(500, `{"Status":500,"Message":"database is locked","Code":"InternalError","Component":"APIServer"}`), scenarios.ErrServer, ""},
		{"500-auth-text-elsewhere", reply(500, `{"Status":500,"Message":"job store: authentication failed to etcd","Code":"InternalError","Component":"JobStore"}`), scenarios.ErrServer, ""},
		{"500-html", reply(500, "<html>authentication failed</html>", "Content-Type", "text/html"), scenarios.ErrServer, ""},
		{"500-huge", reply(500, strings.Repeat("x", 3<<20), "Content-Type", "text/html"), scenarios.ErrServer, ""},
		{"503", reply(503, ""), scenarios.ErrServer, ""},
		{"400", reply(400, `{"Status":400,"Message":"bad"}`), scenarios.ErrBadRequest, ""},
		// The status decides, not what the body claims.
		{"404-claiming-a-client-failure", reply(404, `{"Status":0,"Message":"job not found\nforged","Code":"UnauthorizedError","Component":"HTTPClient"}`), scenarios.ErrBadRequest, `HTTP 404 Not Found: "job not found\nforged"`},
		{"500-claiming-401", reply(500, `{"Status":401,"Message":"authentication failed","Code":"InternalError","Component":"APIServer"}`), scenarios.ErrServer, "HTTP 500"},
		{"503-claiming-timeout", reply(503, `{"Status":503,"Code":"TimeOutError","Component":"HTTPClient"}`), scenarios.ErrServer, "HTTP 503"},
		{"503-bad-gzip", reply(503, "down", "Content-Encoding", "gzip"), scenarios.ErrServer, "body unreadable"},
		{"401-unknown-encoding", reply(401, "no", "Content-Encoding", "br"), scenarios.ErrAuth, "HTTP 401"},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, scenarios.ErrTimeout, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jobs := serve(t, tt.h)
			resp, err := jobs.Get(context.Background(), &apimodels.GetJobRequest{JobIDOrName: "j-1"})
			if tt.want == "" {
				if err != nil || resp == nil || resp.Job == nil || resp.Job.ID != "j-1" {
					t.Fatalf("Get = %v, %v; want the job", resp, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Get passed, want %s", tt.want)
			}
			if got := scenarios.Classify(err); got != tt.want {
				t.Errorf("class %s, want %s (error: %.300s)", got, tt.want, err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %.300q does not say %q", err, tt.text)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error text on several lines: %.300q", err)
			}
			if len(err.Error()) > 1<<20 {
				t.Errorf("error text is %d bytes", len(err.Error()))
			}
		})
	}
}

// TestNoRedirects: a 3xx on a call is a protocol error; the target is
// never called, so neither the call nor the token is replayed there.
func TestNoRedirects(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		reply(200, `{"JobID":"j-elsewhere"}`)(w, r)
	}))
	defer other.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		jobs := serve(t, reply(code, "", "Location", other.URL+"/api/v1/orchestrator/jobs"))
		_, err := jobs.Put(context.Background(), &apimodels.PutJobRequest{})
		if got := scenarios.Classify(err); got != scenarios.ErrProtocol {
			t.Errorf("%d: class %s, want protocol (%v)", code, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "redirect to") {
			t.Errorf("%d: error %q does not name the redirect", code, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirect target got %d calls", n)
	}
}

// TestClientPanicIsProtocol: a reply that passes the transport's checks
// but still makes the client panic is a protocol error, not a crash.
func TestClientPanicIsProtocol(t *testing.T) {
	t.Parallel()
	_, err := call(context.Background(), &verdict{}, "get job", func(context.Context, any) (*apimodels.GetJobResponse, error) {
		var m map[string]int
		m["x"] = 1 // a nil map write, as a Normalize might do
		return nil, nil
	}, nil)
	if scenarios.Classify(err) != scenarios.ErrProtocol || !strings.Contains(err.Error(), "panic") {
		t.Errorf("err %v, want a protocol error about the panic", err)
	}
	if strings.Contains(err.Error(), "goroutine") {
		t.Errorf("error text holds a stack: %q", err)
	}
}

func TestAuthHeaders(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"key", func(o *Options) { o.APIKey = "k-1" }, "Bearer k-1"},
		{"basic", func(o *Options) { o.APIKey, o.Username, o.Password = "", "u", "p" }, "Basic dTpw"},
		{"none", func(o *Options) { o.APIKey = "" }, ""},
	} {
		var got atomic.Value
		jobs := serve(t, func(w http.ResponseWriter, r *http.Request) {
			got.Store(r.Header.Get("Authorization"))
			reply(200, goodJob)(w, r)
		}, tt.mod)
		if _, err := jobs.Get(context.Background(), &apimodels.GetJobRequest{JobIDOrName: "j-1"}); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.Load() != tt.want {
			t.Errorf("%s: Authorization %q, want %q", tt.name, got.Load(), tt.want)
		}
	}
}

func TestRefusedConnection(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	jobs := New(Options{Host: "127.0.0.1", Port: port, Timeout: time.Second}).Jobs
	_, err = jobs.List(context.Background(), &apimodels.ListJobsRequest{})
	if got := scenarios.Classify(err); got != scenarios.ErrUnavailable {
		t.Errorf("class %s, want unavailable (%v)", got, err)
	}
	if errors.Is(err, scenarios.ErrProtocol) {
		t.Error("a refused connection got a reply verdict")
	}
}
