package bacalhau

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// rawServer answers every request on loopback with raw bytes, then
// closes the connection: HTTP framing no real server library would send.
func rawServer(t *testing.T, raw string) scenarios.Jobs {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = c.Write([]byte(raw))
			}()
		}
	}()
	host, port, _ := net.SplitHostPort(lis.Addr().String())
	p, _ := strconv.Atoi(port)
	jobs := New(Options{Host: host, Port: p, Timeout: 2 * time.Second}).Jobs
	return jobs
}

const okJSON = `{"Items":[]}`

// Framing faults: a server that answered, unusably, is protocol; only a
// connection that carried no answer at all is unavailable.
func TestFramingFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw string
		want      scenarios.Class
	}{
		{"status-garbage", "HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\n{}", scenarios.ErrProtocol},
		{"status-line-garbage", "SMTP ready\r\n\r\n", scenarios.ErrProtocol},
		{"status-line-binary", "\x16\x03\x01\x00\x2a\x02\x00\x00\x26\x03\x03\r\n\r\n", scenarios.ErrProtocol},
		{"header-no-colon", "HTTP/1.1 200 OK\r\nContent-Type application/json\r\nContent-Length: 12\r\n\r\n" + okJSON, scenarios.ErrProtocol},
		{"header-escape", "HTTP/1.1 200 OK\r\nX-Note: a\x1b[2Jb\r\nContent-Length: 12\r\n\r\n" + okJSON, scenarios.ErrProtocol},
		{"header-huge", "HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("p", 70<<10) + "\r\nContent-Length: 12\r\n\r\n" + okJSON, scenarios.ErrProtocol},
		{"content-length-twice", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Length: 13\r\n\r\n" + okJSON, scenarios.ErrProtocol},
		{"content-length-text", "HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\n" + okJSON, scenarios.ErrProtocol},
		{"chunk-size-garbage", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + okJSON + "\r\n0\r\n\r\n", scenarios.ErrProtocol},
		{"chunk-cut", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" + okJSON, scenarios.ErrProtocol},
		{"body-short", "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + okJSON, scenarios.ErrProtocol},
		{"transfer-encoding-unknown", "HTTP/1.1 200 OK\r\nTransfer-Encoding: rot13\r\n\r\n" + okJSON, scenarios.ErrProtocol},
		{"nothing", "", scenarios.ErrUnavailable},
		{"well-formed", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n" + okJSON, ""},
		{"error-status-bad-chunks", "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", scenarios.ErrServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jobs := rawServer(t, tc.raw)
			_, err := jobs.List(t.Context(), &apimodels.ListJobsRequest{})
			if got := scenarios.Classify(err); got != tc.want {
				t.Errorf("class %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

// The name localhost is dialled at loopback addresses only (credentials
// go to it in clear, as to a loopback host).
func TestLocalhostDialsLoopback(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: reply(http.StatusOK, okJSON)}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	port := lis.Addr().(*net.TCPAddr).Port
	jobs := New(Options{Host: "localhost", Port: port, Timeout: 2 * time.Second, APIKey: "k-123"}).Jobs
	if _, err := jobs.List(t.Context(), &apimodels.ListJobsRequest{}); err != nil {
		t.Fatalf("list via localhost: %v", err)
	}
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", true},
		{"127.0.1.1:80", true},
		{"[::1]:80", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"10.0.0.1:80", false},
		{"[2001:db8::1]:80", false},
		{"0.0.0.0:80", false},
	} {
		err := loopbackOnly("tcp", tt.addr, nil)
		if (err == nil) != tt.ok || err != nil && scenarios.Classify(err) != scenarios.ErrCanary {
			t.Errorf("%s: %v, want allowed %v", tt.addr, err, tt.ok)
		}
	}
}
