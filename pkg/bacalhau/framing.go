package bacalhau

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// brokenFraming lists what Go's HTTP client says of a reply whose framing
// is broken: the server answered, but not in HTTP the canary can read (a
// garbage status line, a malformed or oversized header block, two
// Content-Lengths, bad chunks). net/http keeps most of these untyped.
var brokenFraming = []string{
	"malformed HTTP status code",
	"malformed HTTP response",
	"malformed HTTP version",
	"malformed MIME header",
	"server response headers exceeded",
	"multiple Content-Length headers",
	"bad Content-Length",
	"unsupported transfer encoding",
	"too many transfer encodings",
	"invalid Trailer key",
	"invalid byte in chunk length",
	"malformed chunked encoding",
	"chunk length too large",
	"header line too long",
	"unexpected trailer",
}

// framing is the verdict on an error of the HTTP exchange: protocol when
// the server answered with broken framing (whatever came after it), else
// nil — nothing answered (refused, reset, closed before a byte), which
// stays the client's unavailable.
func framing(call string, err error) error {
	if err == nil {
		return nil
	}
	var pe textproto.ProtocolError
	msg := err.Error()
	if !errors.As(err, &pe) && !containsAny(msg, brokenFraming) {
		return nil
	}
	if _, after, ok := strings.Cut(msg, "transport connection broken: "); ok {
		msg = after
	}
	return fmt.Errorf("%s: the API answered with broken HTTP framing: %s: %w", call, scenarios.Clip(msg, 300), scenarios.ErrProtocol)
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
