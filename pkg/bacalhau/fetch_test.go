package bacalhau

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// recorder is a listener that counts the connections it accepts and
// answers each with a small result.
type recorder struct {
	lis   net.Listener
	conns atomic.Int32
}

func listen(t *testing.T, addr string) *recorder {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	r := &recorder{lis: lis}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "result") }),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				r.conns.Add(1)
			}
		},
		ReadTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func (r *recorder) port() int { return r.lis.Addr().(*net.TCPAddr).Port }

// remote is the API host of a canary whose API is not local.
const remote = "10.123.0.1"

// TestRefusedResultAddresses: a result URL that leads to a loopback,
// link-local, unspecified or metadata address is refused, fast, without
// connecting, as a publisher error naming the advertised host.
func TestRefusedResultAddresses(t *testing.T) {
	t.Parallel()
	v4 := listen(t, "127.0.0.1:0")
	p := v4.port()
	v6 := listen(t, "[::1]:0")
	f := newFetcher(remote, 2*time.Second)
	for _, u := range []struct{ url, kind string }{
		{fmt.Sprintf("http://127.0.0.1:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://127.0.0.2:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://localhost:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://LOCALHOST:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://[::ffff:7f00:1]:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://[64:ff9b::7f00:1]:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://0.0.0.0:%d/r.tar.gz", p), "unspecified"},
		{fmt.Sprintf("http://[::]:%d/r.tar.gz", v6.port()), "unspecified"},
		{fmt.Sprintf("http://[::1]:%d/r.tar.gz", v6.port()), "loopback"},
		{fmt.Sprintf("https://127.0.0.1:%d/r.tar.gz", p), "loopback"},
		{"http://169.254.169.254/computeMetadata/v1/", "metadata"},
		{"http://[fd00:ec2::254]/latest/meta-data/", "metadata"},
		{"http://[fd20:ce::254]/computeMetadata/v1/", "metadata"},
		{"http://[64:ff9b:1::a9fe:a9fe]/computeMetadata/v1/", "metadata"},
		{"http://[::ffff:169.254.169.254]/latest/meta-data/", "metadata"},
		{"http://100.100.100.200/latest/meta-data/", "metadata"},
		{"http://169.254.10.1/x", "link-local"},
		{"http://[fe80::1%25lo]/x", "link-local"},
		// Numeric forms a C resolver takes for 127.0.0.1 or 0.0.0.0, and a
		// metadata name: refused at the dial where they resolve, not
		// resolved at all by Go's own resolver; never connected.
		{fmt.Sprintf("http://2130706433:%d/r.tar.gz", p), ""},
		{fmt.Sprintf("http://0x7f.1:%d/r.tar.gz", p), ""},
		{fmt.Sprintf("http://0177.0.0.1:%d/r.tar.gz", p), ""},
		{fmt.Sprintf("http://127.1:%d/r.tar.gz", p), ""},
		{fmt.Sprintf("http://0:%d/r.tar.gz", p), ""},
		{"http://metadata.google.internal/computeMetadata/v1/", ""},
	} {
		start := time.Now()
		body, err := f.Fetch(context.Background(), u.url)
		if err == nil {
			body.Close()
			t.Errorf("%s: fetched, want refused", u.url)
			continue
		}
		refused := strings.Contains(err.Error(), "refused without connecting")
		if refused != (u.kind != "") || refused && !strings.Contains(err.Error(), " a "+u.kind+" address") {
			t.Errorf("%s: %v, want a refused %q address", u.url, err, u.kind)
		}
		if u.kind == "" {
			continue
		}
		if got := scenarios.Classify(err); got != scenarios.ErrPublisher {
			t.Errorf("%s: class %s, want publisher", u.url, got)
		}
		if host := strings.Split(strings.SplitN(u.url, "//", 2)[1], "/")[0]; !strings.Contains(err.Error(), strings.Trim(hostOnly(host), "[]")) {
			t.Errorf("%s: error %q does not name the advertised host", u.url, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: refused after %s, want at once", u.url, d)
		}
	}
	if n := v4.conns.Load() + v6.conns.Load(); n != 0 {
		t.Errorf("the refused addresses got %d connections", n)
	}
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		if i := strings.Index(h, "%"); i >= 0 {
			h = h[:i]
		}
		return h
	}
	return hostport
}

// TestRedirectRules: a publisher may redirect, at most 5 times, to
// http(s) only, without credentials, and the target is dialled under the
// same address rules.
func TestRedirectRules(t *testing.T) {
	t.Parallel()
	pubLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pub := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/computeMetadata/v1/", http.StatusFound)
		case "/to-creds":
			http.Redirect(w, r, fmt.Sprintf("http://u:p@%s/ok", r.Host), http.StatusFound)
		case "/to-ftp":
			http.Redirect(w, r, "ftp://"+r.Host+"/ok", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/to-self":
			http.Redirect(w, r, "/ok", http.StatusTemporaryRedirect)
		case "/ok":
			_, _ = io.WriteString(w, "result")
		default:
			http.NotFound(w, r)
		}
	})}
	go func() { _ = pub.Serve(pubLis) }()
	t.Cleanup(func() { _ = pub.Close() })
	f := newFetcher("127.0.0.1", 2*time.Second) // a local API: local results allowed
	base := "http://" + pubLis.Addr().String()
	for _, tt := range []struct{ path, want string }{
		{"/to-self", ""},
		{"/to-metadata", "metadata address"},
		{"/to-creds", "with credentials"},
		{"/to-ftp", "not http(s)"},
		{"/loop", "more than 5 redirects"},
		{"/missing", "HTTP 404"},
	} {
		body, err := f.Fetch(context.Background(), base+tt.path)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.path, err)
				continue
			}
			b, _ := io.ReadAll(body)
			body.Close()
			if string(b) != "result" {
				t.Errorf("%s: body %q", tt.path, b)
			}
			continue
		}
		if scenarios.Classify(err) != scenarios.ErrPublisher || !strings.Contains(fmt.Sprint(err), tt.want) {
			t.Errorf("%s: %v, want a publisher error saying %q", tt.path, err, tt.want)
		}
	}
}

// TestLocalAPIMayHaveLocalResults: with the API itself on loopback (a
// test or single-host network), results on loopback are fetched.
func TestLocalAPIMayHaveLocalResults(t *testing.T) {
	t.Parallel()
	r := listen(t, "127.0.0.1:0")
	for _, api := range []string{"127.0.0.1", "localhost", "::1"} {
		f := newFetcher(api, 2*time.Second)
		body, err := f.Fetch(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/r", r.port()))
		if err != nil {
			t.Errorf("API %s: %v", api, err)
			continue
		}
		body.Close()
		if _, err := f.Fetch(context.Background(), "http://169.254.169.254/"); scenarios.Classify(err) != scenarios.ErrPublisher {
			t.Errorf("API %s: metadata address not refused: %v", api, err)
		}
	}
}

func TestFetchErrorsHideCredentials(t *testing.T) {
	t.Parallel()
	f := newFetcher(remote, 2*time.Second)
	for _, u := range []string{
		"http://user:s3cr3t@127.0.0.1:1/r?X-Amz-Signature=abcdef0123&X-Amz-Credential=AKIA1",
		"https://[::1]:1/r?X-Goog-Signature=abcdef0123&sig=abcdef0123&token=abcdef0123",
		"ftp://user:s3cr3t@127.0.0.1:1/r?sig=abcdef0123",
	} {
		_, err := f.Fetch(context.Background(), u)
		if err == nil {
			t.Fatalf("%s fetched", u)
		}
		for _, secret := range []string{"s3cr3t", "abcdef0123", "AKIA1"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %q shows %s", u, err, secret)
			}
		}
	}
}
