package scenarios_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// TestClassify: the rules of Classify itself. The Class in an error's
// chain decides; else a passed deadline is timeout; anything else, an
// interrupt among it, is the canary's (an error of an API call always
// carries a class: pkg/bacalhau gives it one).
func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want scenarios.Class
	}{
		{nil, ""},
		{scenarios.ErrAuth, scenarios.ErrAuth},
		{fmt.Errorf("x: %w", scenarios.ErrConcurrency), scenarios.ErrConcurrency},
		{fmt.Errorf("GET: %w: %w", context.DeadlineExceeded, scenarios.ErrProtocol), scenarios.ErrProtocol},
		{fmt.Errorf("waiting: %w", context.DeadlineExceeded), scenarios.ErrTimeout},
		{fmt.Errorf("interrupted: %w", context.Canceled), scenarios.ErrCanary},
		{errors.New("got 0 byte response with non-nil decode object"), scenarios.ErrCanary},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, scenarios.ErrCanary},
	} {
		if got := scenarios.Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// The classes of API replies, as the contract states them (docs/contract.md,
// "Error classes"), checked on replies of a real HTTP server through the
// real client (pkg/bacalhau) and Classify. The oracle is the rule applied
// to what the test generated, never a copy of the implementation's mapping:
//
//   - 401, 403: auth;
//   - 429 and 5xx: server, except Bacalhau v1.7's refusal of a credential,
//     an HTTP 500 recognised from its body: auth;
//   - other 4xx: bad_request;
//   - 2xx or 3xx that is not the expected reply, or no HTTP status at all:
//     protocol;
//   - no reply (refused, DNS, a close before any byte): unavailable; a
//     deadline: timeout.
//
// The class of a reply is its HTTP status's: what its body says about a
// status, a code or a component does not change it.

// bodyKind is what the generator put in a reply's body.
type bodyKind uint8

const (
	bodyRaw      bodyKind = iota // arbitrary bytes
	bodyExpected                 // the reply the call expects
	bodyV17Auth                  // Bacalhau v1.7.0 refusing the credential
	bodyNearMiss                 // close to v1.7.0's refusal, but not it
	bodyAPIError                 // an API error envelope with arbitrary status, code, component
	bodyEmpty
	bodyKinds
)

// Content-Encodings a reply may come with.
const (
	encNone     = iota
	encIdentity // "identity"
	encGzip     // "gzip", body compressed
	encGzipLie  // "gzip", body not compressed
	encUnknown  // one the client did not ask for
	encodings
)

// apiReply is one generated answer of the API to one call.
type apiReply struct {
	status   int
	kind     bodyKind
	body     []byte // as meant, before any compression
	encoding int
	headers  http.Header
	put      bool // the run submits a job (else it lists jobs)
}

// v17Error is v1.7.0's API error as its error handler writes it
// (pkg/publicapi/middleware/error_handler.go, apimodels.APIError).
type v17Error struct {
	Status    int
	Message   string
	RequestID string
	Code      string
	Component string
	Hint      string `json:",omitempty"`
}

// v17AuthMessages are the texts of v1.7.0's authorizers (pkg/authz) that
// its authorization middleware answers with HTTP 500
// (pkg/publicapi/middleware/authz.go); %s is arbitrary.
var v17AuthMessages = []string{
	"missing authorization header",
	"unsupported authentication method",
	"authentication failed",
	"authentication failed: %s",
	"user '%s' does not have the required capability 'read:job'",
	"user 'canary' does not have the required capability '%s'",
	"invalid authorization header format, expected 'Bearer TOKEN'",
	"JWT validation failed: %s",
	"unauthorized: missing URL",
}

func v17Body(e v17Error) []byte {
	b, _ := json.Marshal(e)
	return b
}

func v17Refusal(msg string) v17Error {
	return v17Error{Status: 500, Message: msg, Code: "InternalError", Component: "APIServer"}
}

// nearMisses are HTTP 500 bodies that look like v1.7.0's refusal of a
// credential but are not: each is a server error.
var nearMisses = []func(s string) []byte{
	func(s string) []byte { return v17Body(v17Refusal("Internal server error. database is locked " + s)) },
	func(s string) []byte {
		e := v17Refusal("authentication failed: " + s)
		e.Component = "Unknown"
		return v17Body(e)
	},
	func(s string) []byte {
		e := v17Refusal("missing authorization header")
		e.Code = "UnauthorizedError"
		return v17Body(e)
	},
	func(s string) []byte {
		e := v17Refusal("authentication failed")
		e.Status = 401
		return v17Body(e)
	},
	func(s string) []byte {
		e := v17Refusal("Internal server error")
		e.Hint = "authentication failed: " + s
		return v17Body(e)
	},
	func(s string) []byte { return v17Body(v17Refusal("job store: authentication failed to etcd " + s)) },
	func(s string) []byte { return v17Body(v17Refusal("Authentication failed: invalid API key")) },
	func(s string) []byte { return []byte("[" + string(v17Body(v17Refusal("authentication failed"))) + "]") },
	func(s string) []byte { return []byte("<html>authentication failed " + s + "</html>") },
	func(s string) []byte { b := v17Body(v17Refusal("authentication failed")); return b[:len(b)/2] },
	func(s string) []byte { return []byte("missing authorization header") },
}

// codes are what an API error envelope may claim, including the client's
// own codes for failures that had no reply.
var codes = []string{"UnauthorizedError", "TimeOutError", "NetworkFailure", "RequestCancelled",
	"ServiceUnavailable", "BadRequestError", "InternalError", "NotFoundError", "", "weird"}

var components = []string{"HTTPClient", "APIServer", "Orchestrator", "Unknown", ""}

// interesting statuses; others are drawn at random.
var statuses = []int{200, 200, 200, 201, 202, 204, 206, 299, 300, 301, 302, 303, 304, 307, 308, 399,
	400, 401, 403, 404, 405, 409, 413, 418, 422, 429, 451, 499, 500, 500, 500, 501, 502, 503, 504, 507, 511, 599, 600, 799, 999}

const (
	expectedList = `{"Items":[{"ID":"j-2","Name":"canary","Type":"batch","Count":1,"State":{"StateType":"Completed"},"CreateTime":2},` +
		`{"ID":"j-1","Name":"canary","Type":"batch","Count":1,"State":{"StateType":"Failed"},"CreateTime":1}],"NextToken":""}`
	expectedPut = `{"JobID":"j-1","EvaluationID":"e-1"}`
)

// build makes a reply from generator input: the fuzz engine's or the
// random test's.
func build(status int, kind bodyKind, data []byte, enc int, header string, put bool) apiReply {
	r := apiReply{status: status, kind: kind % bodyKinds, encoding: enc % encodings, headers: http.Header{}, put: put}
	s := string(data)
	pick := func(n int) int {
		if len(data) == 0 {
			return 0
		}
		return int(data[0]) % n
	}
	switch r.kind {
	case bodyRaw:
		r.body = data
	case bodyExpected:
		r.body = []byte(expectedList)
		if put {
			r.body = []byte(expectedPut)
		}
	case bodyV17Auth:
		msg := v17AuthMessages[pick(len(v17AuthMessages))]
		if strings.Contains(msg, "%s") {
			msg = fmt.Sprintf(msg, s)
		}
		r.body = v17Body(v17Refusal(msg))
	case bodyNearMiss:
		r.body = nearMisses[pick(len(nearMisses))](s)
	case bodyAPIError:
		claimed := 0
		if len(data) > 1 {
			claimed = int(data[1])*7 + 100*(int(data[0])%6)
		}
		r.body = v17Body(v17Error{Status: claimed, Message: s, Code: codes[pick(len(codes))],
			Component: components[(pick(256)/len(codes))%len(components)]})
	}
	// Headers a server may send, whatever the status: a content type,
	// a version, a redirect target, and one more from the input.
	types := []string{"application/json", "application/json; charset=utf-8", "text/html", "text/plain", ""}
	if t := types[len(header)%len(types)]; t != "" {
		r.headers.Set("Content-Type", t)
	}
	r.headers.Set("X-Bacalhau-Git-Version", clean(header))
	if r.status >= 300 && r.status < 400 && len(header)%2 == 0 {
		r.headers.Set("Location", "http://127.0.0.1:1/api/v1/orchestrator/jobs?"+clean(header))
	}
	if name, value, ok := strings.Cut(header, ":"); ok && validName(name) && !strings.EqualFold(name, "Content-Encoding") &&
		!strings.EqualFold(name, "Content-Length") && !strings.EqualFold(name, "Transfer-Encoding") {
		r.headers.Set(name, clean(value))
	}
	return r
}

// clean keeps what a header value can carry.
func clean(s string) string {
	return strings.Map(func(c rune) rune {
		if c < ' ' || c >= 0x7f {
			return -1
		}
		return c
	}, s)
}

func validName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')
	})
}

// readable says whether the body reaches the client as sent: no encoding,
// identity, or gzip that is gzip.
func (r apiReply) readable() bool {
	return r.encoding == encNone || r.encoding == encIdentity || r.encoding == encGzip
}

// rule is the class the contract gives the reply; pass says the call
// must succeed.
func (r apiReply) rule() (want scenarios.Class, pass bool) {
	switch {
	case r.status == http.StatusOK && r.kind == bodyExpected && r.readable():
		return "", true
	case r.status < 400 || r.status > 599:
		return scenarios.ErrProtocol, false
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		return scenarios.ErrAuth, false
	case r.status < 500 && r.status != http.StatusTooManyRequests:
		return scenarios.ErrBadRequest, false
	case r.status == http.StatusInternalServerError && r.kind == bodyV17Auth && r.readable():
		return scenarios.ErrAuth, false
	}
	return scenarios.ErrServer, false
}

// serve answers every call with r.
func (r apiReply) serve(w http.ResponseWriter, _ *http.Request) {
	for k, v := range r.headers {
		w.Header()[k] = v
	}
	body := r.body
	switch r.encoding {
	case encIdentity:
		w.Header().Set("Content-Encoding", "identity")
	case encGzip:
		var buf bytes.Buffer
		z := gzip.NewWriter(&buf)
		_, _ = z.Write(body)
		_ = z.Close()
		body = buf.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
	case encGzipLie:
		w.Header().Set("Content-Encoding", "gzip")
	case encUnknown:
		w.Header().Set("Content-Encoding", "br")
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(body)
}

// submitOnce submits the canary job and nothing else: the submission
// path of every submitting scenario.
var submitOnce = scenarios.Scenario{
	Name:   "submitOnce",
	Phases: []string{"submit"},
	Run: func(ctx context.Context, p *scenarios.Probe) error {
		return p.Phase("submit", func() error {
			_, err := p.Submit(ctx, 1)
			return err
		})
	},
}

// run runs one scenario against a real server answering every call with
// r, through the canary's client and runner: a submission (put) or the
// list scenario.
func run(t *testing.T, r apiReply) scenarios.Result {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	defer srv.Close()
	conn := bacalhau.New(options(t, srv.Listener.Addr().String(), 5*time.Second))
	runner := &scenarios.Runner{Connect: func(context.Context) (scenarios.Conn, error) {
		return conn, nil
	}, Env: "test", Timeout: 5 * time.Second,
		Spec: scenarios.JobSpec{Engine: scenarios.EngineWasm, Publisher: scenarios.PublisherLocal}}
	if r.put {
		return runner.Run(t.Context(), submitOnce)
	}
	return runner.Run(t.Context(), scenarios.List)
}

func options(t *testing.T, addr string, timeout time.Duration) bacalhau.Options {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return bacalhau.Options{Host: host, Port: p, APIKey: "k-1", Timeout: timeout}
}

// check asserts the rule that applies to r.
func check(t *testing.T, r apiReply) {
	t.Helper()
	want, pass := r.rule()
	res := run(t, r)
	got := res.Class
	desc := fmt.Sprintf("HTTP %d, put %v, encoding %d, headers %v, body %.200q", r.status, r.put, r.encoding, r.headers, r.body)
	switch {
	case pass && !res.Success:
		t.Fatalf("%s: run failed (%s: %.300s), want it to pass", desc, got, res.Error)
	case pass:
		return
	case res.Success && r.status == http.StatusOK && r.readable() && jsonObject(r.body) && (r.kind == bodyRaw || !r.put):
		// Arbitrary bytes may happen to be a reply the scenario can use,
		// and any JSON object is a list of no jobs.
		return
	case res.Success:
		t.Fatalf("%s: run passed, want %s", desc, want)
	case got != want && !(want == scenarios.ErrServer && got == scenarios.ErrAuth && r.kind == bodyRaw && looksV17(r.body)):
		t.Fatalf("%s: class %s, want %s (error: %.300s)", desc, got, want, res.Error)
	}
	if strings.ContainsAny(res.Error, "\n\r") || len(res.Error) > 4096 {
		t.Fatalf("%s: error text of %d bytes or on several lines: %.300q", desc, len(res.Error), res.Error)
	}
}

func jsonObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

// looksV17 says whether arbitrary bytes have the envelope of v1.7.0's
// refusal of a credential: for those, which messages are a refusal is
// v1.7.0's to say, and auth is a fair answer.
func looksV17(body []byte) bool {
	var e v17Error
	return json.Unmarshal(body, &e) == nil && e.Status == 500 && e.Code == "InternalError" && e.Component == "APIServer"
}

// TestClassifyRules draws replies at random (a fixed seed, so a failure
// repeats) and checks each against the rule that applies.
func TestClassifyRules(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(12, 2026))
	n := 400
	if testing.Short() {
		n = 150
	}
	for range n {
		status := statuses[rng.IntN(len(statuses))]
		if rng.IntN(4) == 0 {
			status = 200 + rng.IntN(800)
		}
		data := make([]byte, rng.IntN(80))
		for i := range data {
			data[i] = byte(rng.IntN(256))
			if rng.IntN(3) > 0 {
				data[i] = byte(' ' + rng.IntN(95)) // mostly text
			}
		}
		header := string(data[:min(len(data), 30)])
		if rng.IntN(3) == 0 {
			header = []string{"Retry-After:120", "WWW-Authenticate:Bearer", "X-Request-Id:r-1", "Set-Cookie:a=b"}[rng.IntN(4)]
		}
		check(t, build(status, bodyKind(rng.IntN(int(bodyKinds))), data, rng.IntN(encodings), header, rng.IntN(2) == 0))
	}
}

// FuzzClassify: any reply of the API gets the class its rule says. The
// seeds (run by go test) cover every rule.
func FuzzClassify(f *testing.F) {
	for _, s := range []struct {
		status int
		kind   bodyKind
		data   string
		enc    int
		header string
		put    bool
	}{
		{200, bodyExpected, "", encNone, "", false},
		{200, bodyExpected, "", encGzip, "", true},
		{200, bodyExpected, "", encGzipLie, "", false},
		{200, bodyRaw, "null", encNone, "", false},
		{200, bodyRaw, "{\"Job\":{\"Tasks\":[null]}}", encNone, "", false},
		{200, bodyEmpty, "", encNone, "", true},
		{204, bodyEmpty, "", encNone, "", false},
		{201, bodyExpected, "", encNone, "", true},
		{302, bodyEmpty, "", encNone, "", true},
		{399, bodyRaw, "x", encNone, "Location:/x", false},
		{401, bodyRaw, `{"Status":401,"Message":"Invalid token."}`, encNone, "", false},
		{403, bodyAPIError, "\x01\x02denied", encUnknown, "", true},
		{404, bodyAPIError, "\x00\x00job not found", encNone, "", false},
		{404, bodyAPIError, "\x0a\x48timed out", encNone, "", false},
		{400, bodyNearMiss, "\x02", encGzipLie, "", true},
		{429, bodyEmpty, "", encNone, "Retry-After:5", false},
		{500, bodyV17Auth, "\x00", encNone, "", false},
		{500, bodyV17Auth, "\x03invalid API key", encGzip, "", true},
		{500, bodyV17Auth, "\x04canary", encNone, "", false},
		{500, bodyV17Auth, "\x07token is expired", encIdentity, "", true},
		{500, bodyV17Auth, "\x02", encGzipLie, "", false},
		{500, bodyNearMiss, "\x00", encNone, "", false},
		{500, bodyNearMiss, "\x01", encNone, "", true},
		{500, bodyNearMiss, "\x04", encNone, "", false},
		{500, bodyNearMiss, "\x05", encNone, "", true},
		{500, bodyNearMiss, "\x08", encNone, "", false},
		{500, bodyNearMiss, "\x0a", encNone, "", true},
		{500, bodyNearMiss, "\x02", encNone, "", false},
		{500, bodyNearMiss, "\x03", encNone, "", true},
		{500, bodyNearMiss, "\x06", encNone, "", false},
		{500, bodyNearMiss, "\x07", encGzip, "", false},
		{500, bodyNearMiss, "\x09", encNone, "", false},
		{500, bodyAPIError, "\x00\x09", encNone, "", false},
		{502, bodyV17Auth, "\x00", encNone, "", false},
		{503, bodyAPIError, "\x01\x06", encNone, "", true},
		{503, bodyRaw, "<html>down</html>", encUnknown, "", false},
		{600, bodyExpected, "", encNone, "", false},
		{999, bodyEmpty, "", encNone, "", true},
	} {
		f.Add(s.status, uint8(s.kind), []byte(s.data), s.enc, s.header, s.put)
	}
	f.Fuzz(func(t *testing.T, status int, kind uint8, data []byte, enc int, header string, put bool) {
		if status < 200 || status > 999 || enc < 0 || len(data) > 1<<16 {
			return // 1xx are not final; beyond 999 a server cannot send
		}
		check(t, build(status, bodyKind(kind), data, enc, header, put))
	})
}

// TestClassifyNoReply: failures before any reply.
func TestClassifyNoReply(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := lis.Addr().String()
	lis.Close()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	hang := func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client gone only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}
	hangup := func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}
	for _, tt := range []struct {
		name     string
		handler  http.HandlerFunc // nil: addr
		addr     string
		timeout  time.Duration // the client's, per call
		deadline time.Duration // the run's; 0: none
		want     scenarios.Class
	}{
		{"refused", nil, refused, 5 * time.Second, 0, scenarios.ErrUnavailable},
		// Go's resolver never asks DNS about .onion (RFC 7686): no packet
		// leaves the machine.
		{"no such host", nil, "canary-test.onion:1234", 5 * time.Second, 0, scenarios.ErrUnavailable},
		{"hung up without a reply", hangup, "", 5 * time.Second, 0, scenarios.ErrUnavailable},
		{"call past its deadline", hang, "", 200 * time.Millisecond, 0, scenarios.ErrTimeout},
		{"run past its deadline", hang, "", 5 * time.Second, 200 * time.Millisecond, scenarios.ErrTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := tt.addr
			if tt.handler != nil {
				srv := httptest.NewServer(tt.handler)
				defer srv.Close()
				addr = srv.Listener.Addr().String()
			}
			ctx := t.Context()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			jobs := bacalhau.New(options(t, addr, tt.timeout)).Jobs
			for _, put := range []bool{false, true} {
				var err error
				if put {
					_, err = jobs.Put(ctx, &apimodels.PutJobRequest{Job: &models.Job{Name: "canary", Type: models.JobTypeBatch}})
				} else {
					_, err = jobs.Get(ctx, &apimodels.GetJobRequest{JobIDOrName: "j-1"})
				}
				if got := scenarios.Classify(err); got != tt.want {
					t.Errorf("put %v: class %q, want %s (error: %.300v)", put, got, tt.want, err)
				}
			}
		})
	}
}
