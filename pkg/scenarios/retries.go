package scenarios

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// ErrReplyLost marks a submit whose request went out and whose reply was
// lost (a reset or an EOF before the reply): the server may have taken
// the job. It is no class: the error keeps the class of its cause.
var ErrReplyLost = errors.New("the reply was lost")

// ErrNotSent marks a call whose connection was refused: the server never
// saw it (a refused submit created no job to look for).
var ErrNotSent = errors.New("the request was never sent")

// Faults a read is repeated after (the values of the result line's
// retry_faults): each names the kind of fault, never text from the network.
const (
	FaultHTTP500 = "http_500"
	FaultHTTP502 = "http_502"
	FaultHTTP503 = "http_503"
	FaultHTTP504 = "http_504"
	FaultReset   = "reset"   // the connection was reset
	FaultEOF     = "eof"     // the connection closed before the reply was whole
	FaultRefused = "refused" // the connection was refused (an orchestrator restarting)
)

// retryNote counts the calls of one run that were repeated after a
// transient fault. The API layer notes them in the run's context, so the
// count is the run's own whatever client serves it.
type retryNote struct {
	mu     sync.Mutex
	n      int
	faults []string
}

type retryNoteKey struct{}

// NoteRetry records in the run of ctx that a call is repeated after fault
// (one of the Fault constants). Outside a run it does nothing.
func NoteRetry(ctx context.Context, fault string) {
	n, ok := ctx.Value(retryNoteKey{}).(*retryNote)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.n++
	if !slices.Contains(n.faults, fault) && len(n.faults) < 8 {
		n.faults = append(n.faults, fault)
	}
}

func (n *retryNote) read() (int, []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := slices.Clone(n.faults)
	slices.Sort(f)
	return n.n, f
}
