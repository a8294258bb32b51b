// Package faultproxy is a fault-injecting HTTP proxy for tests: it sits
// between the canary and a real Bacalhau API on loopback and, for the
// requests its rules select (method, path, after N matching calls, for M
// calls), refuses, hangs, delays, answers an error status, resets the
// connection mid-body, truncates or garbles the reply, or answers JSON of
// the wrong shape. Everything else passes through untouched, so a job can
// be submitted for real and then stopped through the proxy once the fault
// has passed. It can also check the Authorization header the way a server
// with auth does, and change the job a submit carries (Options.EditJob:
// a job that sleeps, fails or prints other text, made from the canary's).
//
// Forwarding is httputil.ReverseProxy's; faults that change a forwarded
// reply do it in its ModifyResponse, faults on the connection hijack it.
// It listens on 127.0.0.1 only, forwards only to a loopback target, and is
// bounded: at most MaxRequests requests and no connection held longer
// than MaxHold.
package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// Kind is what a fault does to a request.
type Kind string

// Faults. Those that change a forwarded reply keep its status and headers,
// and set Content-Type and Content-Length for the body they send.
const (
	Hang      Kind = "hang"      // read the request, never answer (until MaxHold or Close)
	Latency   Kind = "latency"   // wait Delay, then pass the request through
	Status    Kind = "status"    // answer Code with Body (a Bacalhau-style JSON error when Body, BodyFile and Header are unset); not forwarded
	Close     Kind = "close"     // close the connection without answering
	Reset     Kind = "reset"     // forward, send the headers (the full Content-Length) and half the reply, then reset the connection (RST)
	Truncate  Kind = "truncate"  // forward, answer the first half of the reply with that half's Content-Length (valid HTTP, cut JSON)
	Malformed Kind = "malformed" // forward, answer the reply garbled into invalid JSON (an HTML prefix)
	Replace   Kind = "replace"   // forward, answer Body instead (valid JSON of the wrong shape)
	Reply     Kind = "reply"     // answer 200 with Body without forwarding
	Echo      Kind = "echo"      // answer Code with an error quoting the request's Authorization header (a careless server)
	Rewrite   Kind = "rewrite"   // forward, answer the reply with its matches of From replaced by Body (a regexp template)
	Raw       Kind = "raw"       // answer Body's bytes as they are (broken HTTP framing: status line, headers, chunks), then close; not forwarded
)

// Fault is one fault to inject.
type Fault struct {
	Kind  Kind
	Code  int           // Status, Echo: the HTTP status
	Delay time.Duration // Latency: added before forwarding
	Body  string        // Status, Replace, Reply: the body to answer; Rewrite: the replacement
	// BodyFile, when set, is read for the body instead of Body (large or
	// binary replies the test wrote to disk).
	BodyFile string
	Header   map[string]string // Status, Replace, Reply: extra reply headers (Content-Encoding, Location)
	From     string            // Rewrite: a regexp of what to replace
}

// body is the fault's reply body.
func (f *Fault) body() []byte {
	if f.BodyFile != "" {
		b, err := os.ReadFile(f.BodyFile)
		if err != nil {
			return []byte("faultproxy: " + err.Error())
		}
		return b
	}
	return []byte(f.Body)
}

// Rule selects the requests a fault applies to.
type Rule struct {
	Method string // "" matches every method
	Path   string // "" every path; otherwise exact, a "*" segment matches one segment, a trailing "/**" any rest
	After  int    // let this many matching requests pass first
	Times  int    // then apply the fault to this many (0: to every later one)
	Fault  Fault
}

func (r Rule) matches(method, path string) bool {
	if r.Method != "" && !strings.EqualFold(r.Method, method) {
		return false
	}
	if r.Path == "" {
		return true
	}
	ps := strings.Split(strings.Trim(r.Path, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range ps {
		if p == "**" {
			return true
		}
		if i >= len(xs) || (p != "*" && p != xs[i]) {
			return false
		}
	}
	return len(ps) == len(xs)
}

// Request is one request the proxy saw.
type Request struct {
	Method string
	Path   string
	Fault  Kind // "" when passed through
	Status int  // what the client got; 0 when it got no answer, -1 for a Raw answer
	Edited bool // the job it submitted was changed (Options.EditJob)
}

// maxBody bounds a request body, and a reply a fault reads to change it.
const maxBody = 16 << 20

// Options shape a proxy; fixed once it runs.
type Options struct {
	// Auth, when set, is the Authorization header every request must carry;
	// others get 401 as from a server with auth enabled.
	Auth string
	// MaxRequests and MaxHold bound the proxy: 10000 and 30 s when zero.
	MaxRequests int
	MaxHold     time.Duration
	// LinkHost is the one non-loopback host the target may be: the far end
	// of a private link the caller made itself (a test's veth pair into a
	// network namespace). Anything else off loopback is refused.
	LinkHost string
	// EditJob, when set, changes the job of every submit the proxy
	// forwards (PUT SubmitPath); an error answers 400 instead.
	EditJob func(*models.Job) error
	// FollowTarget makes the proxy go down and come back with its target,
	// so that its client sees a restarting server much as it is: a request
	// the target does not answer (its connection closed, reset or refused)
	// is closed unanswered, and from the first refusal on the proxy refuses
	// connections too, until a dial to the target succeeds again. (The one
	// request that met the first refusal sees its connection closed, not
	// refused.)
	FollowTarget bool
}

// SubmitPath is where Bacalhau's API takes a job (apimodels.PutJobRequest).
const SubmitPath = "/api/v1/orchestrator/jobs"

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	opts   Options
	target *url.URL
	tr     *http.Transport
	srv    *http.Server
	addr   *net.TCPAddr
	done   chan struct{}
	once   sync.Once
	held   sync.WaitGroup

	mu       sync.Mutex
	lis      net.Listener
	rules    []*rule
	requests []Request
	conns    map[net.Conn]bool
	refused  bool // between Refuse and Accept
}

type rule struct {
	Rule
	seen int // matching requests so far
}

// Start proxies 127.0.0.1:<free port> to target, a loopback host:port (or
// Options.LinkHost).
func Start(target string, o Options) (*Proxy, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) && (o.LinkHost == "" || host != o.LinkHost) {
		return nil, fmt.Errorf("target %q: %w", target, ErrNotLoopback)
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 10000
	}
	if o.MaxHold <= 0 {
		o.MaxHold = 30 * time.Second
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{opts: o, target: &url.URL{Scheme: "http", Host: target}, lis: lis, addr: lis.Addr().(*net.TCPAddr),
		tr: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}, done: make(chan struct{}), conns: map[net.Conn]bool{}}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second, ConnState: p.track}
	go func() { _ = p.srv.Serve(lis) }()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr.String() }

// Host is the proxy's IP address.
func (p *Proxy) Host() string { return p.addr.IP.String() }

// Port is the proxy's port.
func (p *Proxy) Port() int { return p.addr.Port }

// Add installs rules; the first matching rule with a fault left applies.
func (p *Proxy) Add(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rules {
		p.rules = append(p.rules, &rule{Rule: r})
	}
}

// Refuse closes the listening socket and every open connection: new
// connections are refused until Accept.
func (p *Proxy) Refuse() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refuse()
}

// refuse is Refuse under p.mu.
func (p *Proxy) refuse() error {
	p.refused = true
	for c := range p.conns {
		c.Close()
	}
	return p.lis.Close()
}

func (p *Proxy) track(c net.Conn, s http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s {
	case http.StateNew:
		p.conns[c] = true
	case http.StateClosed, http.StateHijacked:
		delete(p.conns, c)
	}
}

// Accept listens again on the same address after Refuse (not after Close).
func (p *Proxy) Accept() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return errors.New("faultproxy: closed")
	default:
	}
	lis, err := net.Listen("tcp", p.Addr())
	if err != nil {
		return err
	}
	p.lis = lis
	p.refused = false
	go func() { _ = p.srv.Serve(lis) }()
	return nil
}

// down refuses connections, as the target does, until the target takes a
// connection again.
func (p *Proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refused || p.refuse() != nil {
		return
	}
	go func() {
		for {
			select {
			case <-p.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if c, err := net.DialTimeout("tcp", p.target.Host, time.Second); err == nil {
				c.Close()
				_ = p.Accept()
				return
			}
		}
	}()
}

// Requests lists the requests seen so far, in order.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Count counts the requests seen matching method ("" any) and path pattern ("" any).
func (p *Proxy) Count(method, path string) int {
	r := Rule{Method: method, Path: path}
	n := 0
	for _, q := range p.Requests() {
		if r.matches(q.Method, q.Path) {
			n++
		}
	}
	return n
}

// Close stops the proxy and releases every held connection.
func (p *Proxy) Close() {
	p.once.Do(func() {
		p.mu.Lock()
		close(p.done)
		p.mu.Unlock()
		_ = p.srv.Close()
		p.held.Wait()
		p.tr.CloseIdleConnections()
	})
}

// pick records the request and returns its index and the fault to apply,
// if any; ok is false over the request budget.
func (p *Proxy) pick(r *http.Request) (i int, f *Fault, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i = len(p.requests)
	p.requests = append(p.requests, Request{Method: r.Method, Path: r.URL.Path})
	if i >= p.opts.MaxRequests {
		return i, nil, false
	}
	for _, ru := range p.rules {
		if !ru.matches(r.Method, r.URL.Path) {
			continue
		}
		ru.seen++
		if ru.seen <= ru.After || (ru.Times > 0 && ru.seen > ru.After+ru.Times) {
			continue
		}
		f := ru.Fault
		p.requests[i].Fault = f.Kind
		return i, &f, true
	}
	return i, nil, true
}

// recorder notes the status a handler answered; Unwrap lets
// http.ResponseController reach the connection through it.
type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// answered records the status the client got.
func (p *Proxy) answered(i int, w *recorder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[i].Status = w.status
}

func (p *Proxy) serve(rw http.ResponseWriter, r *http.Request) {
	// A connection accepted just before Refuse may have escaped its
	// closing (its StateNew came after): it must not serve either.
	p.mu.Lock()
	refused := p.refused
	p.mu.Unlock()
	if refused {
		p.hijack(rw, Close)
		return
	}
	i, f, ok := p.pick(r)
	w := &recorder{ResponseWriter: rw}
	defer p.answered(i, w)
	switch {
	case !ok:
		writeError(w, http.StatusServiceUnavailable, "faultproxy: request budget exhausted")
		return
	case p.opts.Auth != "" && r.Header.Get("Authorization") != p.opts.Auth:
		writeError(w, http.StatusUnauthorized, "invalid token") // as Bacalhau's API answers a missing or wrong token
		return
	case f == nil:
		p.forward(w, r, i, nil)
		return
	}
	switch f.Kind {
	case Hang, Close:
		p.hijack(w, f.Kind)
	case Latency:
		select {
		case <-time.After(f.Delay):
			p.forward(w, r, i, nil)
		case <-r.Context().Done():
		case <-p.done:
		}
	case Status:
		if f.Body == "" && f.BodyFile == "" && f.Header == nil {
			writeError(w, f.Code, http.StatusText(f.Code)+" (injected)")
			return
		}
		write(w, f, f.Code, f.body())
	case Reply:
		write(w, f, http.StatusOK, f.body())
	case Echo:
		writeError(w, f.Code, "request refused; it carried Authorization: "+r.Header.Get("Authorization"))
	case Reset:
		p.forward(w, r, i, f) // the headers and half the body are on the wire (FlushInterval)
		p.answered(i, w)      // before the client sees the RST
		p.hijack(w, Reset)
	case Truncate, Malformed, Replace, Rewrite:
		p.forward(w, r, i, f)
	case Raw:
		w.status = -1 // an answer, though no status a client could read
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = conn.Write(f.body())
		_ = conn.Close()
	default:
		writeError(w, http.StatusInternalServerError, "faultproxy: unknown fault "+string(f.Kind))
	}
}

// forward passes request i to the target within MaxHold; f, when set,
// changes the reply.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, i int, f *Fault) {
	ctx, cancel := context.WithTimeout(r.Context(), p.opts.MaxHold)
	defer cancel()
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if p.opts.EditJob != nil && r.Method == http.MethodPut && r.URL.Path == SubmitPath {
		if err := p.editJob(r); err != nil {
			writeError(w, http.StatusBadRequest, "faultproxy: editing the submitted job: "+err.Error())
			return
		}
		p.mu.Lock()
		p.requests[i].Edited = true
		p.mu.Unlock()
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.target)
			r.Out.Header.Del("Accept-Encoding") // plain bodies, so faults can cut them
		},
		Transport:     p.tr,
		FlushInterval: -1, // every byte on the wire before the reply counts as answered, or is reset
		ModifyResponse: func(resp *http.Response) error {
			if err := modify(resp, f); err != nil {
				return faultError{err}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			var fe faultError
			if !p.opts.FollowTarget || errors.As(err, &fe) || errors.Is(err, context.DeadlineExceeded) {
				writeError(w, http.StatusBadGateway, "faultproxy: "+err.Error())
				return
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				p.down()
			}
			p.hijack(w, Close)
		},
	}
	rp.ServeHTTP(w, r.WithContext(ctx))
}

// faultError is a fault's own failure to change a reply (not the target's).
type faultError struct{ error }

func (e faultError) Unwrap() error { return e.error }

// editJob replaces a submit's body with the edited job's.
func (p *Proxy) editJob(r *http.Request) error {
	var req apimodels.PutJobRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return err
	}
	if req.Job == nil {
		return errors.New("no job")
	}
	if err := p.opts.EditJob(req.Job); err != nil {
		return err
	}
	body, err := json.Marshal(&req)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// modify applies a forwarded request's fault to its reply.
func modify(resp *http.Response, f *Fault) error {
	if f == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if len(body) > maxBody {
		return fmt.Errorf("reply over %d bytes", maxBody)
	}
	full := len(body)
	switch f.Kind {
	case Reset, Truncate:
		body = body[:full/2]
	case Malformed:
		body = append([]byte("<html>bad gateway</html>"), body...)
	case Replace:
		body = f.body()
	case Rewrite:
		re, err := regexp.Compile(f.From)
		if err != nil {
			return err
		}
		body = re.ReplaceAll(body, []byte(f.Body))
	}
	length := len(body)
	if f.Kind == Reset {
		length = full // declared, half sent, then the RST
	}
	resp.Header.Del("Content-Encoding")
	resp.Header.Set("Content-Type", contentType(body))
	for k, v := range f.Header {
		resp.Header.Set(k, v)
	}
	resp.Header.Set("Content-Length", strconv.Itoa(length))
	resp.ContentLength = int64(length)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// hijack takes the connection over and closes it: at once for Close (a
// FIN), at once with a RST for Reset, and for Hang once the client gives
// up, the proxy closes or MaxHold passes, without a byte sent.
func (p *Proxy) hijack(w http.ResponseWriter, k Kind) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok && k == Reset {
		_ = tc.SetLinger(0)
	}
	if k != Hang {
		return
	}
	p.mu.Lock() // a hold starts before Close waits for the holds, or not at all
	select {
	case <-p.done:
		p.mu.Unlock()
		return
	default:
		p.held.Add(1)
	}
	p.mu.Unlock()
	defer p.held.Done()
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the client closes
		close(gone)
	}()
	select {
	case <-gone:
	case <-p.done:
	case <-time.After(p.opts.MaxHold):
	}
}

// write answers status with body and the fault's extra headers.
func write(w http.ResponseWriter, f *Fault, status int, body []byte) {
	w.Header().Set("Content-Type", contentType(body))
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers as Bacalhau's API does: a JSON apimodels.APIError.
func writeError(w http.ResponseWriter, status int, msg string) {
	body := fmt.Sprintf(`{"Status":%d,"Message":%q,"Code":%q,"Component":"faultproxy"}`, status, msg, strings.ReplaceAll(http.StatusText(status), " ", ""))
	write(w, &Fault{}, status, []byte(body))
}

func contentType(body []byte) string {
	if b := bytes.TrimSpace(body); len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return "application/json"
	}
	return "text/html; charset=utf-8"
}

// ErrNotLoopback is returned for a target off the machine.
var ErrNotLoopback = errors.New("faultproxy: not a loopback address")
