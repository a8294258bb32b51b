package bacalhau

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// Fetcher downloads published results over HTTP(S). A result URL is
// whatever a compute node advertises, so the Fetcher refuses, where the
// socket connects (net.Dialer.Control, whatever name or numeric form
// led there), a loopback, link-local or unspecified address — unless the
// API host itself is one (a test or a single-host network) — and a cloud
// metadata address always. Private ranges are allowed: compute nodes and
// S3 endpoints live there. Redirects are followed under the same rules,
// and only when no credentials travel with them.
type Fetcher struct {
	client  *http.Client
	apiHost string

	once     sync.Once
	apiLocal bool
}

// maxRedirects bounds the redirects of one download.
const maxRedirects = 5

// newFetcher returns a Fetcher for results of the API at apiHost.
func newFetcher(apiHost string, timeout time.Duration) *Fetcher {
	f := &Fetcher{apiHost: apiHost}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            f.dial,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  timeout,
		DisableCompression:     true, // a result is a .tar.gz; the caller bounds what it reads
		MaxResponseHeaderBytes: 64 << 10,
	}
	f.client = &http.Client{Timeout: timeout, Transport: tr, CheckRedirect: checkRedirect}
	return f
}

// Fetch GETs rawURL and returns the body of a 200 reply.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	shown := text.Quote(scenarios.SanitizeURL(rawURL), 300)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	switch {
	case err != nil:
		return nil, fmt.Errorf("result URL %s does not parse: %w", shown, scenarios.ErrPublisher)
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return nil, fmt.Errorf("result URL %s is not http(s): %w", shown, scenarios.ErrPublisher)
	case req.URL.Hostname() == "":
		return nil, fmt.Errorf("result URL %s has no host: %w", shown, scenarios.ErrPublisher)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		// A *url.Error, whose text quotes the URL: signature and token
		// parameters out.
		return nil, fmt.Errorf("GET %s: %w", shown, errors.Unwrap(err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		// Whatever the publisher answers, it is the result path that
		// failed, not the API.
		return nil, fmt.Errorf("GET %s: HTTP %d: %w", shown, resp.StatusCode, scenarios.ErrPublisher)
	}
	return resp.Body, nil
}

// checkRedirect follows a redirect of a download only without credentials
// (the address rules apply at the dial, as for the first URL).
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("more than %d redirects: %w", maxRedirects, scenarios.ErrPublisher)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to %s, not http(s): %w", text.Quote(scenarios.SanitizeURL(req.URL.String()), 300), scenarios.ErrPublisher)
	}
	for _, r := range append(via, req) {
		if r.URL.User != nil || r.Header.Get("Authorization") != "" {
			return fmt.Errorf("redirect to %s with credentials: refused: %w", text.Quote(scenarios.SanitizeURL(req.URL.String()), 300), scenarios.ErrPublisher)
		}
	}
	return nil
}

// metadataAddrs are cloud metadata servers' addresses (AWS, GCP, Azure:
// 169.254.169.254; over IPv6, AWS: fd00:ec2::254, GCP: fd20:ce::254, the
// address metadata.google.internal has on an IPv6-only VM; Alibaba:
// 100.100.100.200).
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true,
	netip.MustParseAddr("fd00:ec2::254"):   true,
	netip.MustParseAddr("fd20:ce::254"):    true,
	netip.MustParseAddr("100.100.100.200"): true,
}

var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215; judged by its last 32 bits, as a /96 inside it embeds
	v4compat   = netip.MustParsePrefix("::/96")
	thisNet    = netip.MustParsePrefix("0.0.0.0/8")
)

// addrKind says why a is refused, or "" when it is not. An IPv4 address
// inside NAT64 or IPv4-compatible IPv6 is judged as the IPv4 address.
func addrKind(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if metadataAddrs[a] {
		return "metadata"
	}
	if a.Is6() && (nat64.Contains(a) || nat64Local.Contains(a) || v4compat.Contains(a)) && !a.IsUnspecified() && !a.IsLoopback() {
		b := a.As16()
		if k := addrKind(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); k != "" {
			return k
		}
	}
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "link-local"
	case a.IsUnspecified(), a.Is4() && thisNet.Contains(a):
		return "unspecified"
	}
	return ""
}

// apiIsLocal says whether the API host itself is a loopback, link-local or
// unspecified address (or a name for one): then so may the results be.
func (f *Fetcher) apiIsLocal(ctx context.Context) bool {
	f.once.Do(func() {
		host := strings.TrimSuffix(strings.ToLower(f.apiHost), ".")
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		f.apiLocal = host == "localhost" || strings.HasSuffix(host, ".localhost") ||
			err == nil && len(addrs) > 0 && !slices.ContainsFunc(addrs, func(a netip.Addr) bool {
				k := addrKind(a)
				return k == "" || k == "metadata"
			})
	})
	return f.apiLocal
}

// dial connects a download; the address rule is checked on the address
// the socket is about to connect to, after any resolution.
func (f *Fetcher) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	local := f.apiIsLocal(ctx)
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, addr string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return err
		}
		k := addrKind(ap.Addr())
		if k != "metadata" && (k == "" || local) {
			return nil
		}
		is := "is"
		if a := ap.Addr().Unmap().String(); a != host {
			is = "resolves to " + a + ","
		}
		return fmt.Errorf("advertised result host %s %s a %s address: refused without connecting (the API host is not one): %w",
			text.Quote(host, 100), is, k, scenarios.ErrPublisher)
	}}
	return d.DialContext(ctx, network, address)
}
