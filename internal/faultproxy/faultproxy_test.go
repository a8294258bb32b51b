package faultproxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// upBody is what the upstream answers to every request.
const upBody = `{"Items":[{"ID":"j-1"},{"ID":"j-2"}]}`

func start(t *testing.T) (*Proxy, *http.Client) {
	t.Helper()
	return startWith(t, Options{MaxHold: 2 * time.Second})
}

func startWith(t *testing.T, o Options) (*Proxy, *http.Client) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stuck" {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Bacalhau-Git-Version", "v1.9.3")
		w.Header().Set("X-Upstream-Accept-Encoding", r.Header.Get("Accept-Encoding"))
		w.Header().Set("X-Upstream-Host", r.Host)
		io.WriteString(w, upBody)
	}))
	t.Cleanup(up.Close)
	p, err := Start(strings.TrimPrefix(up.URL, "http://"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, &http.Client{Timeout: 5 * time.Second}
}

func get(t *testing.T, c *http.Client, p *Proxy, method, path string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.Addr()+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// raw sends one request on a fresh connection and returns every byte the
// proxy sent and how the connection ended: "fin" (closed), "rst" (reset)
// or "open" (nothing more within wait).
func raw(t *testing.T, p *Proxy, path string, wait time.Duration) ([]byte, string) {
	t.Helper()
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer k\"\\\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", path)
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		var ne net.Error
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			return got, "fin"
		case errors.Is(err, syscall.ECONNRESET):
			return got, "rst"
		case errors.As(err, &ne) && ne.Timeout():
			return got, "open"
		default:
			t.Fatalf("reading the reply: %v", err)
		}
	}
}

// TestFaultsOnTheWire reads each fault's reply byte by byte off a raw
// connection: status, headers, the declared length against the bytes
// sent, and how the connection ends.
func TestFaultsOnTheWire(t *testing.T) {
	t.Parallel()
	file := t.TempDir() + "/body"
	if err := os.WriteFile(file, []byte("from disk"), 0o600); err != nil {
		t.Fatal(err)
	}
	half := upBody[:len(upBody)/2]
	for _, tc := range []struct {
		name   string
		fault  *Fault // nil: passed through
		status int    // 0: not a byte sent
		body   string
		length int               // the declared Content-Length when longer than body
		header map[string]string // reply headers
		end    string            // how the connection ends
	}{
		{name: "pass", status: 200, body: upBody, end: "fin",
			header: map[string]string{"X-Bacalhau-Git-Version": "v1.9.3", "Content-Type": "application/json", "X-Upstream-Accept-Encoding": ""}},
		{name: "truncate", fault: &Fault{Kind: Truncate}, status: 200, body: half, end: "fin",
			header: map[string]string{"Content-Type": "application/json", "X-Bacalhau-Git-Version": "v1.9.3"}},
		{name: "reset", fault: &Fault{Kind: Reset}, status: 200, body: half, length: len(upBody), end: "rst",
			header: map[string]string{"Content-Type": "application/json"}},
		{name: "malformed", fault: &Fault{Kind: Malformed}, status: 200, body: "<html>bad gateway</html>" + upBody, end: "fin",
			header: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{name: "replace", fault: &Fault{Kind: Replace, Body: `{"Items":"x"}`, Header: map[string]string{"X-Extra": "1"}}, status: 200, body: `{"Items":"x"}`, end: "fin",
			header: map[string]string{"Content-Type": "application/json", "X-Extra": "1"}},
		{name: "rewrite", fault: &Fault{Kind: Rewrite, From: `"ID":"(j-\d)"`, Body: `"ID":"x-$1"`}, status: 200,
			body: `{"Items":[{"ID":"x-j-1"},{"ID":"x-j-2"}]}`, end: "fin"},
		{name: "close", fault: &Fault{Kind: Close}, end: "fin"},
		{name: "hang", fault: &Fault{Kind: Hang}, end: "open"},
		{name: "status", fault: &Fault{Kind: Status, Code: 429}, status: 429, end: "fin",
			body: `{"Status":429,"Message":"Too Many Requests (injected)","Code":"TooManyRequests","Component":"faultproxy"}`},
		{name: "status-body-header", fault: &Fault{Kind: Status, Code: 307, Body: "<html>moved</html>", Header: map[string]string{"Location": "http://127.0.0.1:9/"}},
			status: 307, body: "<html>moved</html>", end: "fin", header: map[string]string{"Location": "http://127.0.0.1:9/", "Content-Type": "text/html; charset=utf-8"}},
		{name: "reply-file", fault: &Fault{Kind: Reply, BodyFile: file, Header: map[string]string{"Content-Encoding": "gzip"}},
			status: 200, body: "from disk", end: "fin", header: map[string]string{"Content-Encoding": "gzip", "X-Bacalhau-Git-Version": ""}},
		{name: "echo", fault: &Fault{Kind: Echo, Code: 400}, status: 400, end: "fin",
			body: `{"Status":400,"Message":"request refused; it carried Authorization: Bearer k\"\\","Code":"BadRequest","Component":"faultproxy"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _ := start(t)
			if tc.fault != nil {
				p.Add(Rule{Path: "/x", Fault: *tc.fault})
			}
			got, end := raw(t, p, "/x", time.Second)
			if end != tc.end {
				t.Errorf("the connection ended %s, want %s", end, tc.end)
			}
			kind := Kind("")
			if tc.fault != nil {
				kind = tc.fault.Kind
			}
			if rs := p.Requests(); len(rs) != 1 || rs[0] != (Request{Method: "GET", Path: "/x", Fault: kind, Status: tc.status}) {
				t.Errorf("recorded %+v", rs)
			}
			if tc.status == 0 {
				if len(got) != 0 {
					t.Errorf("sent %q, want nothing", got)
				}
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(got)), nil)
			if err != nil {
				t.Fatalf("%v in %q", err, got)
			}
			length := max(tc.length, len(tc.body))
			body, err := io.ReadAll(resp.Body)
			if cut := len(body) < length; cut != errors.Is(err, io.ErrUnexpectedEOF) || (!cut && err != nil) {
				t.Errorf("reading the body: %v", err)
			}
			if resp.StatusCode != tc.status || string(body) != tc.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(length) {
				t.Errorf("Content-Length %q, want %d", cl, length)
			}
			for k, v := range tc.header {
				if resp.Header.Get(k) != v {
					t.Errorf("%s: %q, want %q", k, resp.Header.Get(k), v)
				}
			}
		})
	}
}

func TestForwardsToTheTargetOnly(t *testing.T) {
	t.Parallel()
	p, c := start(t)
	if p.Host() != "127.0.0.1" || p.Addr() != net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port())) {
		t.Errorf("listens on %s (%s, %d), want 127.0.0.1", p.Addr(), p.Host(), p.Port())
	}
	req, _ := http.NewRequest("GET", "http://"+p.Addr()+"/x", nil)
	req.Host = "elsewhere.example:80"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("X-Upstream-Host"); !strings.HasPrefix(h, "127.0.0.1:") || h == p.Addr() {
		t.Errorf("the upstream saw Host %q, want the target", h)
	}
	if _, err := Start("192.0.2.1:80", Options{}); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("non-loopback target: %v", err)
	}
	if _, err := Start("example.com:80", Options{}); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("a name other than localhost: %v", err)
	}
	if _, err := Start("192.0.2.1:80", Options{LinkHost: "192.0.2.2"}); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("non-loopback target other than the link host: %v", err)
	}
	lp, err := Start("192.0.2.1:80", Options{LinkHost: "192.0.2.1"}) // starting sends nothing
	if err != nil {
		t.Errorf("the link host refused: %v", err)
	} else {
		lp.Close()
	}
}

func TestRulesSelectMethodPathAndCount(t *testing.T) {
	t.Parallel()
	p, c := start(t)
	p.Add(Rule{Method: "GET", Path: "/api/v1/orchestrator/jobs/*", After: 1, Times: 2, Fault: Fault{Kind: Status, Code: 503}},
		Rule{Method: "DELETE", Path: "/api/v1/orchestrator/jobs/*", Fault: Fault{Kind: Status, Code: 504}},
		Rule{Path: "/both", Times: 1, Fault: Fault{Kind: Status, Code: 500}},
		Rule{Path: "/both", Fault: Fault{Kind: Status, Code: 501}})
	for i, w := range []int{200, 503, 503, 200} {
		code, _, err := get(t, c, p, "GET", "/api/v1/orchestrator/jobs/j-1")
		if err != nil || code != w {
			t.Errorf("call %d: %d %v, want %d", i, code, err, w)
		}
	}
	if code, _, _ := get(t, c, p, "DELETE", "/api/v1/orchestrator/jobs/j-1"); code != 504 {
		t.Errorf("DELETE got %d, want the second rule's 504", code)
	}
	for i, w := range []int{500, 501, 501} { // the first rule spent, the next one applies
		if code, _, _ := get(t, c, p, "GET", "/both"); code != w {
			t.Errorf("/both call %d: %d, want %d", i, code, w)
		}
	}
	if code, _, _ := get(t, c, p, "GET", "/api/v1/orchestrator/jobs/j-1/executions"); code != 200 {
		t.Errorf("a longer path got %d, want passed through", code)
	}
	if n := p.Count("GET", "/api/v1/orchestrator/jobs/**"); n != 5 {
		t.Errorf("counted %d GETs, want 5", n)
	}
	if n := p.Count("", ""); n != 9 {
		t.Errorf("counted %d requests, want 9", n)
	}
}

func TestLatencyRefuseAccept(t *testing.T) {
	t.Parallel()
	p, c := start(t)
	p.Add(Rule{Path: "/slow", Fault: Fault{Kind: Latency, Delay: 200 * time.Millisecond}})
	start := time.Now()
	if code, body, err := get(t, c, p, "GET", "/slow"); err != nil || code != 200 || body != upBody || time.Since(start) < 200*time.Millisecond {
		t.Errorf("latency: %d %q %v after %s", code, body, err, time.Since(start))
	}
	if err := p.Refuse(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(t, c, p, "GET", "/x"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("refused: %v", err)
	}
	if err := p.Accept(); err != nil {
		t.Fatal(err)
	}
	if code, _, err := get(t, c, p, "GET", "/x"); code != 200 {
		t.Errorf("after Accept: %d %v", code, err)
	}
}

func TestAuthAndBudget(t *testing.T) {
	t.Parallel()
	p, c := startWith(t, Options{Auth: "Bearer right", MaxRequests: 2})
	for _, tc := range []struct {
		auth string
		want int
	}{{"Bearer wrong", 401}, {"Bearer right", 200}, {"Bearer right", 503}} {
		req, _ := http.NewRequest("GET", "http://"+p.Addr()+"/a", nil)
		req.Header.Set("Authorization", tc.auth)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || (tc.want != 200 && !strings.Contains(string(b), fmt.Sprintf(`"Status":%d`, tc.want))) {
			t.Errorf("%s: %d %q, want %d", tc.auth, resp.StatusCode, b, tc.want)
		}
	}
}

func TestMaxHold(t *testing.T) {
	t.Parallel()
	p, c := startWith(t, Options{MaxHold: 300 * time.Millisecond})
	p.Add(Rule{Path: "/hang", Fault: Fault{Kind: Hang}})
	// A hang ends at MaxHold without a byte; a forward stuck upstream
	// gets 502.
	if got, end := raw(t, p, "/hang", 10*time.Second); end != "fin" || len(got) != 0 {
		t.Errorf("hang past MaxHold: %q, ended %s", got, end)
	}
	if code, body, err := get(t, c, p, "GET", "/stuck"); code != 502 || err != nil || !strings.Contains(body, "faultproxy") {
		t.Errorf("stuck upstream: %d %q %v", code, body, err)
	}
	// Close releases a hang at once.
	q, _ := startWith(t, Options{MaxHold: time.Minute})
	q.Add(Rule{Fault: Fault{Kind: Hang}})
	go func() {
		for q.Count("", "") == 0 {
			time.Sleep(time.Millisecond)
		}
		q.Close()
	}()
	if got, end := raw(t, q, "/x", 10*time.Second); end != "fin" || len(got) != 0 {
		t.Errorf("hang at Close: %q, ended %s", got, end)
	}
}

// TestEditJob: the job of a forwarded submit is the edited one, sent with
// its own length; other requests pass as they came, and a submit that
// cannot be edited is answered 400 without reaching the API.
func TestEditJob(t *testing.T) {
	t.Parallel()
	const submit = `{"Job":{"Name":"canary","Type":"batch","Count":1,"Labels":{"a":"b"}}}`
	long := strings.Repeat("x", 100) // the edited body is longer than it came
	edit := func(j *models.Job) error {
		if j.Name == "refuse" {
			return errors.New("not this one")
		}
		j.Count = 7
		j.Labels["edited"] = long
		return nil
	}
	for _, tc := range []struct {
		name, method, path, body string
		fault                    *Fault
		status                   int
		edited                   bool // the API got the edited job; else the body as sent, or nothing on 400
	}{
		{name: "submit", method: "PUT", path: SubmitPath, body: submit, status: 200, edited: true},
		{name: "submit with a reply fault", method: "PUT", path: SubmitPath, body: submit, fault: &Fault{Kind: Truncate}, status: 200, edited: true},
		{name: "another path", method: "PUT", path: SubmitPath + "/j-1", body: submit, status: 200},
		{name: "another method", method: "POST", path: SubmitPath, body: submit, status: 200},
		{name: "not JSON", method: "PUT", path: SubmitPath, body: "<html>", status: 400},
		{name: "no job", method: "PUT", path: SubmitPath, body: `{"Force":true}`, status: 400},
		{name: "edit fails", method: "PUT", path: SubmitPath, body: `{"Job":{"Name":"refuse"}}`, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan []byte, 1)
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if err != nil || r.ContentLength != int64(len(b)) {
					t.Errorf("the API read %d bytes (%v), Content-Length %d", len(b), err, r.ContentLength)
				}
				got <- b
				io.WriteString(w, `{"JobID":"j-1"}`)
			}))
			t.Cleanup(up.Close)
			p, err := Start(strings.TrimPrefix(up.URL, "http://"), Options{EditJob: edit})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			if tc.fault != nil {
				p.Add(Rule{Method: tc.method, Path: tc.path, Fault: *tc.fault})
			}
			req, _ := http.NewRequest(tc.method, "http://"+p.Addr()+tc.path, strings.NewReader(tc.body))
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			reply, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d %q, want %d", resp.StatusCode, reply, tc.status)
			}
			var b []byte
			select {
			case b = <-got:
			default:
			}
			switch {
			case tc.status == 400:
				if b != nil || !strings.Contains(string(reply), "editing the submitted job") {
					t.Errorf("the API got %q; reply %q, want nothing sent and the edit named", b, reply)
				}
			case tc.edited:
				if rs := p.Requests(); len(rs) != 1 || !rs[0].Edited {
					t.Errorf("recorded %+v, want the submit marked edited", rs)
				}
				var r apimodels.PutJobRequest
				if err := json.Unmarshal(b, &r); err != nil || r.Job == nil || r.Job.Name != "canary" || r.Job.Count != 7 || r.Job.Labels["edited"] != long || r.Job.Labels["a"] != "b" {
					t.Errorf("the API got %s (%v), want the edited job", b, err)
				}
			case string(b) != tc.body || p.Requests()[0].Edited:
				t.Errorf("the API got %q (recorded %+v), want %q as sent", b, p.Requests(), tc.body)
			}
		})
	}
}

// With FollowTarget the proxy is down while its target is: a request the
// target refuses is closed unanswered, new connections are refused, and
// once the target listens again so does the proxy.
func TestFollowTarget(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	serve := func(l net.Listener) *http.Server {
		s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, upBody) })}
		go s.Serve(l)
		return s
	}
	up := serve(lis)
	p, err := Start(addr, Options{FollowTarget: true, MaxHold: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if code, body, err := get(t, c, p, "GET", "/"); err != nil || code != 200 || body != upBody {
		t.Fatalf("target up: %d %q %v", code, body, err)
	}

	// A fault of the proxy's own that fails (a bad pattern) still answers
	// its explanatory 502: it is not the target going away.
	p.Add(Rule{Path: "/bad-rewrite", Times: 1, Fault: Fault{Kind: Rewrite, From: "("}})
	if code, body, err := get(t, c, p, "GET", "/bad-rewrite"); err != nil || code != http.StatusBadGateway || !strings.Contains(body, "faultproxy") {
		t.Fatalf("failed rewrite: %d %q %v, want the proxy's 502", code, body, err)
	}

	up.Close() // the target stops: its port refuses
	// A request that meets the stopped target (a refusal, or the EOF of
	// the proxy's pooled connection to it) is closed unanswered; from the
	// first refusal on, the proxy refuses too.
	for i := 0; ; i++ {
		_, _, err := get(t, c, p, "GET", "/")
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if !errors.Is(err, io.EOF) || i == 2 {
			t.Fatalf("request %d while the target is down: %v, want the connection closed unanswered (EOF), then refused", i+1, err)
		}
	}

	lis, err = net.Listen("tcp", addr) // the target is back on its port
	if err != nil {
		t.Fatal(err)
	}
	up = serve(lis)
	t.Cleanup(func() { up.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body, err := get(t, c, p, "GET", "/")
		if err == nil && code == 200 && body == upBody {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target back, proxy still answers %d %q %v", code, body, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
