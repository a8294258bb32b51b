package bacalhau

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// A job list holds other users' jobs, and the API accepts jobs of 10 MB
// (an inline input of a few MB is one string). A list reply is therefore
// not read whole: it is streamed, and every string longer than
// maxListString bytes is replaced by "" as it passes, so ten such jobs
// among the newest ten cost no memory. What is kept (IDs, states, times,
// labels) is bounded by MaxReplyBytes as any reply is, and checked as
// any reply is; the stream itself is read to at most maxListBytes.
const (
	maxListString = 64 << 10
	maxListBytes  = 256 << 20
)

// jobsListPath is the path of the job list (GET).
const jobsListPath = "/api/v1/orchestrator/jobs"

// isJobList says the request lists jobs.
func isJobList(req *http.Request) bool {
	return req.Method == http.MethodGet && strings.TrimSuffix(req.URL.Path, "/") == jobsListPath
}

// dropLongStrings copies JSON text from r, replacing each string (a key
// or a value) of more than maxListString bytes as sent with "". It checks
// what it drops (no control character, only JSON's escapes); the rest of
// the text is checked after, on the copy, which is at most MaxReplyBytes.
func dropLongStrings(r io.Reader) ([]byte, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out bytes.Buffer
	var str []byte // the current string, while it is short
	in, long := false, false
	keep := func(b []byte) {
		if str = append(str, b...); len(str) > maxListString {
			long, str = true, str[:0]
		}
	}
	for {
		if out.Len() > MaxReplyBytes {
			return nil, fmt.Errorf("reply is over %d bytes: %w", MaxReplyBytes, errTooBig)
		}
		// A run of plain bytes, scanned in the reader's buffer.
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err == io.EOF {
				if in {
					return nil, fmt.Errorf("reply ends inside a string: %w", scenarios.ErrProtocol)
				}
				return out.Bytes(), nil
			} else if err != nil {
				return nil, err
			}
		}
		chunk, _ := br.Peek(br.Buffered())
		n := 0
		if in {
			for n < len(chunk) && chunk[n] != '"' && chunk[n] != '\\' && chunk[n] >= 0x20 {
				n++
			}
			if !long {
				keep(chunk[:n])
			}
		} else {
			for n < len(chunk) && chunk[n] != '"' {
				n++
			}
			out.Write(chunk[:n])
		}
		_, _ = br.Discard(n)
		if n == len(chunk) {
			continue
		}
		// The byte that ended the run.
		b, _ := br.ReadByte()
		switch {
		case !in: // '"' opens a string
			in, long, str = true, false, str[:0]
		case b == '"':
			in = false
			out.WriteByte('"')
			if !long {
				out.Write(str)
			}
			out.WriteByte('"')
		case b < 0x20:
			return nil, fmt.Errorf("reply has a control character in a string: %w", scenarios.ErrProtocol)
		default: // '\\'
			seq, err := escape(br)
			if err != nil {
				return nil, err
			}
			if !long {
				keep(seq)
			}
		}
	}
}

// escape reads the rest of an escape whose backslash was read: it
// returns the whole escape, one of JSON's.
func escape(br *bufio.Reader) ([]byte, error) {
	e, err := br.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("reply ends inside a string: %w", scenarios.ErrProtocol)
	}
	switch e {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return []byte{'\\', e}, nil
	case 'u':
		seq := []byte{'\\', e}
		for range 4 {
			h, err := br.ReadByte()
			if err != nil || !strings.ContainsRune("0123456789abcdefABCDEF", rune(h)) {
				return nil, fmt.Errorf("reply has a bad \\u escape: %w", scenarios.ErrProtocol)
			}
			seq = append(seq, h)
		}
		return seq, nil
	}
	return nil, fmt.Errorf("reply has a bad escape \\%s: %w", text.Quote(string(e), 8), scenarios.ErrProtocol)
}
