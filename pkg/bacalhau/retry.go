package bacalhau

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"syscall"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Retries of the idempotent reads (get, list, executions, history,
// results): a transient fault of one request — a load balancer's 502, 503
// or 504, a server's 500 (a Bacalhau orchestrator, v1.7 and v1.9, answers
// 500 while it shuts down: its job store closes before its API), a reset,
// an EOF before the reply is whole — is repeated after a backoff, at most
// maxRetries times a call; a refused connection (an orchestrator
// restarting) is tried again for up to refusedFor. Never past the run's
// deadline: a retry starts only when its wait leaves retryMargin before
// it, so a persistent fault ends the call with its own class (a 503 stays
// server) within the run's deadline. The submit is never repeated: a lost
// reply is marked scenarios.ErrReplyLost and the run looks for its job by
// label. A stop is not repeated either (the runner checks the job once
// more instead).
const (
	retryFirst  = 100 * time.Millisecond
	retryMaxGap = time.Second
	maxRetries  = ReadTries - 1
	refusedFor  = 5 * time.Second
	retryMargin = 250 * time.Millisecond
)

// ReadTries is how many times a read meets a transient fault before it
// fails: the first try and its retries (the false-page model counts with it).
const ReadTries = 5

// fault names the transient fault the try met, "" when it met none: a
// 500 of class server (not v1.7's 500 refusing a credential), a
// 502/503/504, or a reset, EOF or refusal of the connection before the
// reply was whole (the call's error holds the round trip's, or the
// checking transport's verdict on a reply cut while it read it).
func (v *verdict) fault(err error) string {
	switch v.status {
	case http.StatusInternalServerError:
		if scenarios.Classify(err) == scenarios.ErrServer {
			return scenarios.FaultHTTP500
		}
		return ""
	case http.StatusBadGateway:
		return scenarios.FaultHTTP502
	case http.StatusServiceUnavailable:
		return scenarios.FaultHTTP503
	case http.StatusGatewayTimeout:
		return scenarios.FaultHTTP504
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return scenarios.FaultRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return scenarios.FaultReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return scenarios.FaultEOF
	}
	return ""
}

// read is call for an idempotent request: transient faults are retried
// as the constants above say, each retry noted in the run (NoteRetry).
func read[R, T any](ctx context.Context, name string, fn func(context.Context, R) (T, error), r R) (T, error) {
	start := time.Now()
	wait := retryFirst
	retries := 0
	for {
		v := &verdict{}
		out, err := call(ctx, v, name, fn, r)
		if err == nil || ctx.Err() != nil {
			return out, err
		}
		fault := v.fault(err)
		switch {
		case fault == "":
			return out, err
		case fault == scenarios.FaultRefused:
			if time.Since(start)+wait > refusedFor {
				return out, err
			}
		case retries >= maxRetries:
			return out, err
		default:
			retries++
		}
		gap := wait/2 + rand.N(wait/2+1) // jitter: retries of many canaries do not line up
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < gap+retryMargin {
			return out, err
		}
		scenarios.NoteRetry(ctx, fault)
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(gap):
		}
		wait = min(2*wait, retryMaxGap)
	}
}

// put is call for the submit: never repeated; a reply lost after the
// request went out is marked scenarios.ErrReplyLost, so the run can look
// for the job the server may have taken, and a refused one
// scenarios.ErrNotSent (there is no job to look for).
func put[R, T any](ctx context.Context, name string, fn func(context.Context, R) (T, error), r R) (T, error) {
	v := &verdict{}
	out, err := call(ctx, v, name, fn, r)
	if err != nil && ctx.Err() == nil {
		switch v.fault(err) {
		case scenarios.FaultReset, scenarios.FaultEOF:
			err = fmt.Errorf("%w (%w)", err, scenarios.ErrReplyLost)
		case scenarios.FaultRefused:
			err = fmt.Errorf("%w (%w)", err, scenarios.ErrNotSent)
		}
	}
	return out, err
}
