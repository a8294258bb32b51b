// Package faultproxy is a fault-injecting HTTP proxy for tests: it sits
// between the canary and a real Bacalhau API on loopback and, for the
// requests its rules select (method, path, after N matching calls, for M
// calls), refuses, hangs, delays, answers an error status, resets the
// connection mid-body, truncates or garbles the reply, or answers JSON of
// the wrong shape. Everything else passes through untouched, so a job can
// be submitted for real and then stopped through the proxy once the fault
// has passed. It can also check the Authorization header the way a server
// with auth does.
//
// It listens on 127.0.0.1 only, forwards only to a loopback target, and is
// bounded: at most MaxRequests requests and no connection held longer
// than MaxHold.
package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Kind is what a fault does to a request.
type Kind string

// Faults.
const (
	Hang      Kind = "hang"      // read the request, never answer (until MaxHold or Close)
	Latency   Kind = "latency"   // wait Delay, then pass the request through
	Status    Kind = "status"    // answer Code with Body (a Bacalhau-style JSON error when empty); not forwarded
	Close     Kind = "close"     // close the connection without answering
	Reset     Kind = "reset"     // forward, send the headers and half the reply, then reset the connection
	Truncate  Kind = "truncate"  // forward, answer 200 with the first half of the reply (its length declared)
	Malformed Kind = "malformed" // forward, answer 200 with the reply garbled into invalid JSON
	Replace   Kind = "replace"   // forward, answer 200 with Body instead (valid JSON of the wrong shape)
	Reply     Kind = "reply"     // answer 200 with Body without forwarding
	Echo      Kind = "echo"      // answer Code with an error quoting the request's Authorization header (a careless server)
	Rewrite   Kind = "rewrite"   // forward, answer with the reply's matches of From replaced by Body (a regexp template)
)

// Fault is one fault to inject.
type Fault struct {
	Kind  Kind
	Code  int           // Status: the HTTP status
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

func (f *Fault) headers(w http.ResponseWriter) {
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
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
	return r.Path == "" || pathMatch(r.Path, path)
}

func pathMatch(pattern, path string) bool {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
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
	Status int  // what the client got; 0 when it got no answer
}

// Defaults of the bounds.
const (
	DefaultMaxRequests = 10000
	DefaultMaxHold     = 30 * time.Second
)

// Options shape a proxy; fixed once it runs.
type Options struct {
	// Auth, when set, is the Authorization header every request must carry;
	// others get 401 as from a server with auth enabled.
	Auth string
	// MaxRequests and MaxHold bound the proxy; the defaults when zero.
	MaxRequests int
	MaxHold     time.Duration
	// LinkHost is the one non-loopback host the target may be: the far end
	// of a private link the caller made itself (a test's veth pair into a
	// network namespace). Anything else off loopback is refused.
	LinkHost string
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	opts   Options
	target string
	client *http.Client
	srv    *http.Server
	done   chan struct{}

	mu       sync.Mutex
	lis      net.Listener
	addr     string
	rules    []*rule
	requests []Request
	conns    map[net.Conn]bool
	refused  bool // between Refuse and Accept
	held     sync.WaitGroup
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
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		opts:   o,
		target: target,
		client: &http.Client{
			Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16},
			Timeout:   DefaultMaxHold,
		},
		done:  make(chan struct{}),
		lis:   lis,
		addr:  lis.Addr().String(),
		conns: map[net.Conn]bool{},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second, ConnState: p.track}
	go func() { _ = p.srv.Serve(lis) }()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Host and Port split Addr.
func (p *Proxy) Host() string { return p.lis.Addr().(*net.TCPAddr).IP.String() }

// Port is the proxy's port.
func (p *Proxy) Port() int { return p.lis.Addr().(*net.TCPAddr).Port }

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

// Accept listens again on the same address after Refuse.
func (p *Proxy) Accept() error {
	lis, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.lis = lis
	p.refused = false
	p.mu.Unlock()
	go func() { _ = p.srv.Serve(lis) }()
	return nil
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
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	_ = p.srv.Close()
	p.held.Wait()
}

func (p *Proxy) maxRequests() int {
	if p.opts.MaxRequests > 0 {
		return p.opts.MaxRequests
	}
	return DefaultMaxRequests
}

func (p *Proxy) maxHold() time.Duration {
	if p.opts.MaxHold > 0 {
		return p.opts.MaxHold
	}
	return DefaultMaxHold
}

// pick records the request and returns the fault to apply, if any.
func (p *Proxy) pick(r *http.Request) (int, *Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := len(p.requests)
	p.requests = append(p.requests, Request{Method: r.Method, Path: r.URL.Path})
	if i >= p.maxRequests() {
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

func (p *Proxy) answered(i, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[i].Status = status
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	// A connection accepted just before Refuse may have escaped its
	// closing (its StateNew came after): it must not serve either.
	p.mu.Lock()
	refused := p.refused
	p.mu.Unlock()
	if refused {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	i, f, ok := p.pick(r)
	if !ok {
		p.writeError(w, i, http.StatusServiceUnavailable, "faultproxy: request budget exhausted")
		return
	}
	if p.opts.Auth != "" && r.Header.Get("Authorization") != p.opts.Auth {
		// As Bacalhau's API answers a missing or wrong token.
		p.writeError(w, i, http.StatusUnauthorized, "invalid token")
		return
	}
	if f == nil {
		p.pass(w, r, i)
		return
	}
	switch f.Kind {
	case Hang:
		p.hang(w, r)
	case Close:
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	case Latency:
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		case <-p.done:
			return
		}
		p.pass(w, r, i)
	case Status:
		if f.Body == "" && f.BodyFile == "" && f.Header == nil {
			p.writeError(w, i, f.Code, http.StatusText(f.Code)+" (injected)")
			return
		}
		body := f.body()
		w.Header().Set("Content-Type", contentType(string(body)))
		f.headers(w)
		w.WriteHeader(f.Code)
		_, _ = w.Write(body)
		p.answered(i, f.Code)
	case Reply:
		f.headers(w)
		p.write(w, i, http.StatusOK, f.body())
	case Echo:
		p.writeError(w, i, f.Code, "request refused; it carried Authorization: "+r.Header.Get("Authorization"))
	case Reset, Truncate, Malformed, Replace, Rewrite:
		status, body, err := p.forward(r)
		if err != nil {
			p.writeError(w, i, http.StatusBadGateway, "faultproxy: "+err.Error())
			return
		}
		switch f.Kind {
		case Reset:
			p.reset(w, i, status, body)
		case Truncate:
			p.write(w, i, status, body[:len(body)/2])
		case Malformed:
			p.write(w, i, status, append([]byte("<html>bad gateway</html>"), body...))
		case Replace:
			f.headers(w)
			p.write(w, i, status, f.body())
		case Rewrite:
			re, err := regexp.Compile(f.From)
			if err != nil {
				p.writeError(w, i, http.StatusInternalServerError, "faultproxy: "+err.Error())
				return
			}
			p.write(w, i, status, re.ReplaceAll(body, []byte(f.Body)))
		}
	default:
		p.writeError(w, i, http.StatusInternalServerError, "faultproxy: unknown fault "+string(f.Kind))
	}
}

// pass forwards the request and copies the reply.
func (p *Proxy) pass(w http.ResponseWriter, r *http.Request, i int) {
	status, body, err := p.forward(r)
	if err != nil {
		p.writeError(w, i, http.StatusBadGateway, "faultproxy: "+err.Error())
		return
	}
	p.write(w, i, status, body)
}

// maxBody bounds what the proxy reads of a reply.
const maxBody = 16 << 20

func (p *Proxy) forward(r *http.Request) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(r.Context(), p.maxHold())
	defer cancel()
	in, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, "http://"+p.target+r.URL.RequestURI(), bytes.NewReader(in))
	if err != nil {
		return 0, nil, err
	}
	req.Header = r.Header.Clone()
	req.Header.Del("Content-Length")
	req.Header.Del("Accept-Encoding") // plain bodies, so faults can cut them
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, body, err
}

func (p *Proxy) write(w http.ResponseWriter, i, status int, body []byte) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", contentType(string(body)))
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	p.answered(i, status)
}

// writeError answers as Bacalhau's API does: a JSON apimodels.APIError.
func (p *Proxy) writeError(w http.ResponseWriter, i, status int, msg string) {
	body := fmt.Sprintf(`{"Status":%d,"Message":%q,"Code":%q,"Component":"faultproxy"}`, status, msg, strings.ReplaceAll(http.StatusText(status), " ", ""))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
	p.answered(i, status)
}

// hang holds the connection without answering until the client gives up,
// the proxy closes or MaxHold passes.
func (p *Proxy) hang(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	p.held.Add(1)
	defer p.held.Done()
	defer conn.Close()
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the client closes
		close(gone)
	}()
	select {
	case <-gone:
	case <-p.done:
	case <-time.After(p.maxHold()):
	}
}

// reset sends the status line, headers and half the body, then resets the
// TCP connection (RST, not FIN).
func (p *Proxy) reset(w http.ResponseWriter, i, status int, body []byte) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", status, http.StatusText(status), len(body))
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	p.answered(i, status)
}

func contentType(body string) string {
	b := bytes.TrimSpace([]byte(body))
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return "application/json"
	}
	return "text/html; charset=utf-8"
}

// ErrNotLoopback is returned for a target off the machine.
var ErrNotLoopback = errors.New("faultproxy: not a loopback address")
