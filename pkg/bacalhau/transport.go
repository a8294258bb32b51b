package bacalhau

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
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
// judges it before the client decodes it: a reply the canary cannot use
// (a redirect, a 2xx other than 200, an empty or null body, a null list
// item, bad gzip, an oversized body) gets a verdict that the checked Jobs
// layer returns instead of whatever the client would make of it. v1.7.0's
// HTTP 500 for a refused API key gets the verdict auth.
type checkingTransport struct {
	base http.RoundTripper
}

// verdict carries the transport's judgement of one call's reply back to
// the Jobs layer; the client itself turns transport errors into text.
type verdict struct {
	err error
}

type verdictKey struct{}

func withVerdict(ctx context.Context) (context.Context, *verdict) {
	v := &verdict{}
	return context.WithValue(ctx, verdictKey{}, v), v
}

func judge(ctx context.Context, err error) error {
	if v, ok := ctx.Value(verdictKey{}).(*verdict); ok && v.err == nil {
		v.err = err
	}
	return err
}

func (t *checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	call := req.Method + " " + req.URL.Path
	ctx := req.Context()
	if err != nil {
		if broken := framing(call, err); broken != nil {
			return nil, judge(ctx, broken)
		}
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 599 {
		resp.Body.Close()
		return nil, judge(ctx, fmt.Errorf("%s: API answered HTTP %d, not a final status: %w", call, resp.StatusCode, scenarios.ErrProtocol))
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		resp.Body.Close()
		where := "without Location"
		if loc := resp.Header.Get("Location"); loc != "" {
			where = "to " + scenarios.Quote(scenarios.SanitizeURL(loc), 200)
		}
		return nil, judge(ctx, fmt.Errorf("%s: API answered HTTP %d, a redirect %s (API calls follow no redirect): %w",
			call, resp.StatusCode, where, scenarios.ErrProtocol))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 && resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, judge(ctx, fmt.Errorf("%s: API answered HTTP %d where 200 is the only success: %w",
			call, resp.StatusCode, scenarios.ErrProtocol))
	}
	limit := int64(MaxReplyBytes)
	if resp.StatusCode != http.StatusOK {
		limit = maxErrorReplyBytes
	}
	var body []byte
	if resp.StatusCode == http.StatusOK && isJobList(req) {
		body, err = readList(resp) // other users' jobs: big strings dropped as they stream (list.go)
	} else {
		body, err = readReply(resp, limit)
	}
	resp.Body.Close()
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusOK {
			if broken := framing(call, err); broken != nil {
				return nil, judge(ctx, broken)
			}
			return nil, judge(ctx, fmt.Errorf("%s: reading the reply: %w", call, err))
		}
		var tooBig *tooBigError
		if !errors.As(err, &tooBig) {
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
		if err := checkJSON(body); err != nil {
			return nil, judge(ctx, fmt.Errorf("%s: %v: %w", call, err, scenarios.ErrProtocol))
		}
		return resp, nil
	}
	// An error reply is classed by its status, whatever its body claims
	// (the client would take the body's own Status, Code and Component).
	if resp.StatusCode == http.StatusInternalServerError && refusedCredentialsV17(body) {
		judge(ctx, fmt.Errorf("%s: HTTP 500 %s (Bacalhau v1.7 refusing the credentials): %w",
			call, scenarios.Quote(string(body), 300), scenarios.ErrAuth))
	} else {
		judge(ctx, fmt.Errorf("%s: API answered %s%s: %w",
			call, statusText(resp.StatusCode), replyMessage(body), scenarios.StatusClass(resp.StatusCode)))
	}
	return resp, nil
}

// statusText names a status: "HTTP 404 Not Found".
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("HTTP %d %s", code, t)
	}
	return fmt.Sprintf("HTTP %d", code)
}

// replyMessage shows what an error reply says, bounded and quoted: the
// Message of a Bacalhau API error, else the body's start.
func replyMessage(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return ""
	}
	var e struct{ Message *string }
	if json.Unmarshal(body, &e) == nil && e.Message != nil {
		return ": " + scenarios.Quote(*e.Message, 300)
	}
	return ": " + scenarios.Quote(string(body), 300)
}

// tooBigError is a reply over its bound.
type tooBigError struct{ limit int64 }

func (e *tooBigError) Error() string {
	return fmt.Sprintf("reply is over %d bytes: %s", e.limit, scenarios.ErrProtocol)
}

func (e *tooBigError) Unwrap() error { return scenarios.ErrProtocol }

// readReply reads at most limit bytes of the reply, decompressed.
func readReply(resp *http.Response, limit int64) ([]byte, error) {
	var r io.Reader = resp.Body
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(raw)) > limit {
			return raw[:limit], &tooBigError{limit}
		}
		if len(raw) == 0 {
			return nil, nil
		}
		gz, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("reply labelled gzip is not: %v: %w", err, scenarios.ErrProtocol)
		}
		defer gz.Close()
		r = &gzipErrReader{gz}
	default:
		return nil, fmt.Errorf("reply has Content-Encoding %s, which was not asked for: %w", scenarios.Quote(enc, 40), scenarios.ErrProtocol)
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return b[:limit], &tooBigError{limit}
	}
	return b, err
}

// gzipErrReader classes a corrupt compressed stream as a bad reply.
type gzipErrReader struct{ r io.Reader }

func (g *gzipErrReader) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("reply labelled gzip is corrupt: %v: %w", err, scenarios.ErrProtocol)
	}
	return n, err
}

// checkJSON checks a 200 reply is one JSON object without a null list
// item: the client's decoding turns a null body into a nil reply and
// normalises list items without a nil check, both of which panic.
func checkJSON(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("reply body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("reply is not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("reply is %s, not a JSON object", describeToken(tok))
	}
	stack := []frame{{key: true}}
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.array {
				fmt.Fprintf(&b, "[%d]", f.index)
			} else if f.name != "" {
				b.WriteString("." + keyText(f.name))
			}
		}
		return b.String()
	}
	for len(stack) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("reply is not JSON: %v", err)
		}
		top := &stack[len(stack)-1]
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				advance(&stack[len(stack)-1])
			}
			continue
		}
		if !top.array && top.key {
			top.name, _ = tok.(string)
			top.key = false
			continue
		}
		switch v := tok.(type) {
		case json.Delim: // '{' or '['
			stack = append(stack, frame{array: v == '[', key: v == '{'})
			continue
		case nil:
			if top.array {
				return fmt.Errorf("reply has a null list item at %s", path())
			}
		}
		advance(top)
	}
	if dec.More() {
		return errors.New("reply has data after its JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("reply has data after its JSON object")
	}
	return nil
}

// frame is an open JSON container while checkJSON walks a reply: for an
// object, whether the next token is a key and the last key; for an array,
// the item's index.
type frame struct {
	array bool
	key   bool
	index int
	name  string
}

// keyText shows a JSON key in a path: as is when it is a plain name.
func keyText(k string) string {
	if len(k) <= 40 && !strings.ContainsFunc(k, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
	}) {
		return k
	}
	return scenarios.Quote(k, 40)
}

// advance moves a container past one complete value.
func advance(f *frame) {
	if f.array {
		f.index++
	} else {
		f.key = true
	}
}

func describeToken(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		return "a JSON array"
	case string:
		return "a JSON string"
	case bool:
		return "a JSON boolean"
	case json.Number:
		return "a JSON number"
	}
	return "not an object"
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
