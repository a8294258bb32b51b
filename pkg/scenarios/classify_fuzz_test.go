package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"syscall"
	"testing"

	"github.com/bacalhau-project/bacalhau/pkg/bacerrors"
)

// causes are what the client may wrap: transport failures, decoding
// failures, deadlines.
var causes = []error{
	nil,
	syscall.ECONNREFUSED,
	syscall.ECONNRESET,
	io.EOF,
	io.ErrUnexpectedEOF,
	context.DeadlineExceeded,
	context.Canceled,
	&json.SyntaxError{},
	&json.UnmarshalTypeError{Value: "string", Type: reflect.TypeOf([]int{})},
	&url.Error{Op: "Get", URL: "http://x", Err: syscall.ECONNREFUSED},
	&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
	&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true},
	errors.New("got 0 byte response with non-nil decode object"),
	ErrOutputMismatch,
}

// FuzzClassify builds Bacalhau client errors from arbitrary codes, HTTP
// statuses, components and causes: Classify must always answer one of
// Classes, and a server's reply must be classed by its status.
func FuzzClassify(f *testing.F) {
	for _, s := range []struct {
		code      string
		status    int
		component string
		cause     uint8
	}{
		{"", 500, "", 0}, {"", 502, "", 0}, {"", 429, "", 0}, {"", 401, "", 0}, {"", 403, "", 0},
		{"", 400, "", 0}, {"", 404, "", 0}, {"NotFound", 404, "Orchestrator", 0},
		{string(bacerrors.UnauthorizedError), 401, "", 0},
		{string(bacerrors.ServiceUnavailable), 0, "HTTPClient", 1},
		{string(bacerrors.NetworkFailure), 0, "HTTPClient", 2},
		{string(bacerrors.TimeOutError), 0, "HTTPClient", 5},
		{string(bacerrors.RequestCancelled), 0, "HTTPClient", 6},
		{string(bacerrors.BadRequestError), 0, "HTTPClient", 11},
		{string(bacerrors.InternalError), 0, "HTTPClient", 7},
		{string(bacerrors.InternalError), 0, "HTTPClient", 99},
		{"", 0, "", 12}, {"", 200, "", 8}, {"", -1, "x", 13}, {"weird", 999, "HTTPClient", 3},
	} {
		f.Add(s.code, s.status, s.component, s.cause, "message")
	}
	f.Fuzz(func(t *testing.T, code string, status int, component string, cause uint8, msg string) {
		var err bacerrors.Error
		if c := causes[int(cause)%len(causes)]; c != nil {
			err = bacerrors.Wrapf(c, "%s", msg)
		} else {
			err = bacerrors.Newf("%s", msg)
		}
		err = err.WithCode(bacerrors.ErrorCode(code)).WithHTTPStatusCode(status).WithComponent(component)
		for _, e := range []error{err, fmt.Errorf("listing jobs: %w", err)} {
			got := Classify(e)
			if !slices.Contains(Classes, got) {
				t.Fatalf("Classify(%v) = %q, not one of %v", e, got, Classes)
			}
			if component == "HTTPClient" || causes[int(cause)%len(causes)] != nil {
				continue
			}
			switch bacerrors.ErrorCode(code) {
			case bacerrors.UnauthorizedError, bacerrors.TimeOutError, bacerrors.RequestCancelled, bacerrors.NetworkFailure:
				continue
			}
			var want Class
			switch {
			case status == http.StatusUnauthorized || status == http.StatusForbidden:
				want = ErrAuth
			case status == http.StatusTooManyRequests || status >= 500:
				want = ErrServer
			case status >= 400:
				want = ErrBadRequest
			default:
				continue
			}
			if got != want {
				t.Fatalf("a server reply with status %d (code %q) is %q, want %q", status, code, got, want)
			}
		}
	})
}
