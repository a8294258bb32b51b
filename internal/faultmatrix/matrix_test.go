package faultmatrix

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/bacalhau-project/bacalhau/pkg/models"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/internal/faultproxy"
	"github.com/bacalhau-project/bacalhau-canary/internal/wasi"
	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/config"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// API paths the faults select.
const (
	jobsPath = "/api/v1/orchestrator/jobs"
	jobPath  = jobsPath + "/*"
)

// sleeper is a canary job that runs long enough to be running when a
// fault hits, and ends by itself soon after (v1.7.0 does not halt a
// stopped wasm execution).
var sleeper = &wasi.Program{Stdout: scenarios.DefaultText, SleepMS: 1500}

func onGet(after int, f faultproxy.Fault) func(p *faultproxy.Proxy) {
	return func(p *faultproxy.Proxy) {
		p.Add(faultproxy.Rule{Method: "GET", Path: jobPath, After: after, Fault: f})
	}
}

func status(code int) faultproxy.Fault { return faultproxy.Fault{Kind: faultproxy.Status, Code: code} }

const (
	apiKey   = "fm-key-7f3c9a1d5e"
	password = "fm-pass-2b8e6d4f0a"
)

// taskTimeoutFirst explains the cleanup of a run stuck in a call until its
// deadline: the job's own timeout (0.9 × the deadline) has ended it by then.
const taskTimeoutFirst = "the job's task timeout, below the deadline, ends it first; the canary's stop finds it terminal"

// cases is the matrix; docs/reliability.md is generated from it.
var cases = slices.Concat([]tcase{
	// The API misbehaves while the canary's job runs: the fault hits the
	// state poll (GET /jobs/{id}) after the job was submitted for real;
	// the stop (DELETE) passes, so the canary must stop its job.
	{name: "poll-500", fault: "GET job answers 500", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrServer, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper, proxy: onGet(1, status(500))},
	{name: "poll-502-html", fault: "GET job answers 502 with an HTML page (a load balancer)", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrServer, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Status, Code: 502, Body: "<html><body><h1>502 Bad Gateway</h1></body></html>"})},
	{name: "poll-503", fault: "GET job answers 503", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrServer, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper, proxy: onGet(1, status(503))},
	{name: "poll-429", fault: "GET job answers 429 (rate limited)", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrServer, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper, proxy: onGet(1, status(429))},
	{name: "poll-400", fault: "GET job answers 400", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrBadRequest, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper, proxy: onGet(1, status(400))},
	{name: "poll-403", fault: "GET job answers 403", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrAuth, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper, proxy: onGet(1, status(403))},
	{name: "poll-hang", fault: "GET job accepted, never answered", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrTimeout, deadline: 2 * time.Second, cleanup: cleanTerminal, job: sleeper, note: taskTimeoutFirst,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Hang})},
	{name: "poll-slow", fault: "GET job delayed 5 s, past the deadline", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrTimeout, deadline: 2 * time.Second, cleanup: cleanTerminal, job: sleeper, note: taskTimeoutFirst,
		proxy: onGet(0, faultproxy.Fault{Kind: faultproxy.Latency, Delay: 5 * time.Second})},
	{name: "poll-reset", fault: "GET job reset mid-body (RST)", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrUnavailable, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Reset})},
	{name: "poll-truncated", fault: "GET job reply cut in half (valid HTTP)", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Truncate})},
	{name: "poll-malformed", fault: "GET job reply is not JSON", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Malformed})},
	{name: "poll-no-id", fault: `GET job answers a job without ID`, scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Replace, Body: `{"Job":{"Type":"batch","Count":1}}`})},
	{name: "poll-close", fault: "GET job: connection closed without an answer, every time", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrUnavailable, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Close})},
	{name: "poll-500-huge", fault: "GET job answers 500 with a 1 MiB page", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrServer, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		note:  "the error text is clipped: the result line stays far below Cloud Logging's entry limit",
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Status, Code: 500, Body: "<html>" + strings.Repeat("x", 1<<20) + "</html>"})},
	{name: "poll-and-stop-503", fault: "GET and DELETE job answer 503", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrServer, deadline: 3 * time.Second, cleanup: cleanTerminal, job: sleeper,
		note: "the failed stop is in the error text; the job ends by itself",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobPath, After: 1, Fault: status(503)},
				faultproxy.Rule{Method: "DELETE", Path: jobPath, Fault: status(503)})
		}},
	{name: "all-hang", fault: "every call after the submit hangs, the stop too", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrTimeout, deadline: 2 * time.Second, cleanup: cleanTerminal, job: sleeper,
		note: "the stop gives up after its budget; the job's task timeout (below the deadline) ends it",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Path: jobPath, Fault: faultproxy.Fault{Kind: faultproxy.Hang}})
		}},
	{name: "refused-mid-job", fault: "the API refuses connections once the job is submitted", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrUnavailable, deadline: 3 * time.Second, cleanup: cleanTerminal, job: sleeper,
		note: "the stop is refused too; the job ends by itself", during: refuseAfterSubmit},
	{name: "executions-schema", fault: `GET executions answers {"Items":"x"}`, scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 5 * time.Second, cleanup: cleanTerminal,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobPath + "/executions", Fault: faultproxy.Fault{Kind: faultproxy.Replace, Body: `{"Items":"x"}`}})
		}},
	{name: "all-latency", fault: "every call 150 ms slower", scenario: "submitAndDescribe", via: viaRunner, net: netShared, deadline: 5 * time.Second, cleanup: cleanTerminal,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Fault: faultproxy.Fault{Kind: faultproxy.Latency, Delay: 150 * time.Millisecond}})
		}},

	// The API fails before or at the submit: the job binary, its exit
	// status and its metrics.
	{name: "refused", fault: "connection refused", scenario: "submit", via: viaJob, net: netShared, class: scenarios.ErrUnavailable, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) { _ = p.Refuse() }},
	{name: "submit-503", fault: "PUT job answers 503", scenario: "submit", via: viaJob, net: netShared, class: scenarios.ErrServer, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) { p.Add(faultproxy.Rule{Method: "PUT", Path: jobsPath, Fault: status(503)}) }},
	{name: "submit-hang", fault: "PUT job accepted, never answered", scenario: "submit", via: viaJob, net: netShared, class: scenarios.ErrTimeout, exit: 1, deadline: 2 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "PUT", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Hang}})
		}},
	{name: "submit-no-id", fault: `PUT job submitted, but the reply has no job ID`, scenario: "submit", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanTerminal,
		note: "the canary finds the job by its run label and stops it, unless the tiny job completed first",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "PUT", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Replace, Body: `{"JobID":""}`}})
		}},
	{name: "list-401", fault: "list answers 401", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrAuth, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) { p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: status(401)}) }},
	{name: "list-malformed", fault: "list reply is not JSON", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Malformed}})
		}},
	{name: "list-schema", fault: `list answers {"Items":"x"}`, scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Reply, Body: `{"Items":"x"}`}})
		}},
	{name: "list-no-id", fault: `list answers a job without ID`, scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Reply, Body: `{"Items":[{"Name":"x","State":{"StateType":"Completed"}}]}`}})
		}},

	// Secrets: the proxy checks the Authorization header like a server
	// with auth enabled; neither value may show in any output or label.
	{name: "key-ok", fault: "API key required, right key", scenario: "submitAndGet", via: viaJob, net: netShared, exit: 0, deadline: 10 * time.Second, cleanup: cleanTerminal,
		auth: auth{key: apiKey, want: "Bearer " + apiKey}},
	{name: "key-wrong", fault: "API key required, wrong key", scenario: "submit", via: viaJob, net: netShared, class: scenarios.ErrAuth, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		auth: auth{key: apiKey, want: "Bearer another-key"}},
	{name: "basic-ok", fault: "basic auth required, right password", scenario: "submitAndDescribe", via: viaJob, net: netShared, exit: 0, deadline: 10 * time.Second, cleanup: cleanTerminal,
		auth: auth{user: "canary", password: password, want: basic("canary", password)}},
	{name: "basic-wrong", fault: "basic auth required, wrong password", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrAuth, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		auth: auth{user: "canary", password: password, want: basic("canary", "other")}},

	{name: "key-echoed", fault: "the server quotes the bearer token in a 400", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrBadRequest, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		auth: auth{key: apiKey},
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Fault: faultproxy.Fault{Kind: faultproxy.Echo, Code: 400}})
		}},
	{name: "basic-echoed", fault: "the server quotes the basic-auth header in a 400", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrBadRequest, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		auth: auth{user: "canary", password: password}, secrets: []string{basic("canary", password)},
		note: "the encoded header is redacted too",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Fault: faultproxy.Fault{Kind: faultproxy.Echo, Code: 400}})
		}},

	// Replies that lie (issue: survives a lying network). Crashes: the
	// client would panic normalising these.
	{name: "poll-null", fault: "GET job answers 200 with the body null", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Reply, Body: "null"})},
	{name: "poll-null-task", fault: `GET job answers a job with Tasks [null]`, scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Reply, Body: `{"Job":{"ID":"j-x","Type":"batch","Tasks":[null]}}`})},
	{name: "stop-null", fault: "GET job answers 500, then the stop answers null (after stopping upstream)", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrServer, deadline: 3 * time.Second, cleanup: cleanTerminal, job: sleeper,
		note: "the stop's unusable reply is in the error text; the run still ends with its line",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobPath, After: 1, Fault: status(500)},
				faultproxy.Rule{Method: "DELETE", Path: jobPath, Fault: faultproxy.Fault{Kind: faultproxy.Replace, Body: "null"}})
		}},
	{name: "list-null-item", fault: `list answers {"Items":[null]}`, scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Reply, Body: `{"Items":[null]}`}})
		}},
	// Bounds.
	{name: "poll-gzip-bomb", fault: "GET job answers 64 KiB of gzip that inflate to 64 MiB", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		note:  "the reply is read to its bound (" + replyBound + ") and no further",
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Reply, BodyFile: gzipBomb, Header: map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"}})},
	{name: "list-huge", fault: "list answers 3 MiB of valid JSON", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Reply, BodyFile: hugeList}})
		}},
	{name: "download-bomb", fault: "the result's stdout inflates to 64 MiB", scenario: "submitAndGet", via: viaJob, net: netShared, class: scenarios.ErrOutputMismatch, exit: 1, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note: "stdout is read to a few times the expected text",
		download: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Fault: faultproxy.Fault{Kind: faultproxy.Reply, BodyFile: resultBomb}})
		}},
	{name: "download-not-gzip", fault: "the result is not gzip", scenario: "submitAndGet", via: viaRunner, net: netShared, class: scenarios.ErrPublisher, deadline: 10 * time.Second, cleanup: cleanTerminal,
		download: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Fault: faultproxy.Fault{Kind: faultproxy.Reply, Body: "<html>login</html>"}})
		}},
	{name: "download-404", fault: "the publisher answers 404", scenario: "submitAndGet", via: viaRunner, net: netShared, class: scenarios.ErrPublisher, deadline: 10 * time.Second, cleanup: cleanTerminal,
		download: func(p *faultproxy.Proxy) { p.Add(faultproxy.Rule{Fault: status(404)}) }},
	// Redirects: API calls follow none; downloads only under the address rules.
	{name: "submit-307", fault: "PUT job answers 307 to another host", scenario: "submit", via: viaJob, net: netShared, class: scenarios.ErrProtocol, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		note: "not replayed there (the target is a closed port: following it would be unavailable)",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "PUT", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Status, Code: 307, Header: map[string]string{"Location": "http://127.0.0.1:9" + jobsPath}}})
		}},
	{name: "poll-302-no-location", fault: "GET job answers 302 without Location", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Status, Code: 302, Header: map[string]string{}})},
	{name: "download-redirect-metadata", fault: "the publisher redirects to 169.254.169.254", scenario: "submitAndGet", via: viaRunner, net: netShared, class: scenarios.ErrPublisher, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note: "refused at the dial, without connecting",
		download: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Fault: faultproxy.Fault{Kind: faultproxy.Status, Code: 302, Header: map[string]string{"Location": "http://169.254.169.254/computeMetadata/v1/"}}})
		}},
	{name: "result-url-metadata-address", fault: "the node advertises http://169.254.169.254/… as its result", scenario: "submitAndGet", via: viaJob, net: netShared, class: scenarios.ErrPublisher, exit: 1, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note: "never connected: the address is refused where the socket connects", expect: errorSays("a metadata address"),
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobPath + "/results", Fault: faultproxy.Fault{Kind: faultproxy.Rewrite, From: `http://[^"/]+/`, Body: "http://169.254.169.254/"}})
		}},
	{name: "result-url-metadata", fault: "the node advertises http://metadata.google.internal/… as its result", scenario: "submitAndGet", via: viaJob, net: netShared, class: scenarios.ErrPublisher, exit: 1, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note: "never connected: refused at the dial where the name resolves (169.254.169.254); here it does not resolve",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobPath + "/results", Fault: faultproxy.Fault{Kind: faultproxy.Rewrite, From: `http://[^"/]+/`, Body: "http://metadata.google.internal/"}})
		}},
	// Secrets in other forms.
	{name: "key-escaped-echoed", fault: `the server quotes a key holding " and \ in a 400`, scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrBadRequest, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		auth: auth{key: oddKey}, secrets: forms(oddKey),
		note: "raw, %q- and JSON-escaped forms all redacted",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Fault: faultproxy.Fault{Kind: faultproxy.Echo, Code: 400}})
		}},
	{name: "download-signed-url", fault: "the result URL carries userinfo and X-Amz-Signature; the publisher answers 403", scenario: "submitAndGet", via: viaJob, net: netShared, class: scenarios.ErrPublisher, exit: 1, deadline: 10 * time.Second, cleanup: cleanTerminal,
		secrets:    []string{"fmpass0a1b2c", "fmsig9f8e7d6c", "fmcredAKIA77"},
		resultUser: "fmuser:fmpass0a1b2c@", resultQuery: "?X-Amz-Credential=fmcredAKIA77&X-Amz-Signature=fmsig9f8e7d6c",
		download: func(p *faultproxy.Proxy) { p.Add(faultproxy.Rule{Fault: status(403)}) }},
	// Classes of replies the canary cannot use.
	{name: "poll-201", fault: "GET job answers 201", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Status, Code: 201, Body: "{}"})},
	{name: "poll-empty-200", fault: "GET job answers 200 with an empty body", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Reply})},
	{name: "poll-bad-gzip", fault: "GET job answers a body labelled gzip that is not", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		proxy: onGet(1, faultproxy.Fault{Kind: faultproxy.Reply, Body: `{"Job":{}}`, Header: map[string]string{"Content-Encoding": "gzip"}})},
	{name: "list-500-v17-auth", fault: "list answers Bacalhau v1.7's HTTP 500 for a refused API key", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrAuth, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Status, Code: 500, Body: v17AuthBody}})
		}},
	{name: "list-500-other", fault: "list answers HTTP 500 with another APIServer error", scenario: "list", via: viaJob, net: netShared, class: scenarios.ErrServer, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Status, Code: 500, Body: strings.Replace(v17AuthBody, "authentication failed: invalid API key", "failed to list jobs: database is locked", 1)}})
		}},
	{name: "sigterm-download", fault: "the job gets SIGTERM while it downloads the result", scenario: "submitAndGet", via: viaJob, net: netShared, class: scenarios.ErrCanary, exit: 1, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note:     "an interrupted run is the canary's, not the publisher's",
		download: func(p *faultproxy.Proxy) { p.Add(faultproxy.Rule{Fault: faultproxy.Fault{Kind: faultproxy.Hang}}) },
		during:   sigtermOnDownload},
	// Untrusted text and leaked jobs.
	{name: "submit-huge-id", fault: "PUT job submitted, the reply's job ID is 300 KB with a newline", scenario: "submit", via: viaRunner, net: netShared, class: scenarios.ErrProtocol, deadline: 3 * time.Second, cleanup: cleanStopped, job: sleeper,
		note: "the ID is not taken; the job is found by its run label and stopped; the line stays bounded",
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "PUT", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Replace, Body: `{"JobID":"j-` + strings.Repeat("x", 300<<10) + `\nPASS"}`}})
		}},
	{name: "submit-reply-lost", fault: "PUT job submitted, the reply is cut by a reset", scenario: "submit", via: viaRunner, net: netShared, everyVersion: true, deadline: 5 * time.Second, cleanup: cleanTerminal, job: sleeper,
		note: "the run goes on with the job its run label (canary_run) finds, never submits twice; the line says submit_reply_lost", expect: replyLost,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "PUT", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Reset}})
		}},
	{name: "submit-reply-lost-job", fault: "PUT job submitted, the reply is cut by a reset (the job binary)", scenario: "submitAndGet", via: viaJob, net: netShared, everyVersion: true, exit: 0, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note: "as above; the run passes and records", expect: replyLost,
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "PUT", Path: jobsPath, Fault: faultproxy.Fault{Kind: faultproxy.Reset}})
		}},
	// Transient faults: exactly one on one read, the retry counted.
	{name: "list-502-once", fault: "list answers 502 with an HTML page, once", scenario: "list", via: viaJob, net: netShared, exit: 0, deadline: 10 * time.Second, cleanup: cleanNoJob,
		note: "retried: retries 1", expect: once(scenarios.FaultHTTP502),
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, After: 0, Times: 1, Fault: faultproxy.Fault{Kind: faultproxy.Status, Code: 502, Body: badGateway}})
		}},
	{name: "list-reset-once", fault: "list is reset mid-body, once", scenario: "list", via: viaJob, net: netShared, exit: 0, deadline: 10 * time.Second, cleanup: cleanNoJob,
		note: "retried: retries 1", expect: once(scenarios.FaultReset),
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, After: 0, Times: 1, Fault: faultproxy.Fault{Kind: faultproxy.Reset}})
		}},
	{name: "list-eof-once", fault: "list closes without an answer (EOF), once", scenario: "list", via: viaJob, net: netShared, exit: 0, deadline: 10 * time.Second, cleanup: cleanNoJob,
		note: "retried: retries 1", expect: once(scenarios.FaultEOF),
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobsPath, After: 0, Times: 1, Fault: faultproxy.Fault{Kind: faultproxy.Close}})
		}},
	{name: "get-502-once", fault: "GET job (a state poll) answers 502 with an HTML page, once", scenario: "submit", via: viaJob, net: netShared, exit: 0, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note: "retried: retries 1", expect: once(scenarios.FaultHTTP502),
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobPath, After: 1, Times: 1, Fault: faultproxy.Fault{Kind: faultproxy.Status, Code: 502, Body: badGateway}})
		}},
	{name: "get-reset-once", fault: "GET job (a state poll) is reset mid-body, once", scenario: "submit", via: viaRunner, net: netShared, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note: "retried: retries 1", expect: once(scenarios.FaultReset),
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobPath, After: 1, Times: 1, Fault: faultproxy.Fault{Kind: faultproxy.Reset}})
		}},
	{name: "get-500-once", fault: "GET job (a state poll) answers 500, once (as an orchestrator shutting down does)", scenario: "submit", via: viaRunner, net: netShared, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note: "retried: retries 1", expect: once(scenarios.FaultHTTP500),
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobPath, After: 1, Times: 1, Fault: status(500)})
		}},
	{name: "get-eof-once", fault: "GET job (a state poll) closes without an answer (EOF), once", scenario: "submit", via: viaRunner, net: netShared, deadline: 10 * time.Second, cleanup: cleanTerminal,
		note: "retried: retries 1", expect: once(scenarios.FaultEOF),
		proxy: func(p *faultproxy.Proxy) {
			p.Add(faultproxy.Rule{Method: "GET", Path: jobPath, After: 1, Times: 1, Fault: faultproxy.Fault{Kind: faultproxy.Close}})
		}},
}, readOnce(), []tcase{
	{name: "restart-mid-wait", fault: "the orchestrator restarts while the job runs on node-2: its API and NATS servers and job store stop, and start again 2 s later on the same ports and data", scenario: "submit", via: viaRunner, net: netOwn, deadline: 45 * time.Second, cleanup: cleanTerminal,
		job: sleeper, spec: scenarios.JobSpec{Selectors: mustSelectors("name=node-2")}, during: restartAfterSubmit, expect: retriedThroughRestart,
		note: "refused reads are tried again for up to 5 s; the job completes once node-2 has joined the orchestrator again (Bacalhau's compute nodes reconnect after 10 s or more)"},

	// Shutdown.
	{name: "sigterm-monitoring-hung", fault: "SIGTERM mid-run, and Monitoring never answers", scenario: "submit", via: viaJob, net: netShared, class: scenarios.ErrCanary, exit: 3, deadline: 5 * time.Second, record: 5 * time.Second, cleanup: cleanTerminal,
		note:   "the result line is logged first; the process exits within 5 s of the signal",
		proxy:  onGet(0, faultproxy.Fault{Kind: faultproxy.Latency, Delay: 2 * time.Second}),
		mon:    func(m *monitor) { m.hang = true },
		during: sigterm},

	// The recording side.
	{name: "monitoring-slow", fault: "Monitoring answers the first write after 11 s (past the 10 s attempt timeout)", scenario: "list", via: viaJob, net: netShared, exit: 0, deadline: 3 * time.Second, record: 15 * time.Second, cleanup: cleanNoJob,
		note: "the write is retried and recorded once",
		mon:  func(m *monitor) { m.slowFirst = 11 * time.Second }},
	{name: "monitoring-down", fault: "Monitoring answers Unavailable", scenario: "list", via: viaJob, net: netShared, exit: 3, deadline: 3 * time.Second, record: 10 * time.Second, cleanup: cleanNoJob,
		note: "retried with backoff, then exit 3; the result line is already in the log",
		mon:  func(m *monitor) { m.Refuse(codesUnavailable, "The service is currently unavailable.") }},
	{name: "monitoring-rejects", fault: "Monitoring rejects some series (written too often)", scenario: "list", via: viaJob, net: netShared, exit: 3, deadline: 3 * time.Second, cleanup: cleanNoJob,
		note: "not retried; the partial summary is logged",
		mon:  rejectSuccessSeries},

	// Faults of the network itself (no proxy, but for the rows whose job
	// fails, prints other text or sleeps: the proxy swaps it in).
	{name: "exit-nonzero", fault: "the job exits 3", scenario: "submit", via: viaRunner, net: netDirect, class: scenarios.ErrJobFailed, deadline: 10 * time.Second, cleanup: cleanTerminal,
		job: &wasi.Program{Stdout: scenarios.DefaultText, ExitCode: 3}},
	{name: "output-differs", fault: "the job prints other text than expected", scenario: "submitAndGet", via: viaRunner, net: netDirect, class: scenarios.ErrOutputMismatch, deadline: 10 * time.Second, cleanup: cleanTerminal,
		job: &wasi.Program{Stdout: "Hello from somewhere else\n"}},
	{name: "job-outlives-deadline", fault: "the job runs longer than the deadline", scenario: "submit", via: viaRunner, net: netDirect, class: scenarios.ErrTimeout, deadline: 2 * time.Second, cleanup: cleanTerminal,
		job: &wasi.Program{Stdout: scenarios.DefaultText, SleepMS: 4000}, note: "the job's task timeout or the canary's stop ends it"},
	{name: "fewer-executions", fault: "only 2 of 3 nodes match the selectors", scenario: "submitWithConcurrency", via: viaJob, net: netDirect, class: scenarios.ErrConcurrency, exit: 1, deadline: 10 * time.Second, cleanup: cleanTerminal,
		env: map[string]string{"CANARY_NODE_SELECTORS": "name in (node-0, node-1)"}},
	{name: "no-node-matches", fault: "no node matches the selectors", scenario: "submit", via: viaJob, net: netDirect, class: scenarios.ErrJobFailed, exit: 1, deadline: 5 * time.Second, cleanup: cleanTerminal,
		env: map[string]string{"CANARY_NODE_SELECTORS": "name=node-9"}},
	{name: "node-killed", fault: "the compute node running the job dies mid-job", scenario: "submit", via: viaRunner, net: netOwn, class: scenarios.ErrTimeout, deadline: 3 * time.Second, cleanup: cleanStopped,
		job: sleeper, spec: scenarios.JobSpec{Selectors: mustSelectors("name=node-2")}, during: killNode, expect: namesKilledNode,
		note: "the line names the node that holds the job"},
	{name: "node-killed-first", fault: "a compute node dies just before submitWithConcurrency", scenario: "submitWithConcurrency", via: viaRunner, net: netOwn, class: scenarios.ErrTimeout, deadline: 8 * time.Second, cleanup: cleanStopped,
		before: killNodeFirst, expect: namesStuckPartition,
		note: "the orchestrator still counts the node connected and gives it a partition: the line names the partitions that completed and the node that holds the stuck one"},
	{name: "network-stopped", fault: "the whole network is stopped", scenario: "submit", via: viaJob, net: netOwn, class: scenarios.ErrUnavailable, exit: 1, deadline: 3 * time.Second, cleanup: cleanUnknown,
		before: func(fx *fixture) error { return fx.net.StopNodes() }},

	// The local runner: its exit status and JSON result line.
	{name: "local-pass", fault: "none (baseline through the proxy)", scenario: "submitAndGet", via: viaLocal, net: netShared, exit: 0, deadline: 10 * time.Second, cleanup: cleanTerminal},
	{name: "local-refused", fault: "connection refused", scenario: "list", via: viaLocal, net: netShared, class: scenarios.ErrUnavailable, exit: 1, deadline: 3 * time.Second, cleanup: cleanNoJob,
		proxy: func(p *faultproxy.Proxy) { _ = p.Refuse() }},
	{name: "local-poll-503", fault: "GET job answers 503", scenario: "submit", via: viaLocal, net: netShared, class: scenarios.ErrServer, exit: 1, deadline: 3 * time.Second, cleanup: cleanTerminal,
		proxy: onGet(0, status(503))},

	// Interrupted: Cloud Run cancels an execution with SIGTERM.
	{name: "sigterm", fault: "the job gets SIGTERM while it waits for its job", scenario: "submit", via: viaJob, net: netShared, class: scenarios.ErrCanary, exit: 1, deadline: 5 * time.Second, cleanup: cleanTerminal,
		note:   "the run is recorded and its job stopped (or already done) before the process exits",
		proxy:  onGet(0, faultproxy.Fault{Kind: faultproxy.Latency, Delay: 2 * time.Second}),
		during: sigterm},

	// Bad input: exit 2, one line naming the variable or flag, before any
	// network call (the proxy, Monitoring and the metadata server see nothing).
	usage("no-host", "BACALHAU_API_HOST missing", "BACALHAU_API_HOST", viaJob, env("BACALHAU_API_HOST", "")),
	usage("host-empty", "BACALHAU_API_HOST empty", "BACALHAU_API_HOST", viaJob, env("BACALHAU_API_HOST", empty)),
	usage("host-url", "BACALHAU_API_HOST is a URL", "BACALHAU_API_HOST", viaJob, env("BACALHAU_API_HOST", "http://127.0.0.1")),
	usage("port-text", "BACALHAU_API_PORT not a number", "BACALHAU_API_PORT", viaJob, env("BACALHAU_API_PORT", "http")),
	usage("port-range", "BACALHAU_API_PORT out of range", "BACALHAU_API_PORT", viaJob, env("BACALHAU_API_PORT", "70000")),
	usage("tls-text", "BACALHAU_API_TLS not a boolean", "BACALHAU_API_TLS", viaJob, env("BACALHAU_API_TLS", "maybe")),
	usage("both-auth", "API key and username+password both set", "BACALHAU_API_KEY", viaJob, env("BACALHAU_API_KEY", apiKey, "BACALHAU_API_USERNAME", "canary", "BACALHAU_API_PASSWORD", password)),
	usage("user-alone", "BACALHAU_API_USERNAME without a password", "BACALHAU_API_USERNAME", viaJob, env("BACALHAU_API_USERNAME", "canary")),
	usage("key-and-secret", "BACALHAU_API_KEY and BACALHAU_API_KEY_SECRET both set", "BACALHAU_API_KEY_SECRET", viaJob, env("BACALHAU_API_KEY", apiKey, "BACALHAU_API_KEY_SECRET", "projects/p/secrets/s/versions/1")),
	usage("secret-name", "BACALHAU_API_KEY_SECRET not a version name", "BACALHAU_API_KEY_SECRET", viaJob, env("BACALHAU_API_KEY_SECRET", "bacalhau-key")),
	usage("no-scenario", "CANARY_SCENARIO missing", "CANARY_SCENARIO", viaJob, env("CANARY_SCENARIO", "")),
	usage("scenario-unknown", "CANARY_SCENARIO unknown", "CANARY_SCENARIO", viaJob, env("CANARY_SCENARIO", "submitAndPray")),
	usage("env-empty", "CANARY_ENV empty", "CANARY_ENV", viaJob, env("CANARY_ENV", empty)),
	usage("env-upper", "CANARY_ENV not a lowercase label", "CANARY_ENV", viaJob, env("CANARY_ENV", "PROD")),
	usage("engine", "CANARY_ENGINE unknown", "CANARY_ENGINE", viaJob, env("CANARY_ENGINE", "podman")),
	usage("selectors", "CANARY_NODE_SELECTORS does not parse", "CANARY_NODE_SELECTORS", viaJob, env("CANARY_NODE_SELECTORS", "owner in (a")),
	usage("timeout-unitless", "CANARY_TIMEOUT without a unit", "CANARY_TIMEOUT", viaJob, env("CANARY_TIMEOUT", "90")),
	usage("timeout-zero", "CANARY_TIMEOUT zero", "CANARY_TIMEOUT", viaJob, env("CANARY_TIMEOUT", "0s")),
	usage("timeout-huge", "CANARY_TIMEOUT over an hour", "CANARY_TIMEOUT", viaJob, env("CANARY_TIMEOUT", "2h")),
	usage("metrics-sink", "CANARY_METRICS unknown", "CANARY_METRICS", viaJob, env("CANARY_METRICS", "prometheus")),
	usage("publisher", "CANARY_PUBLISHER unknown", "CANARY_PUBLISHER", viaJob, env("CANARY_PUBLISHER", "ipfs")),
	usage("monitoring-endpoint", "CANARY_MONITORING_ENDPOINT not host:port", "CANARY_MONITORING_ENDPOINT", viaJob, env("CANARY_MONITORING_ENDPOINT", "monitoring.invalid")),
	usage("secretmanager-endpoint", "CANARY_SECRETMANAGER_ENDPOINT not host:port", "CANARY_SECRETMANAGER_ENDPOINT", viaJob, env("CANARY_SECRETMANAGER_ENDPOINT", "http://127.0.0.1:1/")),
	usage("project", "GOOGLE_CLOUD_PROJECT not a project ID", "GOOGLE_CLOUD_PROJECT", viaJob, env("GOOGLE_CLOUD_PROJECT", "My Project")),
	usage("host-hash", "BACALHAU_API_HOST=127.0.0.1# (a stray character)", "BACALHAU_API_HOST", viaJob, env("BACALHAU_API_HOST", "127.0.0.1#")),
	usage("host-numeric", "BACALHAU_API_HOST=2130706433 (a numeric form)", "BACALHAU_API_HOST", viaJob, env("BACALHAU_API_HOST", "2130706433")),
	usage("key-newline", "BACALHAU_API_KEY ends in a newline", "BACALHAU_API_KEY", viaJob, env("BACALHAU_API_KEY", apiKey+"\n")),
	usage("key-plaintext", "an API key for a non-loopback host without TLS", "CANARY_ALLOW_PLAINTEXT_CREDENTIALS", viaJob, env("BACALHAU_API_HOST", "api.example", "BACALHAU_API_KEY", apiKey)),
	usage("local-no-host", "--endpoint :1234 (no host)", "--endpoint", viaLocal, nil, "--scenario", "list", "--endpoint", ":1234"),
	usage("local-timeout-zero", "--timeout 0", "--timeout", viaLocal, nil, "--scenario", "list", "--timeout", "0"),
	usage("local-flag", "unknown flag", "-verbose", viaLocal, nil, "--scenario", "list", "--verbose"),
	usage("local-endpoint", "--endpoint without a port", "--endpoint", viaLocal, nil, "--scenario", "list", "--endpoint", "127.0.0.1"),
	usage("local-both", "--scenario and --all together", "--scenario and --all", viaLocal, nil, "--scenario", "list", "--all"),
	usage("local-scenario", "--scenario unknown", "CANARY_SCENARIO", viaLocal, nil, "--scenario", "submitAndPray"),
	usage("local-port", "BACALHAU_API_PORT not a number (local runner)", "BACALHAU_API_PORT", viaLocal, env("BACALHAU_API_PORT", "x")),
	usage("local-timeout", "--timeout not a duration", "-timeout", viaLocal, nil, "--scenario", "list", "--timeout", "soon"),
})

// usage is a bad-input case: exit 2 naming the variable, nothing sent.
func usage(name, fault, naming string, v via, e map[string]string, args ...string) tcase {
	c := tcase{name: name, fault: fault, scenario: "list", via: v, net: netNone, exit: 2, deadline: 3 * time.Second,
		cleanup: cleanNothingSent, naming: naming, env: e, secrets: []string{apiKey, password}}
	if v == viaLocal && args != nil {
		c.args = args
		if c.env == nil {
			c.env = map[string]string{}
		}
	}
	return c
}

func env(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// rejectSuccessSeries writes the success series of the case a second
// before the run, so Monitoring refuses that one series of the run's write
// (more often than the 5 s sampling period) and takes the others.
func rejectSuccessSeries(m *monitor) {
	now := timestamppb.New(time.Now().Add(-time.Second))
	_, err := m.Monitoring.CreateTimeSeries(context.Background(), &monitoringpb.CreateTimeSeriesRequest{
		Name: "projects/demo",
		TimeSeries: []*monitoringpb.TimeSeries{{
			Metric:     &metricpb.Metric{Type: metrics.Prefix + "success", Labels: map[string]string{"env": "fm-monitoring-rejects"}},
			Resource:   &monitoredres.MonitoredResource{Type: "generic_task", Labels: metrics.ResourceLabels("demo", "europe-west4", "list")},
			MetricKind: metricpb.MetricDescriptor_GAUGE,
			ValueType:  metricpb.MetricDescriptor_INT64,
			Points: []*monitoringpb.Point{{
				Interval: &monitoringpb.TimeInterval{StartTime: now, EndTime: now},
				Value:    &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: 1}},
			}},
		}},
	})
	if err != nil {
		panic(err)
	}
}

const codesUnavailable = codes.Unavailable

func mustSelectors(s string) []*models.LabelSelectorRequirement {
	sel, err := config.ParseSelectors(s)
	if err != nil {
		panic(err)
	}
	return sel
}

// Bodies the proxies serve from disk.
var (
	gzipBomb   = onDisk("gzip-bomb.gz", func() []byte { return gzipOf(make([]byte, 64<<20)) })
	hugeList   = onDisk("huge-list.json", func() []byte { return []byte(`{"Items":[{"ID":"j-1","Name":"` + strings.Repeat("n", 3<<20) + `"}]}`) })
	resultBomb = onDisk("result-bomb.tar.gz", func() []byte { return tarGzOf("stdout", make([]byte, 64<<20)) })
)

// replyBound is the API reply bound as the table states it.
var replyBound = fmt.Sprintf("%d MiB", bacalhau.MaxReplyBytes>>20)

// v17AuthBody is Bacalhau v1.7.0's answer to a wrong API key: HTTP 500
// from its authorization middleware through the API's error handler.
const v17AuthBody = `{"Status":500,"Message":"authentication failed: invalid API key","RequestID":"","Code":"InternalError","Component":"APIServer"}`

// oddKey holds the characters that escape differently in each form.
const oddKey = `fm-"qk\\ey-5e7b`

// forms are a secret's escaped forms that must not appear either.
func forms(s string) []string {
	q := strconv.Quote(s)
	j, _ := json.Marshal(s)
	return []string{s, q[1 : len(q)-1], string(j[1 : len(j)-1]), url.QueryEscape(s)}
}

func gzipOf(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func tarGzOf(name string, body []byte) []byte {
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(body)
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

// sigtermOnDownload interrupts the job process once it asks for its result.
func sigtermOnDownload(ctx context.Context, fx *fixture) error {
	ctx, cancel := context.WithTimeout(ctx, fx.c.deadline)
	defer cancel()
	for len(fx.results.Requests()) == 0 || fx.process() == nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the result was never asked for: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fx.process().Signal(syscall.SIGTERM)
}

// sigterm interrupts the job process once it waits for its job (its
// first poll is in flight).
func sigterm(ctx context.Context, fx *fixture) error {
	ctx, cancel := context.WithTimeout(ctx, fx.c.deadline)
	defer cancel()
	for fx.proxy.Count("GET", jobPath) == 0 || fx.process() == nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the job was never polled: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fx.process().Signal(syscall.SIGTERM)
}

// refuseAfterSubmit closes the proxy to new connections once the submit
// has been answered.
func refuseAfterSubmit(ctx context.Context, fx *fixture) error {
	ctx, cancel := context.WithTimeout(ctx, fx.c.deadline)
	defer cancel()
	for {
		for _, r := range fx.proxy.Requests() {
			if r.Method == "PUT" && r.Status != 0 {
				return fx.proxy.Refuse()
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the job was never submitted: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// badGateway is a load balancer's 502 page.
const badGateway = "<html><body><h1>502 Bad Gateway</h1></body></html>"

// once expects exactly one retry, after fault.
func once(fault string) func(*fixture, map[string]any) error {
	return func(_ *fixture, l map[string]any) error { return retried(l, 1, fault) }
}

// readOnce is one 502, one reset and one EOF on each of the job's other
// reads (executions, history, results): each is retried once and the run
// passes.
func readOnce() []tcase {
	var out []tcase
	for _, r := range []struct{ read, scenario string }{{"executions", "submit"}, {"history", "submitAndDescribe"}, {"results", "submitAndGet"}} {
		for _, f := range []struct {
			name, what, retry string
			fault             faultproxy.Fault
		}{
			{"502", "answers 502 with an HTML page", scenarios.FaultHTTP502, faultproxy.Fault{Kind: faultproxy.Status, Code: 502, Body: badGateway}},
			{"reset", "is reset mid-body", scenarios.FaultReset, faultproxy.Fault{Kind: faultproxy.Reset}},
			{"eof", "closes without an answer (EOF)", scenarios.FaultEOF, faultproxy.Fault{Kind: faultproxy.Close}},
		} {
			rule := faultproxy.Rule{Method: "GET", Path: jobPath + "/" + r.read, Times: 1, Fault: f.fault}
			out = append(out, tcase{name: r.read + "-" + f.name + "-once", fault: "GET " + r.read + " " + f.what + ", once",
				scenario: r.scenario, via: viaRunner, net: netShared, deadline: 10 * time.Second, cleanup: cleanTerminal,
				note: "retried: retries 1", expect: once(f.retry), proxy: func(p *faultproxy.Proxy) { p.Add(rule) }})
		}
	}
	return out
}

// retried checks the line counts n retries (-1: at least one), all after fault.
func retried(l map[string]any, n int, fault string) error {
	got, _ := l["retries"].(float64)
	faults, _ := l["retry_faults"].([]any)
	if n >= 0 && int(got) != n || n < 0 && got < 1 || len(faults) != 1 || faults[0] != fault {
		return fmt.Errorf("retries %v %v, want %d after %s", got, faults, n, fault)
	}
	return nil
}

// retriedThroughRestart expects a run that retried refused connections;
// a poll in flight when the orchestrator stopped may also have seen an EOF
// or a reset, or the 500 a Bacalhau orchestrator answers while it shuts down
// (its job store closes before its API), nothing else.
func retriedThroughRestart(_ *fixture, l map[string]any) error {
	got, _ := l["retries"].(float64)
	faults, _ := l["retry_faults"].([]any)
	refused := false
	for _, f := range faults {
		switch f {
		case scenarios.FaultRefused:
			refused = true
		case scenarios.FaultEOF, scenarios.FaultReset, scenarios.FaultHTTP500:
		default:
			return fmt.Errorf("retry fault %v, want only refused (and an EOF, reset or 500 of the poll in flight)", f)
		}
	}
	if got < 1 || !refused {
		return fmt.Errorf("retries %v %v, want refused connections retried", got, faults)
	}
	return nil
}

// replyLost expects a run that went on after its submit's reply was lost.
func replyLost(_ *fixture, l map[string]any) error {
	if l["submit_reply_lost"] != true || l["job_id"] == "" || l["job_state"] != "Completed" {
		return fmt.Errorf("submit_reply_lost %v job %v state %v, want the labelled job, completed", l["submit_reply_lost"], l["job_id"], l["job_state"])
	}
	return nil
}

// errorSays expects the line's error to say want.
func errorSays(want string) func(*fixture, map[string]any) error {
	return func(_ *fixture, l map[string]any) error {
		if msg, _ := l["error"].(string); !strings.Contains(msg, want) {
			return fmt.Errorf("error %q does not say %q", msg, want)
		}
		return nil
	}
}

// namesKilledNode expects the line to name the node the case stopped.
func namesKilledNode(fx *fixture, l map[string]any) error {
	fx.mu.Lock()
	node := fx.killed
	fx.mu.Unlock()
	msg, _ := l["error"].(string)
	if node == "" || !strings.Contains(msg, node) {
		return fmt.Errorf("error %q does not name the stopped node %q", msg, node)
	}
	fx.t.Logf("the line names %s: %s", node, msg)
	return nil
}

// namesStuckPartition expects the line to name the partitions that
// completed and the stopped node as the one holding the rest.
func namesStuckPartition(fx *fixture, l map[string]any) error {
	if err := namesKilledNode(fx, l); err != nil {
		return err
	}
	fx.mu.Lock()
	node := fx.killed
	fx.mu.Unlock()
	msg, _ := l["error"].(string)
	if strings.Count(msg, "Completed on") != 2 || !regexp.MustCompile(`partition \d \w+ on "?`+regexp.QuoteMeta(node)).MatchString(msg) {
		return fmt.Errorf("error %q does not name two completed partitions and the one %s holds", msg, node)
	}
	return nil
}

// restartAfterSubmit restarts the network's orchestrator, away for 2 s,
// once the job is submitted and running.
func restartAfterSubmit(ctx context.Context, fx *fixture) error {
	ctx, cancel := context.WithTimeout(ctx, fx.c.deadline)
	defer cancel()
	if _, err := fx.waitRunning(ctx); err != nil {
		return err
	}
	away, err := fx.net.RestartOrchestrator(ctx, 2*time.Second)
	fx.t.Logf("orchestrator away %s", away)
	return err
}

// killNodeFirst stops a compute node before the canary runs.
func killNodeFirst(fx *fixture) error {
	got, err := fx.net.StopComputeNode(fx.t.Context())
	if err != nil {
		return err
	}
	fx.mu.Lock()
	fx.killed = got
	fx.mu.Unlock()
	return nil
}

// killNode stops the compute node the case's job runs on.
func killNode(ctx context.Context, fx *fixture) error {
	ctx, cancel := context.WithTimeout(ctx, fx.c.deadline)
	defer cancel()
	node, err := fx.waitRunning(ctx)
	if err != nil {
		return err
	}
	got, err := fx.net.StopComputeNode(ctx)
	if err != nil {
		return err
	}
	if got != node {
		return fmt.Errorf("stopped %s, the job runs on %s", got, node)
	}
	fx.mu.Lock()
	fx.killed = got
	fx.mu.Unlock()
	return nil
}

func TestMatrix(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] || !labelOK.MatchString(c.label()) {
			t.Fatalf("case name %q: duplicate or not a valid env label", c.name)
		}
		seen[c.name] = true
		if c.net != netDirect && c.net != netOwn && !c.everyVersion {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				runCase(t, c)
			})
			continue
		}
		// Faults of the network itself: on every supported release.
		t.Run(c.name, func(t *testing.T) {
			for _, v := range devnet.Versions {
				cv := c
				cv.version = v
				if o, ok := c.byVersion[v]; ok {
					cv.class, cv.cleanup, cv.note = o.class, o.cleanup, o.note
				}
				t.Run(string(v), func(t *testing.T) {
					t.Parallel()
					runCase(t, cv)
				})
			}
		})
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// --- docs/reliability.md ------------------------------------------------

const docPath = "../../docs/reliability.md"

func TestReliabilityDoc(t *testing.T) {
	want := renderDoc(cases)
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v (regenerate: go test ./internal/faultmatrix -run TestReliabilityDoc -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s differs from the case list; regenerate: go test ./internal/faultmatrix -run TestReliabilityDoc -update", filepath.Clean(docPath))
	}
}

func renderDoc(cs []tcase) string {
	var b strings.Builder
	b.WriteString(docHead)
	b.WriteString("| case | fault | scenario | runs as | class | exit | time bound | cleanup |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range cs {
		class := "`" + string(c.class) + "`"
		if c.class == "" {
			class = "passes"
			if c.net == netNone {
				class = "—"
			}
		}
		exit := fmt.Sprint(c.exit)
		if c.via == viaRunner {
			exit = "—"
		}
		bound := "run ≤ " + c.bound().String()
		if c.via != viaRunner {
			bound += fmt.Sprintf(", process ≤ %s", c.bound()+processSlack+c.record)
		}
		if c.net == netNone {
			bound = fmt.Sprintf("process ≤ %s", c.bound()+processSlack)
		}
		cleanup := string(c.cleanup)
		if c.note != "" {
			cleanup += " (" + c.note + ")"
		}
		for _, v := range devnet.Versions {
			if o, ok := c.byVersion[v]; ok {
				class += fmt.Sprintf("; %s: `%s`", v, o.class)
				cleanup += fmt.Sprintf("; %s: %s (%s)", v, o.cleanup, o.note)
			}
		}
		fault := c.fault
		if c.naming != "" {
			fault += " → names `" + c.naming + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", c.name, esc(fault), c.scenario, runsAs(c), class, exit, bound, esc(cleanup))
	}
	b.WriteString(docTail)
	return b.String()
}

func runsAs(c tcase) string {
	where := map[network]string{netNone: "no network", netShared: "proxy → devnet", netDirect: "devnet, every version", netOwn: "own devnet, every version"}[c.net]
	if c.job != nil && c.net != netShared {
		where = "proxy → " + where
	}
	if c.everyVersion {
		where += ", every version"
	}
	if c.download != nil {
		where += ", result proxy"
	}
	return string(c.via) + ", " + where
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

const docHead = `# Reliability matrix

<!-- Generated from internal/faultmatrix/matrix_test.go; do not edit.
     Regenerate: go test ./internal/faultmatrix -run TestReliabilityDoc -update -->

Every row is a test case of ` + "`internal/faultmatrix`" + `, run by the default ` + "`go test ./...`" + ` (rows that
need a Bacalhau network are skipped under ` + "`-short`" + `). Each breaks one thing — the API (through a
fault-injecting proxy on loopback, ` + "`internal/faultproxy`" + `, down to raw HTTP framing), the Bacalhau
network itself, Cloud Monitoring, Secret Manager or the metadata server (loopback fakes speaking their real
gRPC or HTTP protocols to the real client libraries, ` + "`internal/fakegcp`" + `) or the input — runs the
canary, and asserts:

- **class**: the ` + "`error_class`" + ` of the result (and of the ` + "`failure`" + ` metric when the job records it);
- **time bound**: the run ended within its deadline plus 1 s (from the result line), and the process
  within that plus start-up and recording;
- **cleanup**: what is left on the network, listed through the API directly, never through the proxy:
  no canary job of the case may be left non-terminal;
- **exit**: the exit status of the Cloud Run job or the local runner (runs in-process show —);
- the result line reached the log, and no API key or password appears in any output or metric label;
- every line the canary printed is under Cloud Logging's 256 KB entry limit, and the job's or local
  runner's peak RSS is under 64 MiB (measured by ` + "`internal/peakrss`" + `);
- exit 3 rows: the ` + "`result not recorded`" + ` line says why (e.g. names the metadata server).

"runs as": ` + "`runner`" + ` is the scenario runner in the test process; ` + "`job`" + ` is the built Cloud Run job
recording to the fake Monitoring; ` + "`local`" + ` is the built local runner. A row whose job must sleep, exit
non-zero or print other text gets it from the proxy, which swaps the WebAssembly module of the submitted job
for one of ` + "`internal/wasi`" + ` (the canary itself always submits its own). The devnet is the real Bacalhau test network on a
second "host": a network namespace the test creates, reached over a private veth link (loopback, with a
note in the test log, where the machine cannot make one); ` + "`proxy → devnet`" + ` rows run against v1.7.0,
rows marked "every version" once per supported release (v1.7.0 and v1.9.4). "result proxy": a second
injecting proxy in front of the result download (the API proxy rewrites the result URLs to it); bombs and
other large replies are written to disk by the test and served from there.

`

const docTail = `
The "once" rows break exactly one request of one read (the rule's ` + "`Times: 1`" + `): the run must pass, and its
result line count exactly that one retry (` + "`retries`, `retry_faults`" + `; the job binary's rows check the
` + "`api_retries`" + ` metric too). Rows whose fault persists show the class the fault has without retries: reads
are repeated at most 4 times (a refused connection for up to 5 s) and never past the deadline. A failed run's
cleanup (listing where its job stood, stopping it, checking a failed stop once more) is outside the run's
time bound: it may take up to 20 s past the deadline (600 ms after SIGTERM), ` + "`cleanup_seconds`" + ` in the line.
` + "`restart-mid-wait`" + ` restarts the devnet's orchestrator node for real while the job runs: its API server,
NATS server and job store close, and a new node starts 2 s later on the same ports and data directory
(in the devnet's process). The proxy in front (there to make the job sleep) follows it down and up, so the
canary sees much what it would see without it: the poll in flight closed unanswered, then connections refused. The compute nodes join the
restarted orchestrator again by themselves (Bacalhau retries after 10 s), and the job's completion reaches it then.
` + "`node-killed`" + ` and ` + "`node-killed-first`" + ` take a compute node away as a machine goes: its link to the
orchestrator goes silent with no goodbye, and the orchestrator counts it connected until its heartbeats have been
missed for 30 s (Bacalhau's test setting, which the devnet runs; its default is 1 min).

Faults that hit the state poll let the stop (DELETE) through, so the canary must stop the job it
submitted; the canary job sleeps there so it is still running when the fault hits. Bacalhau v1.7.0
marks a stopped job Stopped but does not halt a wasm execution already running, so those sleep a
bounded time and end by themselves.

## Dependencies and framing

Who must act decides the class. The network's operators: the classes of the API's answers. The canary's
owners: ` + "`canary`" + ` and exit 3. Nobody pages the network for Google's faults:

- **Secret Manager.** The API key is read in the run's ` + "`connect`" + ` phase with a budget of its own (at
  most 10 s and half of ` + "`CANARY_TIMEOUT`" + `; ` + "`UNAVAILABLE`" + ` and ` + "`RESOURCE_EXHAUSTED`" + ` tried 3 times, with
  jittered pauses of at most 100 ms, then 200 ms). A hang, an outage, a quota, a refused endpoint, or a payload no HTTP header can carry
  (a control character — inner newline, carriage return, escape sequence — or text that is not UTF-8) is
  class ` + "`canary`" + ` in ` + "`connect`" + `, before the deadline and before anything is sent (exit 1: the deploy gate counts it against a new image).
- **The metadata server.** Asked only for the project and the location, with a 5 s budget; a reply is read
  to 4 KiB (headers 16 KiB), must be a project ID, or a region or zone (bare or as
  ` + "`projects/N/regions/R`" + `), and a redirect is never followed. Anything else is exit 3, with a
  ` + "`result not recorded`" + ` line naming the metadata server.
- **Cloud Monitoring.** Its messages are quoted and clipped to 512 bytes, at most 10 per-series errors are
  logged (with their count); every text field of every line is clipped to 8 KiB, so no line nears Cloud
  Logging's 256 KB limit.
- **Loopback.** Credentials go in clear only to a host known to be loopback without DNS: a loopback IP
  literal or bare ` + "`localhost`" + ` (dialled at loopback addresses only). ` + "`x.localhost`" + ` needs TLS or
  ` + "`CANARY_ALLOW_PLAINTEXT_CREDENTIALS`" + `; a host ending in a dot is exit 2.
- **HTTP framing.** Every error of an API exchange is classed by its type, never its text: a
  certificate that failed verification is ` + "`certificate`" + `; a deadline ` + "`timeout`" + `; a connection that carried
  no usable answer (refused, DNS, reset or another socket error, closed before a byte, a TLS handshake
  refused with an alert or answered without TLS) ` + "`unavailable`" + `; any other — a server that answered
  unusably: a garbage status line, malformed headers or more than 64 KiB of them, two Content-Lengths, an
  unknown transfer encoding, bad chunks, a body shorter than announced — ` + "`protocol`" + `.
- **Job IDs.** Every ID from the network (the submit's, the label-found job's) must be 1–128 letters,
  digits, ` + "`-`" + `, ` + "`_`" + ` before it goes into a URL; a job of the run that could not be stopped (its stop
  failed, or its ID breaks the rule) sets ` + "`job_left_running`" + ` in the result line.
`
