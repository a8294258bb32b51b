package faultproxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func start(t *testing.T) (*Proxy, *http.Client) {
	t.Helper()
	return startWith(t, Options{MaxHold: 2 * time.Second})
}

func startWith(t *testing.T, o Options) (*Proxy, *http.Client) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"Items":[{"ID":"j-1"},{"ID":"j-2"}],"path":"`+r.URL.Path+`"}`)
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

func TestRulesSelectMethodPathAndCount(t *testing.T) {
	p, c := start(t)
	p.Add(Rule{Method: "GET", Path: "/api/v1/orchestrator/jobs/*", After: 1, Times: 2, Fault: Fault{Kind: Status, Code: 503}})
	want := []int{200, 503, 503, 200}
	for i, w := range want {
		code, _, err := get(t, c, p, "GET", "/api/v1/orchestrator/jobs/j-1")
		if err != nil || code != w {
			t.Errorf("call %d: %d %v, want %d", i, code, err, w)
		}
	}
	if code, _, _ := get(t, c, p, "DELETE", "/api/v1/orchestrator/jobs/j-1"); code != 200 {
		t.Errorf("DELETE got %d, want passed through", code)
	}
	if code, _, _ := get(t, c, p, "GET", "/api/v1/orchestrator/jobs/j-1/executions"); code != 200 {
		t.Errorf("a longer path got %d, want passed through", code)
	}
	if n := p.Count("GET", "/api/v1/orchestrator/jobs/**"); n != 5 {
		t.Errorf("counted %d GETs, want 5", n)
	}
}

func TestBodyFaults(t *testing.T) {
	p, c := start(t)
	p.Add(
		Rule{Path: "/truncate", Fault: Fault{Kind: Truncate}},
		Rule{Path: "/malformed", Fault: Fault{Kind: Malformed}},
		Rule{Path: "/replace", Fault: Fault{Kind: Replace, Body: `{"Items":"x"}`}},
		Rule{Path: "/status", Fault: Fault{Kind: Status, Code: 429}},
	)
	if _, body, err := get(t, c, p, "GET", "/truncate"); err != nil || !strings.HasPrefix(body, `{"Items":[`) || strings.HasSuffix(body, "}") {
		t.Errorf("truncate: %q %v", body, err)
	}
	if _, body, _ := get(t, c, p, "GET", "/malformed"); !strings.HasPrefix(body, "<html>") {
		t.Errorf("malformed: %q", body)
	}
	if _, body, _ := get(t, c, p, "GET", "/replace"); body != `{"Items":"x"}` {
		t.Errorf("replace: %q", body)
	}
	if code, body, _ := get(t, c, p, "GET", "/status"); code != 429 || !strings.Contains(body, `"Status":429`) {
		t.Errorf("status: %d %q", code, body)
	}
}

func TestConnectionFaults(t *testing.T) {
	p, c := start(t)
	p.Add(
		Rule{Path: "/reset", Fault: Fault{Kind: Reset}},
		Rule{Path: "/hang", Fault: Fault{Kind: Hang}},
		Rule{Path: "/slow", Fault: Fault{Kind: Latency, Delay: 200 * time.Millisecond}},
	)
	if _, _, err := get(t, c, p, "GET", "/reset"); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reset: %v, want ECONNRESET", err)
	}
	start := time.Now()
	short := &http.Client{Timeout: 300 * time.Millisecond}
	if _, _, err := get(t, short, p, "GET", "/hang"); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("hang: %v after %s", err, time.Since(start))
	}
	start = time.Now()
	if code, _, err := get(t, c, p, "GET", "/slow"); err != nil || code != 200 || time.Since(start) < 200*time.Millisecond {
		t.Errorf("latency: %d %v after %s", code, err, time.Since(start))
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

func TestAuthAndBounds(t *testing.T) {
	p, c := startWith(t, Options{Auth: "Bearer right", MaxRequests: 2})
	req, _ := http.NewRequest("GET", "http://"+p.Addr()+"/a", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("wrong token: %v %v", resp, err)
	}
	resp.Body.Close()
	req.Header.Set("Authorization", "Bearer right")
	resp, err = c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("right token: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = c.Do(req)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("over budget: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := Start("192.0.2.1:80", Options{}); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("non-loopback target: %v", err)
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

func TestRewriteHeadersAndBodyFiles(t *testing.T) {
	p, _ := start(t)
	file := t.TempDir() + "/body"
	if err := os.WriteFile(file, []byte("from disk"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Add(Rule{Path: "/rewrite", Fault: Fault{Kind: Rewrite, From: `"ID":"(j-\d)"`, Body: `"ID":"x-$1"`}},
		Rule{Path: "/file", Fault: Fault{Kind: Reply, BodyFile: file, Header: map[string]string{"Content-Encoding": "gzip"}}},
		Rule{Path: "/redirect", Fault: Fault{Kind: Status, Code: 307, Header: map[string]string{"Location": "http://127.0.0.1:9/"}}})
	noRedirect := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, body, err := get(t, noRedirect, p, "GET", "/rewrite")
	if err != nil || !strings.Contains(body, `"ID":"x-j-1"`) || !strings.Contains(body, `"ID":"x-j-2"`) {
		t.Errorf("rewrite: %q, %v", body, err)
	}
	resp, err := noRedirect.Get("http://" + p.Addr() + "/file")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "from disk" || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("body file: %q, Content-Encoding %q", b, resp.Header.Get("Content-Encoding"))
	}
	resp, err = noRedirect.Get("http://" + p.Addr() + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 307 || resp.Header.Get("Location") != "http://127.0.0.1:9/" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
