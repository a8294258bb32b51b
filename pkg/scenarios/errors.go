package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/bacalhau-project/bacalhau/pkg/bacerrors"
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

// Classes lists every class, in a stable order.
var Classes = []Class{
	ErrUnavailable, ErrTimeout, ErrCertificate, ErrAuth, ErrBadRequest, ErrServer, ErrProtocol, ErrPublisher,
	ErrJobFailed, ErrOutputMismatch, ErrConcurrency, ErrCanary,
}

// Classify maps a failed run's error to its class. Explicit classes win;
// then deadlines; then what the Bacalhau client or the network said.
func Classify(err error) Class {
	if err == nil {
		return ""
	}
	var class Class
	if errors.As(err, &class) {
		return class
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout
	}
	if errors.Is(err, context.Canceled) {
		return ErrCanary
	}
	var bacErr bacerrors.Error
	if errors.As(err, &bacErr) {
		if c := classifyBacalhau(bacErr); c != "" {
			return c
		}
	}
	return classifyTransport(err)
}

// classifyBacalhau reads the client's error: replies from the server carry
// their status code; transport failures carry the client's own codes.
func classifyBacalhau(err bacerrors.Error) Class {
	status := err.HTTPStatusCode()
	switch err.Code() {
	case bacerrors.UnauthorizedError:
		return ErrAuth
	case bacerrors.TimeOutError:
		return ErrTimeout
	case bacerrors.RequestCancelled:
		// The run was cancelled (interrupted), not timed out: the client
		// says TimeOutError when the deadline passed.
		return ErrCanary
	case bacerrors.NetworkFailure:
		return ErrUnavailable
	}
	if err.Component() == "HTTPClient" {
		// Failures before any reply: refused, DNS, reset.
		switch err.Code() {
		case bacerrors.ServiceUnavailable:
			return ErrUnavailable
		case bacerrors.BadRequestError:
			if strings.Contains(err.Error(), "host not found") {
				return ErrUnavailable
			}
			return ErrCanary // the request could not be built
		}
		if c := classifyTransport(errors.Unwrap(err)); c != ErrCanary {
			return c
		}
		if status >= 500 {
			return ErrServer
		}
		return ""
	}
	return StatusClass(status)
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

func classifyTransport(err error) Class {
	if err == nil {
		return ErrCanary
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return ErrTimeout
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrProtocol
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.EOF), errors.Is(err, syscall.EPIPE):
		return ErrUnavailable
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	switch {
	case errors.As(err, &dnsErr), errors.As(err, &opErr):
		return ErrUnavailable
	case errors.As(err, &urlErr):
		return ErrUnavailable
	}
	if strings.Contains(err.Error(), "got 0 byte response") {
		return ErrProtocol
	}
	return ErrCanary
}
