package bacalhau

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// Bounds of an API reply. A reply is read whole before the client sees it,
// so these bound the memory one call can take, compressed or not.
const (
	// MaxReplyBytes bounds a 200 reply's body, after decompression.
	MaxReplyBytes = 2 << 20
	// maxErrorReplyBytes bounds what is kept of an error reply's body: it
	// only ends up, clipped, in an error text.
	maxErrorReplyBytes = 64 << 10
)

// checkingTransport reads every API reply itself, bounded, decompresses it
// (the client asks for gzip and would inflate it without a bound), and
// judges it before the client decodes it: every error of the exchange,
// and every reply the canary cannot use (a redirect, a 2xx other than
// 200, a body that is not one JSON object, bad gzip, an oversized body),
// gets a verdict with its class that the checked Jobs layer returns
// instead of whatever the client makes of it (the client turns transport
// errors into text and loses their type). v1.7.0's HTTP 500 for a refused
// API key gets the verdict auth.
type checkingTransport struct {
	base http.RoundTripper
}

// verdict carries what one call met back to the Jobs layer: the checking
// transport's judgement (its error, or that a 200 reply passed the checks:
// then an error of the client decoding it is protocol), and from below it
// (wireTransport) the reply's status, which the retries read. call puts it
// in the request's context.
type verdict struct {
	err    error
	passed bool
	status int
}

type verdictKey struct{}

// verdictOf is the call's verdict; outside a call, one nobody reads.
func verdictOf(ctx context.Context) *verdict {
	if v, ok := ctx.Value(verdictKey{}).(*verdict); ok {
		return v
	}
	return &verdict{}
}

func judge(ctx context.Context, err error) error {
	if v := verdictOf(ctx); v.err == nil {
		v.err = err
	}
	return err
}

// exchangeError classes an error of the HTTP exchange by its type alone: a
// certificate that failed verification; a deadline; nothing answered (no
// connection, a reset, a close before any byte of a reply); else the
// server answered in HTTP net/http could not read (a malformed status
// line, header block, length or chunk; a reply cut short): protocol. An
// interrupt (context.Canceled) stays the canary's.
func exchangeError(ctx context.Context, call string, err error) error {
	var class scenarios.Class
	var netErr net.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var errno syscall.Errno
	var notTLS tls.RecordHeaderError
	var cause error
	why, badCert := certificateProblem(err)
	deadline, hasDeadline := ctx.Deadline()
	switch {
	case errors.As(err, &class):
		return fmt.Errorf("%s: %w", call, err)
	case badCert:
		// The handshake fails before any request is written: no
		// credential went to a server the canary could not verify.
		return fmt.Errorf("%s: the API's TLS certificate %s: %w", call, why, scenarios.ErrCertificate)
	case errors.Is(ctx.Err(), context.Canceled):
		cause = context.Canceled
	case ctx.Err() != nil, hasDeadline && !time.Now().Before(deadline), errors.As(err, &netErr) && netErr.Timeout():
		// The client's own timeout may cancel the request a moment
		// before its context says why.
		cause = scenarios.ErrTimeout
	case errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "remote error"), errors.As(err, &dnsErr),
		errors.As(err, &errno), errors.As(err, &notTLS), errors.Is(err, io.EOF):
		// Nothing usable answered: no connection, a socket error (refused,
		// reset, unreachable), a close before any byte (net/http's io.EOF;
		// a cut reply is io.ErrUnexpectedEOF), or a TLS handshake the
		// endpoint refused with an alert or answered without TLS (a port
		// or TLS version mismatch at the load balancer).
		cause = scenarios.ErrUnavailable
	default:
		cause = scenarios.ErrProtocol
	}
	return fmt.Errorf("%s: %w: %w", call, clipped{err}, cause)
}

// clipped bounds an error's text (net/http quotes what the server sent),
// keeping the error in the chain: the retries read its reset or EOF.
type clipped struct{ error }

func (c clipped) Error() string { return text.Clip(c.error.Error(), 300) }
func (c clipped) Unwrap() error { return c.error }

func (t *checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	call := req.Method + " " + req.URL.Path
	ctx := req.Context()
	if err != nil {
		return nil, judge(ctx, exchangeError(ctx, call, err))
	}
	// Past here: 200, or an error status (4xx, 5xx).
	if code := resp.StatusCode; code != http.StatusOK && (code < 400 || code > 599) {
		resp.Body.Close()
		why := "not a final status"
		switch {
		case code >= 300 && code < 400:
			where := "without Location"
			if loc := resp.Header.Get("Location"); loc != "" {
				where = "to " + text.Quote(scenarios.SanitizeURL(loc), 200)
			}
			why = "a redirect " + where + " (API calls follow no redirect)"
		case code >= 200 && code < 300:
			why = "where 200 is the only success"
		}
		return nil, judge(ctx, fmt.Errorf("%s: API answered HTTP %d, %s: %w", call, code, why, scenarios.ErrProtocol))
	}
	limit, read := int64(MaxReplyBytes), io.ReadAll
	switch {
	case resp.StatusCode != http.StatusOK:
		limit = maxErrorReplyBytes
	case isJobList(req):
		// other users' jobs: big strings dropped as they stream (list.go)
		limit, read = maxListBytes, dropLongStrings
	}
	body, err := readReply(resp, limit, read)
	resp.Body.Close()
	if err != nil {
		switch {
		case resp.StatusCode == http.StatusOK || ctx.Err() != nil:
			return nil, judge(ctx, exchangeError(ctx, call+": reading the reply", err))
		case !errors.Is(err, errTooBig):
			// The status is the answer; a body that cannot be read
			// changes nothing about it.
			return nil, judge(ctx, fmt.Errorf("%s: API answered %s (body unreadable: %v): %w",
				call, statusText(resp.StatusCode), err, scenarios.StatusClass(resp.StatusCode)))
		}
		// An error page larger than what is kept: its start is enough.
	}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = int64(len(body))
	resp.Uncompressed = true
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if resp.StatusCode == http.StatusOK {
		// The client decodes a null body into a nil reply and trusts the
		// rest: a reply that makes it panic (a null list item) is caught
		// by call, one that does not decode is protocol there too.
		if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' || !json.Valid(b) {
			return nil, judge(ctx, fmt.Errorf("%s: reply is not one JSON object (%s): %w", call, text.Quote(string(body), 100), scenarios.ErrProtocol))
		}
		verdictOf(ctx).passed = true
		return resp, nil
	}
	// An error reply is classed by its status, whatever its body claims
	// (the client would take the body's own Status, Code and Component).
	if resp.StatusCode == http.StatusInternalServerError && refusedCredentialsV17(body) {
		judge(ctx, fmt.Errorf("%s: HTTP 500 %s (Bacalhau v1.7 refusing the credentials): %w",
			call, text.Quote(string(body), 300), scenarios.ErrAuth))
	} else {
		judge(ctx, fmt.Errorf("%s: API answered %s%s: %w",
			call, statusText(resp.StatusCode), replyMessage(body), scenarios.StatusClass(resp.StatusCode)))
	}
	return resp, nil
}

// statusText names a status: "HTTP 404 Not Found".
func statusText(code int) string {
	return strings.TrimSpace(fmt.Sprintf("HTTP %d %s", code, http.StatusText(code)))
}

// replyMessage shows what an error reply says, bounded and quoted: the
// Message of a Bacalhau API error, else the body's start.
func replyMessage(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return ""
	}
	var e struct{ Message *string }
	if json.Unmarshal(body, &e) == nil && e.Message != nil {
		return ": " + text.Quote(*e.Message, 300)
	}
	return ": " + text.Quote(string(body), 300)
}

// errTooBig marks a reply over its bound: a protocol error.
var errTooBig = fmt.Errorf("%w", scenarios.ErrProtocol)

// readReply reads the reply's body, inflated, through read: at most
// limit bytes as sent and as inflated (the client asks for gzip and
// would inflate it without a bound).
func readReply(resp *http.Response, limit int64, read func(io.Reader) ([]byte, error)) ([]byte, error) {
	r := bounded(resp.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(r)
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reply labelled gzip is not: %v: %w", err, scenarios.ErrProtocol)
		}
		defer gz.Close()
		r = bounded(&gzipErrReader{gz}, limit)
	default:
		return nil, fmt.Errorf("reply has Content-Encoding %s, which was not asked for: %w", text.Quote(enc, 40), scenarios.ErrProtocol)
	}
	return read(r)
}

// bounded reads r to at most limit bytes: a longer reply is a
// errTooBig, which comes with the first limit bytes.
func bounded(r io.Reader, limit int64) io.Reader { return &boundedReader{r, limit, limit} }

type boundedReader struct {
	r           io.Reader
	limit, left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p[:min(int64(len(p)), b.left+1)])
	if int64(n) > b.left {
		n, err = int(b.left), fmt.Errorf("reply is over %d bytes: %w", b.limit, errTooBig)
	}
	b.left -= int64(n)
	return n, err
}

// gzipErrReader classes a corrupt compressed stream as a bad reply.
type gzipErrReader struct{ r io.Reader }

func (g *gzipErrReader) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, errTooBig) {
		err = fmt.Errorf("reply labelled gzip is corrupt: %v: %w", err, scenarios.ErrProtocol)
	}
	return n, err
}

// refusedCredentialsV17 recognises Bacalhau v1.7.0's answer to a missing,
// wrong or under-privileged credential: its authorization middleware turns
// the authorizer's error into echo.NewHTTPError(500, msg), which the API's
// error handler writes as {"Status":500,"Code":"InternalError",
// "Component":"APIServer","Message":msg}. msg is one of the authorizers'
// own texts (pkg/authz in v1.7.0); any other 500 stays a server error.
func refusedCredentialsV17(body []byte) bool {
	var e struct {
		Status    int
		Code      string
		Component string
		Message   string
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	if e.Status != http.StatusInternalServerError || e.Code != "InternalError" || e.Component != "APIServer" {
		return false
	}
	for _, prefix := range []string{
		"missing authorization header",
		"authentication failed",
		"unsupported authentication method",
		"invalid authorization header format",
		"JWT validation failed",
		"unauthorized: missing URL",
		"Invalid token.",
		"Access denied.",
	} {
		if strings.HasPrefix(e.Message, prefix) {
			return true
		}
	}
	return strings.HasPrefix(e.Message, "user '") && strings.Contains(e.Message, "' does not have the required capability '")
}
