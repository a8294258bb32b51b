package scenarios

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// maxResultBytes bounds what the canary reads of a published result.
const maxResultBytes = 1 << 20

// SubmitAndGet submits the canary job, waits, then downloads its published
// result and checks stdout byte for byte.
var SubmitAndGet = Scenario{
	Name:   "submitAndGet",
	Doc:    "submit, wait, then download the published results; stdout must be exactly the expected text",
	Phases: []string{"submit", "wait", "results", "download"},
	Run: func(ctx context.Context, p *Probe) error {
		id, err := submitPhase(ctx, p, 1)
		if err != nil {
			return err
		}
		if err := p.Phase("wait", func() error {
			return waitCompleted(ctx, p, id)
		}); err != nil {
			return err
		}
		var url string
		if err := p.Phase("results", func() (err error) {
			url, err = resultURL(ctx, p, id)
			return err
		}); err != nil {
			return err
		}
		return p.Phase("download", func() error {
			stdout, err := downloadStdout(ctx, p.Fetcher, url)
			if err != nil {
				return err
			}
			if want := p.Spec.expected(); stdout != want {
				return fmt.Errorf("downloaded stdout is %q, want %q: %w", clip(stdout), clip(want), ErrOutputMismatch)
			}
			return nil
		})
	},
}

// resultURL lists the job's results, checks RunOutput.Stdout where the
// executions carry it, and returns the download URL of the result.
func resultURL(ctx context.Context, p *Probe, id string) (string, error) {
	execs, err := p.Executions(ctx, id)
	if err != nil {
		return "", err
	}
	want := p.Spec.expected()
	for _, e := range execs {
		if e.ComputeState.StateType != models.ExecutionStateCompleted || e.RunOutput == nil || e.RunOutput.StdoutTruncated {
			continue
		}
		if e.RunOutput.STDOUT != "" && e.RunOutput.STDOUT != want {
			return "", fmt.Errorf("execution %s reports stdout %q, want %q: %w", e.ID, clip(e.RunOutput.STDOUT), clip(want), ErrOutputMismatch)
		}
	}
	resp, err := p.Jobs.Results(ctx, &apimodels.ListJobResultsRequest{JobID: id})
	if err != nil {
		return "", fmt.Errorf("listing results: %w", err)
	}
	if resp == nil || len(resp.Items) == 0 {
		return "", fmt.Errorf("listing results: job %s published nothing (does the network have a default publisher?): %w", id, ErrProtocol)
	}
	for _, r := range resp.Items {
		if r == nil {
			continue
		}
		if u, ok := r.Params["URL"].(string); ok && u != "" {
			return u, nil
		}
	}
	return "", fmt.Errorf("listing results: no downloadable result among %d (type %q): %w", len(resp.Items), resp.Items[0].Type, ErrProtocol)
}

// downloadStdout fetches a published result (a tar.gz of the output
// directory) and returns its stdout file.
func downloadStdout(ctx context.Context, f Fetcher, url string) (string, error) {
	body, err := f.Fetch(ctx, url)
	if err != nil {
		if ctx.Err() != nil {
			// The run's deadline or an interrupt, not the publisher.
			return "", fmt.Errorf("downloading result: %w", err)
		}
		return "", fmt.Errorf("downloading result: %w: %w", err, ErrPublisher)
	}
	defer body.Close()
	return stdoutFromTarGz(io.LimitReader(body, maxResultBytes))
}

func stdoutFromTarGz(r io.Reader) (string, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return "", fmt.Errorf("reading result: not gzip: %v: %w", err, ErrPublisher)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading result: no stdout file in it: %w", ErrPublisher)
		}
		if err != nil {
			return "", fmt.Errorf("reading result: %v: %w", err, ErrPublisher)
		}
		if h.Typeflag != tar.TypeReg || path.Clean(h.Name) != "stdout" {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return "", fmt.Errorf("reading result stdout: %v: %w", err, ErrPublisher)
		}
		return string(b), nil
	}
}

// clip keeps error texts short when a job prints a lot.
func clip(s string) string {
	const n = 200
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
