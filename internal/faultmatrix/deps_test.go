package faultmatrix

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/internal/faultproxy"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// The canary's dependencies (Secret Manager, the metadata server, Cloud
// Monitoring) and the HTTP framing beneath every reply, failing or lying:
// their faults are the canary's (class canary, exit 3), never the
// network's; what they send is bounded and escaped.
func init() { cases = append(cases, depCases...) }

// keyNote: the key read's own budget ends the run, not the deadline.
const keyNote = "the key read's own budget (half the deadline here) ends it: class canary in connect, no job submitted"

var depCases = []tcase{
	// Secret Manager: any failure to get a usable key is the canary's.
	{name: "key-read-ok", fault: "API key required, read from Secret Manager (with a trailing newline)", scenario: "list", via: viaJob, net: netShared, exit: 0, deadline: 3 * time.Second, cleanup: cleanNoJob,
		secret: apiKey + "\n", auth: auth{want: "Bearer " + apiKey}},
	{name: "key-read-hang", fault: "Secret Manager accepts the key read and never answers", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrCanary, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		note: keyNote, secret: apiKey, sm: func(s *fakegcp.SecretManager) { s.Hang() }},
	{name: "key-read-unavailable", fault: "Secret Manager answers UNAVAILABLE", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrCanary, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		note: "tried 3 times within the key's budget", secret: apiKey, sm: func(s *fakegcp.SecretManager) { s.Fail(codes.Unavailable, "The service is currently unavailable.") }},
	{name: "key-read-exhausted", fault: "Secret Manager answers RESOURCE_EXHAUSTED (quota)", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrCanary, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		secret: apiKey, sm: func(s *fakegcp.SecretManager) {
			s.Fail(codes.ResourceExhausted, "Quota exceeded for quota metric 'Access requests' and limit 'Access requests per minute'.")
		}},
	{name: "key-read-refused", fault: "Secret Manager's endpoint refuses connections", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrCanary, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		secret: apiKey, sm: func(s *fakegcp.SecretManager) { s.Close() }},
	{name: "key-payload-newline", fault: "the secret's payload holds an inner newline", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrCanary, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		note: "no HTTP header can carry it: refused in connect, never sent", secret: apiKey + "\n" + apiKey},
	{name: "key-payload-escape", fault: "the secret's payload holds an escape sequence", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrCanary, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		secret: apiKey + "\x1b[31m"},
	{name: "key-payload-cr", fault: "the secret's payload holds a carriage return", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrCanary, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		secret: apiKey + "\rx"},

	// The metadata server: bounded, validated, never followed; exit 3 naming it.
	{name: "metadata-project-huge", fault: "the metadata server answers a 50 MB project ID", scenario: "list", via: viaJob, net: netShared, exit: 3, deadline: 3 * time.Second, record: 5 * time.Second, cleanup: cleanNoJob,
		note: "read to 4 KiB and no further", reason: "metadata server", env: env("GOOGLE_CLOUD_PROJECT", ""),
		md: answer("project/project-id", fakegcp.Reply{Status: 200, Body: []byte(strings.Repeat("a", 50<<20))})},
	{name: "metadata-project-html", fault: "the metadata server answers an HTML page as the project ID", scenario: "list", via: viaJob, net: netShared, exit: 3, deadline: 3 * time.Second, record: 5 * time.Second, cleanup: cleanNoJob,
		reason: "not a project ID", env: env("GOOGLE_CLOUD_PROJECT", ""),
		md: answer("project/project-id", fakegcp.Reply{Status: 200, Body: []byte("<html><body><h1>Welcome</h1>\n<p>nginx</p></body></html>")})},
	{name: "metadata-project-redirect", fault: "the metadata server redirects the project ID to another path (another project)", scenario: "list", via: viaJob, net: netShared, exit: 3, deadline: 3 * time.Second, record: 5 * time.Second, cleanup: cleanNoJob,
		note: "not followed: the points never go to the redirect's project", reason: "redirect", env: env("GOOGLE_CLOUD_PROJECT", ""),
		md: func(m *fakegcp.Metadata) {
			m.Answer("project/project-id", fakegcp.Reply{Status: 302, Header: map[string]string{"Location": "/computeMetadata/v1/project/other"}})
			m.Answer("project/other", fakegcp.Reply{Status: 200, Body: []byte("demo")})
		}},
	{name: "metadata-region-bad", fault: "the metadata server answers a region with markup", scenario: "list", via: viaJob, net: netShared, exit: 3, deadline: 3 * time.Second, record: 5 * time.Second, cleanup: cleanNoJob,
		reason: "not a region", env: env("CANARY_LOCATION", ""),
		md: answer("instance/region", fakegcp.Reply{Status: 200, Body: []byte("projects/1/regions/<script>alert(1)</script>")})},
	{name: "metadata-error-huge", fault: "the metadata server answers 500 with a 2 MB page", scenario: "list", via: viaJob, net: netShared, exit: 3, deadline: 3 * time.Second, record: 5 * time.Second, cleanup: cleanNoJob,
		reason: "metadata server", env: env("GOOGLE_CLOUD_PROJECT", ""),
		md: answer("project/project-id", fakegcp.Reply{Status: 500, Body: []byte(strings.Repeat("<p>error</p>\n", 2<<20/13))})},

	// Monitoring's texts: bounded in every line.
	{name: "monitoring-huge-message", fault: "Monitoring refuses the write with a 300 KB message", scenario: "list", via: viaJob, net: netShared, exit: 3, deadline: 3 * time.Second, cleanup: cleanNoJob,
		note: "the message is clipped and quoted", reason: "PermissionDenied",
		mon: func(m *monitor) {
			m.Refuse(codes.PermissionDenied, "Permission denied\r\x1b[2K"+strings.Repeat("x", 300<<10))
		}},
	{name: "monitoring-huge-summary", fault: "Monitoring rejects the write with 200 per-series errors of 3 KB each", scenario: "list", via: viaJob, net: netShared, exit: 3, deadline: 3 * time.Second, cleanup: cleanNoJob,
		note: "10 of them logged, clipped, with their count", reason: "InvalidArgument",
		mon: func(m *monitor) { m.RefuseStatus(hugeSummary()) }},

	// HTTP framing: the server answered, unusably.
	{name: "list-status-garbage", fault: "list answers a garbage status line", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: onList(raw("HTTP/1.1 abc OK\r\nContent-Length: 12\r\n\r\n{\"Items\":[]}"))},
	{name: "list-headers-huge", fault: "list answers headers over 64 KiB", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: onList(raw("HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("p", 70<<10) + "\r\nContent-Length: 12\r\n\r\n{\"Items\":[]}"))},
	{name: "list-content-length-twice", fault: "list answers two different Content-Lengths", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: onList(raw("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Length: 13\r\n\r\n{\"Items\":[]}"))},
	{name: "list-header-escape", fault: "list answers a header holding an escape character", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: onList(raw("HTTP/1.1 200 OK\r\nX-Note: a\x1b[2Jb\r\nContent-Length: 12\r\n\r\n{\"Items\":[]}"))},
	{name: "poll-bad-chunks", fault: "GET job answers 200 with a malformed chunked body", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{\"Job\":{}}\r\n0\r\n\r\n"))},

	// Job IDs from the network: one rule before any URL.
	{name: "submit-dotdot-id", fault: `PUT job submitted, the reply's job ID is ".."`, scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		note: "never polled; the job is found by its run label and stopped",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "PUT", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Replace, Body: `{"JobID":".."}`}})
		}},
	{name: "label-found-bad-id", fault: "submit reply lost; the job found by the run's label has the ID ../../../admin", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrUnavailable, deadline: 3 * time.Second, cleanup: cleanTerminal, job: sleeper,
		left: true, note: "no stop is sent for that ID; the result line says the job was left running (job_left_running); it ends by itself",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "PUT", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Reset}},
				faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Rewrite, From: `"ID":"j-[0-9a-f-]+"`, Body: `"ID":"../../../admin"`}},
				faultproxy.Rule{Method: "DELETE", Fault: faultproxy.Fault{Kind: faultproxy.Status, Code: 418}})
		},
		after: func(fx *fixture) error {
			for _, r := range fx.proxy.Requests() {
				if r.Method == "DELETE" || strings.Contains(r.Path, "admin") || strings.Contains(r.Path, "..") {
					return fmt.Errorf("the canary sent %s %s for the ID it must not use", r.Method, r.Path)
				}
			}
			return nil
		}},

	// Busy networks' replies, fully checked.
	{name: "list-duplicate-id", fault: "list answers the same job twice", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Reply,
				Body: `{"Items":[{"ID":"j-1","CreateTime":2,"State":{"StateType":"Completed"}},{"ID":"j-1","CreateTime":1,"State":{"StateType":"Completed"}}]}`}})
		}},
	{name: "executions-no-node", fault: "the executions of a concurrent job name no node", scenario: "submitWithConcurrency", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note: "a Completed execution without a node counts as no node, not as a distinct one",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobPath + "/executions", Fault: faultproxy.Fault{Kind: faultproxy.Rewrite, From: `"NodeID":"[^"]*"`, Body: `"NodeID":""`}})
		}},

	// Redaction of Secret Manager's largest key, echoed and clipped.
	{name: "key-64k-echoed", fault: "a 64 KiB API key, quoted by the server in a 400", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrBadRequest, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		note: "redaction is linear in the key's length: the line arrives within the deadline", auth: auth{key: bigKey},
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Fault: faultproxy.Fault{Kind: faultproxy.Echo, Code: 400}})
		}},

	// The local runner, interrupted while Monitoring hangs.
	{name: "local-ctrl-c-mon-hung", fault: "Ctrl-C while the local runner's Monitoring write hangs", scenario: "list", via: viaLocal, net: netShared, exit: 3, deadline: 3 * time.Second, record: 5 * time.Second, cleanup: cleanNoJob,
		note: "ends within 5 s of the signal", env: env("CANARY_METRICS", "gcp"),
		mon: func(m *monitor) { m.hang = true }, during: sigintAfterList},

	// Configuration: names that cannot work, or may not be loopback.
	usage("host-localhost-dot", "BACALHAU_API_HOST=localhost. (a name DNS would answer for)", "BACALHAU_API_HOST", viaJob, env("BACALHAU_API_HOST", "localhost.", "BACALHAU_API_KEY", apiKey)),
	usage("host-loopback-dot", "BACALHAU_API_HOST=127.0.0.1. (never resolves)", "BACALHAU_API_HOST", viaJob, env("BACALHAU_API_HOST", "127.0.0.1.")),
	usage("key-sub-localhost", "an API key in clear to api.localhost (not known to be loopback without DNS)", "CANARY_ALLOW_PLAINTEXT_CREDENTIALS", viaJob, env("BACALHAU_API_HOST", "api.localhost", "BACALHAU_API_KEY", apiKey)),
	usage("interval-zero", "CANARY_SCHEDULE_INTERVAL=0", "CANARY_SCHEDULE_INTERVAL", viaJob, env("CANARY_SCHEDULE_INTERVAL", "0")),
}

// bigKey is as long as a Secret Manager payload can be.
var bigKey = "fm-" + strings.Repeat("k3y9", (64<<10-3)/4)

func answer(path string, r fakegcp.Reply) func(*fakegcp.Metadata) {
	return func(m *fakegcp.Metadata) { m.Answer(path, r) }
}

func raw(s string) faultproxy.Fault { return faultproxy.Fault{Kind: faultproxy.Raw, Body: s} }

func onList(f faultproxy.Fault) func(p *faultproxy.Proxy) {
	return func(p *faultproxy.Proxy) { p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: f}) }
}

// hugeSummary is a write refused series by series, each with a long message.
func hugeSummary() *grpcstatus.Status {
	summary := &monitoringpb.CreateTimeSeriesSummary{TotalPointCount: 200}
	for i := range 200 {
		summary.Errors = append(summary.Errors, &monitoringpb.CreateTimeSeriesSummary_Error{
			Status:     &spb.Status{Code: int32(codes.InvalidArgument), Message: fmt.Sprintf("series %d: %s", i, strings.Repeat("bad label value ", 3<<10/16))},
			PointCount: 1,
		})
	}
	st, err := grpcstatus.New(codes.InvalidArgument, "One or more TimeSeries could not be written").WithDetails(summary)
	if err != nil {
		panic(err)
	}
	return st
}

// sigintAfterList interrupts the local runner once its metric write is in
// flight (the run is over; the write hangs).
func sigintAfterList(ctx context.Context, fx *fixture) error {
	ctx, cancel := context.WithTimeout(ctx, fx.c.deadline+5*time.Second)
	defer cancel()
	for fx.mon.called() == 0 || fx.process() == nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the metric write never began: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fx.process().Signal(syscall.SIGINT)
}
