// Package bacalhau connects the canary to a Bacalhau orchestrator: the
// official client for the API, behind a layer that bounds, checks and
// classes every reply before the client decodes it, and a fetcher for
// published results that refuses local and metadata addresses.
package bacalhau

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv2 "github.com/bacalhau-project/bacalhau/pkg/publicapi/client/v2"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// Options say where the API is and how to authenticate.
type Options struct {
	Host     string // a name or an IP address, without brackets
	Port     int
	TLS      bool
	APIKey   string // bearer token
	Username string // basic auth, with Password
	Password string
	Timeout  time.Duration  // per request
	RootCAs  *x509.CertPool // the CAs trusted for the API (LoadCAs); nil: the system's
}

// Address is the API's base URL.
func (o Options) Address() string {
	scheme := "http"
	if o.TLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
}

// New returns the run's connection to the orchestrator: its job API, a
// fetcher for results and the server's version as its replies say it.
func New(o Options) scenarios.Conn {
	headers := http.Header{}
	switch {
	case o.APIKey != "":
		headers.Set("Authorization", "Bearer "+o.APIKey)
	case o.Username != "":
		headers.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(o.Username+":"+o.Password)))
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if strings.EqualFold(o.Host, "localhost") {
		// The configuration sends credentials to it in clear as to a
		// loopback host: it is connected at loopback addresses only.
		dialer.Control = loopbackOnly
	}
	base := &http.Transport{
		Proxy:                  nil, // the canary talks to the API it is given, never through a proxy of the environment
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
		ResponseHeaderTimeout:  o.Timeout,
		DisableCompression:     true, // the checking transport inflates, bounded
		ForceAttemptHTTP2:      true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	wire := &wireTransport{base: base}
	hc := &http.Client{
		Timeout:   o.Timeout,
		Transport: &checkingTransport{base: wire},
		// API calls follow no redirect: a 3xx is a reply the canary
		// cannot use (the transport judges it protocol), and following
		// it would replay the call, and the credentials, elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	api := clientv2.New(o.Address(),
		clientv2.WithHTTPClient(hc),
		clientv2.WithHeaders(headers),
		clientv2.WithAppID("bacalhau-canary"),
	)
	return scenarios.Conn{
		Jobs:    &checkedJobs{jobs: api.Jobs(), nodes: api.Nodes()},
		Fetcher: newFetcher(o.Host, o.Timeout),
		Version: wire.serverVersion,
	}
}

// loopbackOnly refuses to connect to an address that is not loopback.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	if ap, err := netip.ParseAddrPort(address); err != nil || !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("localhost resolves to %s, not a loopback address: %w", text.Quote(address, 100), scenarios.ErrCanary)
	}
	return nil
}
