package scenarios

import (
	"context"
	"errors"
	"net/http"
)

// Class is why a run failed: a closed set, one per failed run. A Class is
// also an error, so checks can wrap it with context
// (fmt.Errorf("stdout %q: %w", got, ErrOutputMismatch)) and Classify finds it.
type Class string

func (c Class) Error() string { return string(c) }

// The error classes, as written to the failure metric's error_class label.
const (
	ErrUnavailable    Class = "unavailable"     // could not connect: refused, DNS, reset
	ErrTimeout        Class = "timeout"         // a call or the whole run passed its deadline
	ErrCertificate    Class = "certificate"     // the API's TLS certificate failed verification (unknown CA, expired, wrong name, self-signed)
	ErrAuth           Class = "auth"            // 401/403
	ErrBadRequest     Class = "bad_request"     // other 4xx: the API refused what the canary sent
	ErrServer         Class = "server"          // 5xx or 429
	ErrProtocol       Class = "protocol"        // an API reply that does not parse or does not make sense
	ErrPublisher      Class = "publisher"       // the published result could not be fetched or is not what was published
	ErrJobFailed      Class = "job_failed"      // the job ended Failed/Stopped or exited non-zero
	ErrOutputMismatch Class = "output_mismatch" // the job's output is not the expected text
	ErrConcurrency    Class = "concurrency"     // fewer executions or nodes than asked for
	ErrCanary         Class = "canary"          // a bug or misconfiguration of the canary itself
)

// Classes lists every class, in a stable order. Append only: a class's
// position is its code in the failure_cause metric (metrics.ClassCode),
// which must keep naming the same class.
var Classes = []Class{
	ErrUnavailable, ErrTimeout, ErrCertificate, ErrAuth, ErrBadRequest, ErrServer, ErrProtocol, ErrPublisher,
	ErrJobFailed, ErrOutputMismatch, ErrConcurrency, ErrCanary,
}

// runbooks say, for each class, who must act and where to look first: the
// "network failing" page's runbook lines (generated into
// terraform/scenarios.json by `go generate ./internal/catalogue`).
var runbooks = map[Class]string{
	ErrUnavailable:    "the API did not answer (DNS, refused or reset connection, a TLS handshake refused or answered without TLS): check the orchestrator's host, load balancer (its port and TLS versions) and DNS; other scenarios failing the same way confirm an outage.",
	ErrTimeout:        "a call or the whole scenario exceeded CANARY_TIMEOUT: look at which phase grew on the dashboard (wait = scheduling or compute nodes slow, submit = orchestrator slow).",
	ErrCertificate:    "the API answered TLS with a certificate the canary could not verify (unknown authority, expired, not for the host, self-signed); nothing was sent. Check the orchestrator's certificate (expiry, the names it covers, the chain it serves) and, for a private CA, the CA file the canary trusts (BACALHAU_API_TLS_CAFILE, mounted from the bacalhau_api_tls_ca_secret_id secret). Not DNS or an outage.",
	ErrAuth:           "the API refused the canary's credentials (401/403; Bacalhau v1.7 answers 500 with its authorizer's message): check the API key secret's latest version and the network's auth configuration.",
	ErrBadRequest:     "the API rejected the request (4xx): usually an API change on the network; compare the network's version with the client's.",
	ErrServer:         "the orchestrator answered 5xx: check its logs and health.",
	ErrProtocol:       "the reply was malformed or incomplete: look for a version mismatch or a proxy in between.",
	ErrPublisher:      "the API worked but the job's published result could not be fetched: the result URL a compute node advertised is unroutable from the canary or refused (loopback, link-local, metadata address), the publisher answered 4xx/5xx, or the archive is not what was published. Check the network's publisher configuration (CANARY_PUBLISHER; the local publisher's advertised address must be reachable from the canary) and the storage behind it, not the orchestrator API. With an S3 default publisher: a result left unsigned (type s3, no URL) means the orchestrator has no S3 credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a role) or Publishers.Types.S3.PreSignedURLDisabled is on; a 403 on the pre-signed URL means an expired URL (PreSignedURLExpiration, clock skew) or a signature the bucket refuses; no result at all means jobs have no default publisher.",
	ErrJobFailed:      "the canary job ran but failed or ended in a bad state: check the compute nodes matching the node selectors (e.g. owner=bacalhau) and their executors.",
	ErrOutputMismatch: "the job completed but its results differ from the expected text: check the publisher and result download path.",
	ErrConcurrency:    "a count=3 job did not get 3 completed executions on 3 distinct nodes: check that at least 3 matching compute nodes are up.",
	ErrCanary:         "a bug or misconfiguration of the canary itself: read the run's log line and the job's environment; not a network problem.",
}

// Runbook is the class's runbook line for the page; "" for an unknown class.
func (c Class) Runbook() string { return runbooks[c] }

// Classify maps a failed run's error to its class: the Class in its chain
// (pkg/bacalhau gives every error of an API call one); else a passed
// deadline is timeout; anything else, an interrupt (context.Canceled)
// among it, is the canary's own.
func Classify(err error) Class {
	var class Class
	switch {
	case err == nil:
		return ""
	case errors.As(err, &class):
		return class
	case errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	}
	return ErrCanary
}

// StatusClass is the class of an API reply with an error status (4xx,
// 5xx): the status alone decides it ("" for any other status). Bacalhau
// v1.7's HTTP 500 refusing a credential is auth; only its body tells it
// apart, which pkg/bacalhau reads.
func StatusClass(status int) Class {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrAuth
	case status == http.StatusTooManyRequests || status >= 500 && status <= 599:
		return ErrServer
	case status >= 400 && status <= 499:
		return ErrBadRequest
	}
	return ""
}
