package bacalhau

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
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

// remoteFetcher is the Fetcher of a canary whose API host is not local,
// with names resolving through names.
func remoteFetcher(names map[string][]netip.Addr) (*Fetcher, *atomic.Int32) {
	f := NewFetcher("10.123.0.1", 2*time.Second)
	var lookups atomic.Int32
	f.resolve = func(_ context.Context, host string) ([]netip.Addr, error) {
		lookups.Add(1)
		if a, ok := names[host]; ok {
			return a, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return f, &lookups
}

// TestRefusedResultAddresses: a result URL that resolves to a loopback,
// link-local, unspecified or metadata address is refused, fast, without
// connecting, as a publisher error naming the advertised host.
func TestRefusedResultAddresses(t *testing.T) {
	t.Parallel()
	v4 := listen(t, "127.0.0.1:0")
	p := v4.port()
	v6 := listen(t, "[::1]:0")
	f, _ := remoteFetcher(map[string][]netip.Addr{
		"results.example":   {netip.MustParseAddr("127.0.0.1")},
		"mixed.example":     {netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("127.0.0.1")},
		"mapped.example":    {netip.MustParseAddr("::ffff:127.0.0.1")},
		"localhost":         {netip.MustParseAddr("127.0.0.1")},
		"link.example":      {netip.MustParseAddr("169.254.10.1")},
		"metadata.example":  {netip.MustParseAddr("169.254.169.254")},
		"metadata6.example": {netip.MustParseAddr("fd00:ec2::254")},
	})
	urls := []struct{ url, kind string }{
		{fmt.Sprintf("http://127.0.0.1:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://127.0.0.2:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://localhost:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://LOCALHOST.:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://results.example:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://mixed.example:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://mapped.example:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://[::ffff:7f00:1]:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://[64:ff9b::7f00:1]:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://2130706433:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://0x7f.1:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://0177.0.0.1:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://127.1:%d/r.tar.gz", p), "loopback"},
		{fmt.Sprintf("http://0.0.0.0:%d/r.tar.gz", p), "unspecified"},
		{fmt.Sprintf("http://0:%d/r.tar.gz", p), "unspecified"},
		{fmt.Sprintf("http://[::]:%d/r.tar.gz", v6.port()), "unspecified"},
		{fmt.Sprintf("http://[::1]:%d/r.tar.gz", v6.port()), "loopback"},
		{fmt.Sprintf("https://127.0.0.1:%d/r.tar.gz", p), "loopback"},
		{"http://169.254.169.254/computeMetadata/v1/", "metadata"},
		{"http://metadata.google.internal/computeMetadata/v1/", "metadata"},
		{"http://metadata.example/latest/meta-data/", "metadata"},
		{"http://[fd00:ec2::254]/latest/meta-data/", "metadata"},
		{"http://metadata6.example/latest/meta-data/", "metadata"},
		{"http://link.example/x", "link-local"},
		{"http://[fe80::1%25lo]/x", "link-local"},
	}
	for _, u := range urls {
		start := time.Now()
		body, err := f.Fetch(context.Background(), u.url)
		if err == nil {
			body.Close()
			t.Errorf("%s: fetched, want refused", u.url)
			continue
		}
		var refused *RefusedError
		if !errors.As(err, &refused) || refused.Kind != u.kind {
			t.Errorf("%s: %v, want a refused %s address", u.url, err, u.kind)
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

// TestRedirectToRefusedAddress: a publisher may redirect, but the target
// is dialled under the same rules; credentials never travel.
func TestRedirectRules(t *testing.T) {
	t.Parallel()
	target := listen(t, "127.0.0.1:0")
	pubLis, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Skipf("no 127.0.0.3: %v", err)
	}
	pub := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-loopback":
			http.Redirect(w, r, fmt.Sprintf("http://127.0.0.1:%d/r", target.port()), http.StatusFound)
		case "/to-creds":
			http.Redirect(w, r, fmt.Sprintf("http://u:p@%s/ok", r.Host), http.StatusFound)
		case "/to-self":
			http.Redirect(w, r, "/ok", http.StatusTemporaryRedirect)
		case "/ok":
			_, _ = io.WriteString(w, "result")
		default:
			http.NotFound(w, r)
		}
	})}
	go func() { _ = pub.Serve(pubLis) }()
	defer pub.Close()
	f, _ := remoteFetcher(map[string][]netip.Addr{"pub.example": {netip.MustParseAddr("127.0.0.3")}})
	exempt := netip.MustParseAddr("127.0.0.3") // stands in for a routable publisher
	f.exempt = &exempt
	port := pubLis.Addr().(*net.TCPAddr).Port
	base := "http://pub.example:" + strconv.Itoa(port)

	body, err := f.Fetch(context.Background(), base+"/to-self")
	if err != nil {
		t.Fatalf("a same-rules redirect: %v", err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if string(b) != "result" {
		t.Errorf("body %q", b)
	}
	for _, path := range []string{"/to-loopback", "/to-creds"} {
		_, err := f.Fetch(context.Background(), base+path)
		if scenarios.Classify(err) != scenarios.ErrPublisher {
			t.Errorf("%s: %v, want a publisher error", path, err)
		}
	}
	if _, err := f.Fetch(context.Background(), base+"/missing"); scenarios.Classify(err) != scenarios.ErrPublisher || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404: %v", err)
	}
	if n := target.conns.Load(); n != 0 {
		t.Errorf("the redirect's loopback target got %d connections", n)
	}
}

// TestLocalAPIMayHaveLocalResults: with the API itself on loopback (a
// test or single-host network), results on loopback are fetched.
func TestLocalAPIMayHaveLocalResults(t *testing.T) {
	t.Parallel()
	r := listen(t, "127.0.0.1:0")
	for _, api := range []string{"127.0.0.1", "localhost", "::1"} {
		f := NewFetcher(api, 2*time.Second)
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
	f, _ := remoteFetcher(nil)
	for _, u := range []string{
		"http://user:s3cr3t@nowhere.example/r?X-Amz-Signature=abcdef0123&X-Amz-Credential=AKIA1",
		"https://storage.example/r?X-Goog-Signature=abcdef0123&sig=abcdef0123&token=abcdef0123",
		"ftp://user:s3cr3t@nowhere.example/r?sig=abcdef0123",
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

func FuzzParseLegacyIPv4(f *testing.F) {
	for _, s := range []string{"2130706433", "0x7f.1", "127.1", "0177.0.0.1", "1.2.3.4", "0x", "1.2.3.4.5", "00", "4294967296"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := ParseLegacyIPv4(s)
		if !ok {
			return
		}
		if !a.Is4() {
			t.Fatalf("%q: %v is not IPv4", s, a)
		}
		if std, err := netip.ParseAddr(s); err == nil && std != a {
			t.Fatalf("%q: %v, the standard parser says %v", s, a, std)
		}
	})
}
