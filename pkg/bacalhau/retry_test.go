package bacalhau

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// faulty answers its first n requests with fault, then with ok, counting
// every request it saw.
type faulty struct {
	n     int32
	fault func(w http.ResponseWriter, r *http.Request)
	ok    http.HandlerFunc
	seen  atomic.Int32
}

func (f *faulty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.seen.Add(1) <= f.n || f.n < 0 {
		f.fault(w, r)
		return
	}
	f.ok(w, r)
}

// resetConn answers with a TCP reset, before any byte of a reply.
func resetConn(w http.ResponseWriter, _ *http.Request) {
	c, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_ = c.(*net.TCPConn).SetLinger(0)
	_ = c.Close()
}

// closeConn closes the connection without answering: an EOF before the reply.
func closeConn(w http.ResponseWriter, _ *http.Request) {
	c, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_ = c.Close()
}

// resetMidBody sends the headers and half the body, then resets.
func resetMidBody(w http.ResponseWriter, _ *http.Request) {
	c, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(goodJob)) + "\r\n\r\n" + goodJob[:len(goodJob)/2])
	_ = buf.Flush()
	time.Sleep(20 * time.Millisecond)
	_ = c.(*net.TCPConn).SetLinger(0)
	_ = c.Close()
}

func TestReadsRetryTransientFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		n     int32 // faulty requests first; -1 every one
		fault http.HandlerFunc
		want  scenarios.Class // "" passes
		calls int32           // requests the server sees
	}{
		{"one-502", 1, reply(502, "<html>Bad Gateway</html>", "Content-Type", "text/html"), "", 2},
		{"one-503", 1, reply(503, `{"Message":"busy"}`), "", 2},
		{"one-504", 1, reply(504, ""), "", 2},
		{"one-reset", 1, resetConn, "", 2},
		{"one-eof", 1, closeConn, "", 2},
		{"one-reset-mid-body", 1, resetMidBody, "", 2},
		{"four-503", 4, reply(503, ""), "", 5},
		{"503-always", -1, reply(503, ""), scenarios.ErrServer, 1 + maxRetries},
		{"502-always", -1, reply(502, ""), scenarios.ErrServer, 1 + maxRetries},
		{"reset-always", -1, resetConn, scenarios.ErrUnavailable, 1 + maxRetries},
		{"one-500", 1, reply(500, `{"Message":"Internal server error"}`), "", 2},
		{"500-always", -1, reply(500, `{"Message":"db locked"}`), scenarios.ErrServer, 1 + maxRetries},
		{"429-not-retried", -1, reply(429, ""), scenarios.ErrServer, 1},
		{"404-not-retried", -1, reply(404, ""), scenarios.ErrBadRequest, 1},
		{"v17-auth-not-retried", -1, reply(500, v17AuthBody), scenarios.ErrAuth, 1},
		{"malformed-not-retried", -1, reply(200, `<html>`), scenarios.ErrProtocol, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &faulty{n: tt.n, fault: tt.fault, ok: reply(200, goodJob)}
			jobs := serve(t, f.ServeHTTP)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			_, err := jobs.Get(ctx, &apimodels.GetJobRequest{JobIDOrName: "j-1"})
			if got := scenarios.Classify(err); got != tt.want {
				t.Errorf("class %q (%v), want %q", got, err, tt.want)
			}
			if got := f.seen.Load(); got != tt.calls {
				t.Errorf("server saw %d requests, want %d", got, tt.calls)
			}
		})
	}
}

func TestRetriesStayWithinTheDeadline(t *testing.T) {
	t.Parallel()
	f := &faulty{n: -1, fault: reply(503, ""), ok: reply(200, goodJob)}
	jobs := serve(t, f.ServeHTTP)
	ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
	defer cancel()
	_, err := jobs.List(ctx, &apimodels.ListJobsRequest{})
	if got := scenarios.Classify(err); got != scenarios.ErrServer {
		t.Errorf("class %q (%v), want server: a persistent 503 keeps its class", got, err)
	}
	if ctx.Err() != nil {
		t.Errorf("the call returned after its deadline")
	}
}

// A refused connection is tried again while the orchestrator restarts.
func TestRefusedReadRetriedThroughARestart(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close() // refused from now on
	var (
		mu  sync.Mutex
		srv *http.Server
	)
	go func() {
		time.Sleep(1500 * time.Millisecond) // the API is back
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listening again: %v", err)
			return
		}
		mu.Lock()
		srv = &http.Server{Handler: reply(200, goodJob)}
		mu.Unlock()
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if srv != nil {
			_ = srv.Close()
		}
	})
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	jobs := New(Options{Host: host, Port: p, Timeout: 2 * time.Second}).Jobs
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := jobs.Get(ctx, &apimodels.GetJobRequest{JobIDOrName: "j-1"})
	if err != nil || resp.Job == nil || resp.Job.ID != "j-1" {
		t.Fatalf("get through a restart: %v", err)
	}

	// Refused for longer than refusedFor: unavailable, after about that long.
	start := time.Now()
	jobs = New(Options{Host: "127.0.0.1", Port: closedPort(t), Timeout: 2 * time.Second}).Jobs
	_, err = jobs.Get(ctx, &apimodels.GetJobRequest{JobIDOrName: "j-1"})
	if got := scenarios.Classify(err); got != scenarios.ErrUnavailable {
		t.Errorf("class %q (%v), want unavailable", got, err)
	}
	if d := time.Since(start); d > refusedFor+5*time.Second {
		t.Errorf("refused for %s before giving up, want at most %s", d, refusedFor)
	}
}

func closedPort(t *testing.T) int {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	_ = lis.Close()
	return port
}

// The submit is never repeated: a lost reply is marked, with its class.
func TestSubmitNeverRepeated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault http.HandlerFunc
		lost  bool
		want  scenarios.Class
	}{
		{"reset", resetConn, true, scenarios.ErrUnavailable},
		{"eof", closeConn, true, scenarios.ErrUnavailable},
		{"reset-mid-body", resetMidBody, true, scenarios.ErrUnavailable},
		{"503", reply(503, ""), false, scenarios.ErrServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &faulty{n: -1, fault: tt.fault, ok: reply(200, `{"JobID":"j-1"}`)}
			jobs := serve(t, f.ServeHTTP)
			_, err := jobs.Put(t.Context(), &apimodels.PutJobRequest{Job: &models.Job{Name: "x"}})
			if errors.Is(err, scenarios.ErrReplyLost) != tt.lost {
				t.Errorf("reply lost = %v (%v), want %v", !tt.lost, err, tt.lost)
			}
			if got := scenarios.Classify(err); got != tt.want {
				t.Errorf("class %q, want %q", got, tt.want)
			}
			if got := f.seen.Load(); got != 1 {
				t.Errorf("server saw %d submits, want 1", got)
			}
		})
	}
}
