package bacalhau

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Fetcher downloads published results over HTTP(S). A result URL is
// whatever a compute node advertises, so the Fetcher refuses, where the
// connection is dialled, any address that resolves to a loopback,
// link-local, unspecified or cloud metadata address — unless the API host
// itself is such an address (a test or a single-host network) — and never
// the metadata addresses. Redirects are followed under the same rules,
// and only when no credentials travel with them.
type Fetcher struct {
	client  *http.Client
	apiHost string

	once     sync.Once
	apiLocal bool

	// resolve looks a host up; tests replace it to make names resolve
	// where they need.
	resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// exempt, in tests, is one loopback address that stands for a
	// routable publisher.
	exempt *netip.Addr
}

var _ scenarios.Fetcher = (*Fetcher)(nil)

// maxRedirects bounds the redirects of one download.
const maxRedirects = 5

// NewFetcher returns a Fetcher for results of the API at apiHost.
func NewFetcher(apiHost string, timeout time.Duration) *Fetcher {
	f := &Fetcher{apiHost: apiHost, resolve: lookup}
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

func lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// Fetch GETs rawURL and returns the body of a 200 reply.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	shown := scenarios.Quote(scenarios.SanitizeURL(rawURL), 300)
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("result URL %s does not parse: %w", shown, scenarios.ErrPublisher)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("result URL %s is not http(s): %w", shown, scenarios.ErrPublisher)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("result URL %s has no host: %w", shown, scenarios.ErrPublisher)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("result URL %s: %v: %w", shown, err, scenarios.ErrPublisher)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			// Its text quotes the URL: signature and token parameters out.
			return nil, fmt.Errorf("GET %s: %w", shown, uerr.Err)
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &StatusError{Code: resp.StatusCode, URL: scenarios.SanitizeURL(rawURL)}
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
		return fmt.Errorf("redirect to %s, not http(s): %w", scenarios.Quote(scenarios.SanitizeURL(req.URL.String()), 300), scenarios.ErrPublisher)
	}
	for _, r := range append(via, req) {
		if r.URL.User != nil || r.Header.Get("Authorization") != "" {
			return fmt.Errorf("redirect to %s with credentials: refused: %w", scenarios.Quote(scenarios.SanitizeURL(req.URL.String()), 300), scenarios.ErrPublisher)
		}
	}
	return nil
}

// StatusError is a non-200 reply to a download.
type StatusError struct {
	Code int
	URL  string // without credentials
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d", scenarios.Quote(e.URL, 300), e.Code)
}

// Unwrap gives the error its class: whatever the publisher answers, it is
// the result path that failed, not the API.
func (e *StatusError) Unwrap() error { return scenarios.ErrPublisher }

// RefusedError is a result address the Fetcher will not connect to.
type RefusedError struct {
	Host string     // as advertised
	Addr netip.Addr // what it resolves to
	Kind string     // loopback, link-local, unspecified, metadata
}

func (e *RefusedError) Error() string {
	if e.Addr.IsValid() && e.Addr.String() != e.Host {
		return fmt.Sprintf("advertised result host %s resolves to %s, a %s address: refused without connecting (the API host is not one)",
			scenarios.Quote(e.Host, 100), e.Addr, e.Kind)
	}
	return fmt.Sprintf("advertised result host %s is a %s address: refused without connecting (the API host is not one)",
		scenarios.Quote(e.Host, 100), e.Kind)
}

// Unwrap classes a refused address as the result path's failure.
func (e *RefusedError) Unwrap() error { return scenarios.ErrPublisher }

// metadataHosts are cloud metadata servers' names.
var metadataHosts = map[string]bool{"metadata.google.internal": true, "metadata": true, "metadata.goog": true}

// metadataAddrs are cloud metadata servers' addresses (AWS, GCP, Azure:
// 169.254.169.254; AWS over IPv6: fd00:ec2::254; Alibaba: 100.100.100.200).
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true,
	netip.MustParseAddr("fd00:ec2::254"):   true,
	netip.MustParseAddr("100.100.100.200"): true,
}

var (
	nat64    = netip.MustParsePrefix("64:ff9b::/96")
	v4compat = netip.MustParsePrefix("::/96")
	thisNet  = netip.MustParsePrefix("0.0.0.0/8")
)

// addrKind says why a is refused, or "" when it is not.
func addrKind(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if metadataAddrs[a] {
		return "metadata"
	}
	if a.Is6() && (nat64.Contains(a) || v4compat.Contains(a)) && !a.IsUnspecified() && !a.IsLoopback() {
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
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			f.apiLocal = true
			return
		}
		addrs, err := f.addrs(ctx, host)
		if err != nil || len(addrs) == 0 {
			return
		}
		for _, a := range addrs {
			if k := addrKind(a); k == "" || k == "metadata" {
				return
			}
		}
		f.apiLocal = true
	})
	return f.apiLocal
}

// addrs resolves host: an IP literal, a legacy numeric IPv4 form
// (2130706433, 0x7f.1, 017700000001: what C resolvers accept) or a name.
func (f *Fetcher) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if a, ok := ParseLegacyIPv4(host); ok {
		return []netip.Addr{a}, nil
	}
	return f.resolve(ctx, host)
}

// dial connects a download to the first allowed address of the host, and
// refuses the host when any of its addresses is not allowed.
func (f *Fetcher) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if metadataHosts[name] {
		return nil, &RefusedError{Host: host, Kind: "metadata"}
	}
	addrs, err := f.addrs(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	local := f.apiIsLocal(ctx)
	for _, a := range addrs {
		if k := f.refused(a, local); k != "" {
			return nil, &RefusedError{Host: host, Addr: a.Unmap(), Kind: k}
		}
	}
	d := &net.Dialer{Timeout: 10 * time.Second, Control: f.control(host, local)}
	var firstErr error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// control checks, once more, the address the socket is about to connect to.
func (f *Fetcher) control(host string, local bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("dialling %s: %v: %w", scenarios.Quote(address, 100), err, scenarios.ErrPublisher)
		}
		if k := f.refused(ap.Addr(), local); k != "" {
			return &RefusedError{Host: host, Addr: ap.Addr().Unmap(), Kind: k}
		}
		return nil
	}
}

// refused says why a download may not connect to a ("" when it may):
// metadata addresses never, local ones only when the API is local too.
func (f *Fetcher) refused(a netip.Addr, apiLocal bool) string {
	if f.exempt != nil && a.Unmap() == *f.exempt {
		return ""
	}
	if k := addrKind(a); k == "metadata" || k != "" && !apiLocal {
		return k
	}
	return ""
}

// ParseLegacyIPv4 parses the numeric IPv4 forms of inet_aton: one to four
// parts, each decimal, octal (leading 0) or hex (0x), the last filling the
// remaining bytes ("2130706433", "0x7f.1", "127.1", "0177.0.0.1").
func ParseLegacyIPv4(s string) (netip.Addr, bool) {
	if s == "" || strings.Trim(s, "0123456789abcdefABCDEFxX.") != "" {
		return netip.Addr{}, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base, digits := 10, p
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, digits = 16, p[2:]
			if digits == "" {
				digits = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}
