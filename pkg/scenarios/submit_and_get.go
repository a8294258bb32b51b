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

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// Bounds of a published result: the compressed download, the archive as
// it inflates (every entry read through, stdout or not), and its stdout,
// well above DefaultText.
const (
	maxResultBytes  = 1 << 20
	maxArchiveBytes = 4 << 20
	maxStdout       = 4 << 10
)

// SubmitAndGet submits the canary job, waits, then downloads its published
// result and checks stdout byte for byte.
var SubmitAndGet = Scenario{
	Name:    "submitAndGet",
	Submits: true,
	Doc:     "submit, wait, then download the published results; stdout must be exactly the expected text",
	Phases:  []string{"submit", "wait", "results", "download"},
	Run: func(ctx context.Context, p *Probe) error {
		var id, url string
		return p.steps(
			p.submitStep(ctx, 1, &id),
			step{"wait", func() error { return waitCompleted(ctx, p, id) }},
			step{"results", func() (err error) {
				url, err = resultURL(ctx, p, id)
				return err
			}},
			step{"download", func() error {
				stdout, err := downloadStdout(ctx, p.Fetcher, url)
				if err == nil && stdout != DefaultText {
					err = fmt.Errorf("downloaded stdout is %s, want %s: %w", text.Quote(stdout, 200), text.Quote(DefaultText, 200), ErrOutputMismatch)
				}
				return err
			}},
		)
	},
}

// resultURL lists the job's results, checks RunOutput.Stdout where the
// executions carry it, and returns the download URL of the result.
func resultURL(ctx context.Context, p *Probe, id string) (string, error) {
	execs, err := p.Executions(ctx, id)
	if err != nil {
		return "", err
	}
	for _, e := range execs {
		if e.ComputeState.StateType != models.ExecutionStateCompleted || e.RunOutput == nil || e.RunOutput.StdoutTruncated {
			continue
		}
		if out := e.RunOutput.STDOUT; out != "" && out != DefaultText {
			return "", fmt.Errorf("execution %s reports stdout %s, want %s: %w", text.Quote(e.ID, maxJobIDText), text.Quote(out, 200), text.Quote(DefaultText, 200), ErrOutputMismatch)
		}
	}
	resp, err := p.Jobs.Results(ctx, &apimodels.ListJobResultsRequest{JobID: id})
	if err != nil {
		return "", fmt.Errorf("listing results: %w", err)
	}
	var items []*models.SpecConfig
	if resp != nil {
		items = resp.Items
	}
	return downloadableURL(id, items)
}

// downloadStdout fetches a published result (a tar.gz of the output
// directory) and returns its stdout file, read to at most maxStdout bytes.
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
	stdout, err := stdoutFromTarGz(io.LimitReader(body, maxResultBytes))
	if err != nil && ctx.Err() != nil {
		return "", fmt.Errorf("downloading result: %v: %w", err, ctx.Err())
	}
	return stdout, err
}

func stdoutFromTarGz(r io.Reader) (string, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return "", fmt.Errorf("reading result: not gzip: %v: %w", err, ErrPublisher)
	}
	inflated := &boundedReader{r: gz, left: maxArchiveBytes}
	tr := tar.NewReader(inflated)
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
		if h.Size > maxStdout {
			return "", fmt.Errorf("result stdout is %d bytes, more than the %d read of it: %w", h.Size, maxStdout, ErrOutputMismatch)
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxStdout))
		if err != nil {
			return "", fmt.Errorf("reading result stdout: %v: %w", err, ErrPublisher)
		}
		return string(b), nil
	}
}

// boundedReader fails once more than left bytes were read: a result that
// inflates past it is not the small archive the canary job published.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("archive inflates past %d bytes", maxArchiveBytes)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
