package bacalhau

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/internal/testca"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// recordingListener keeps every byte a client sends, as a wire capture.
type recordingListener struct {
	net.Listener
	mu  sync.Mutex
	got bytes.Buffer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, l: l}, nil
}

func (l *recordingListener) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.got.Bytes())
}

type recordingConn struct {
	net.Conn
	l *recordingListener
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.mu.Lock()
	c.l.got.Write(p[:n])
	c.l.mu.Unlock()
	return n, err
}

// tlsAPI serves the job list over TLS with cert on loopback, recording
// what reaches the wire and counting the requests the server decrypted.
func tlsAPI(t *testing.T, cert testca.Leaf) (host string, port int, wire *recordingListener, requests *atomic.Int32) {
	t.Helper()
	requests = &atomic.Int32{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"Items":[]}`))
	}))
	c, err := cert.TLS()
	if err != nil {
		t.Fatal(err)
	}
	wire = &recordingListener{Listener: srv.Listener}
	srv.Listener = wire
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{c}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h, p, _ := net.SplitHostPort(wire.Addr().String())
	port, _ = strconv.Atoi(p)
	return h, port, wire, requests
}

func writeCA(t *testing.T, ca *testca.CA) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCertificateFailuresHaveTheirOwnClass(t *testing.T) {
	t.Parallel()
	const key = "canary-key-that-must-stay-home-0123456789"
	ca, err := testca.New("canary test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testca.New("some other CA")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *testca.CA, hosts []string, from, to time.Time) testca.Leaf {
		l, err := ca.Issue(hosts, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	self, err := testca.SelfSigned([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		cert   testca.Leaf
		caFile bool // trust ca through LoadCAs
		says   string
	}{
		{"trusted", issue(ca, []string{"127.0.0.1"}, time.Time{}, time.Time{}), true, ""},
		{"unknown authority", issue(ca, []string{"127.0.0.1"}, time.Time{}, time.Time{}), false, "unknown authority"},
		{"wrong CA file", issue(other, []string{"127.0.0.1"}, time.Time{}, time.Time{}), true, "unknown authority"},
		{"expired", issue(ca, []string{"127.0.0.1"}, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)), true, "expired"},
		{"wrong name", issue(ca, []string{"api.example.org", "10.9.9.9"}, time.Time{}, time.Time{}), true, `not valid for "127.0.0.1"`},
		{"self-signed", self, true, "self-signed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, port, wire, requests := tlsAPI(t, tc.cert)
			o := Options{Host: host, Port: port, TLS: true, Timeout: 5 * time.Second, APIKey: key}
			if tc.caFile {
				pool, err := LoadCAs(writeCA(t, ca))
				if err != nil {
					t.Fatal(err)
				}
				o.RootCAs = pool
			}
			jobs := New(o).Jobs
			_, err := jobs.List(context.Background(), &apimodels.ListJobsRequest{})
			if tc.says == "" {
				if err != nil || requests.Load() != 1 {
					t.Fatalf("trusted certificate: %v (%d requests served)", err, requests.Load())
				}
				return
			}
			if c := scenarios.Classify(err); c != scenarios.ErrCertificate {
				t.Fatalf("class %q, want certificate: %v", c, err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			// The handshake failed before any request was written: the
			// server decrypted nothing and the key is nowhere on the wire.
			if n := requests.Load(); n != 0 {
				t.Errorf("server got %d requests through an unverified handshake", n)
			}
			raw := wire.bytes()
			if len(raw) == 0 {
				t.Fatal("nothing reached the server: the test saw no handshake")
			}
			for _, s := range []string{key, "Authorization", "Bearer", "/api/v1/"} {
				if bytes.Contains(raw, []byte(s)) {
					t.Errorf("%q went over the wire before the certificate was verified", s)
				}
			}
		})
	}
}

// A TLS handshake that fails for a reason other than the certificate —
// the endpoint answers without TLS, or refuses the TLS versions the canary
// speaks — is unavailable: a port or version mismatch in front of the API.
func TestFailedHandshakesAreUnavailable(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"Items":[]}`)) })
	plain := httptest.NewServer(ok)
	defer plain.Close()
	old := httptest.NewUnstartedServer(ok)
	old.TLS = &tls.Config{MaxVersion: tls.VersionTLS11}
	old.StartTLS()
	defer old.Close()
	pool := x509.NewCertPool()
	pool.AddCert(old.Certificate())
	for name, srv := range map[string]*httptest.Server{"plain HTTP": plain, "TLS 1.1 only": old} {
		host, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
		port, _ := strconv.Atoi(p)
		jobs := New(Options{Host: host, Port: port, TLS: true, RootCAs: pool, Timeout: 5 * time.Second}).Jobs
		_, err := jobs.List(context.Background(), &apimodels.ListJobsRequest{})
		if c := scenarios.Classify(err); c != scenarios.ErrUnavailable {
			t.Errorf("%s: class %q, want unavailable: %v", name, c, err)
		}
	}
}

func TestPlainHTTPToATLSPortIsNotACertificateFailure(t *testing.T) {
	t.Parallel()
	ca, _ := testca.New("ca")
	leaf, _ := ca.Issue([]string{"127.0.0.1"}, time.Time{}, time.Time{})
	host, port, _, _ := tlsAPI(t, leaf)
	jobs := New(Options{Host: host, Port: port, Timeout: 5 * time.Second}).Jobs
	_, err := jobs.List(context.Background(), &apimodels.ListJobsRequest{})
	if c := scenarios.Classify(err); c == scenarios.ErrCertificate || c == "" {
		t.Fatalf("class %q: %v", c, err)
	}
}

func TestLoadCAs(t *testing.T) {
	t.Parallel()
	ca, _ := testca.New("ca")
	leaf, _ := ca.Issue([]string{"127.0.0.1"}, time.Time{}, time.Time{})
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, err string
	}{
		{"one CA", write("ca.pem", ca.PEM()), ""},
		{"bundle with a key", write("bundle.pem", append(append(ca.PEM(), leaf.KeyPEM...), leaf.CertPEM...)), ""},
		{"missing", filepath.Join(dir, "nope.pem"), "cannot read"},
		{"a directory", dir, "cannot read"},
		{"empty", write("empty.pem", nil), "no PEM certificate"},
		{"key only", write("key.pem", leaf.KeyPEM), "no PEM certificate"},
		{"DER, not PEM", write("ca.der", []byte("0\x82\x01\x0a")), "no PEM certificate"},
		{"broken certificate", write("broken.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")), "does not parse"},
		{"too big", write("big.pem", bytes.Repeat([]byte("x"), maxCAFileBytes+1)), "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, err := LoadCAs(tc.path)
			if tc.err == "" {
				if err != nil || pool == nil {
					t.Fatalf("LoadCAs: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line saying %q", err, tc.err)
			}
			var pe *os.PathError
			if errors.As(err, &pe) {
				t.Errorf("error wraps the raw path error: %v", err)
			}
		})
	}
}
