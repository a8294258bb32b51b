package bacalhau

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
	clientv2 "github.com/bacalhau-project/bacalhau/pkg/publicapi/client/v2"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// canned answers every request with one reply, without a network.
type canned struct {
	code int
	body []byte
	gzip bool
}

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	h := http.Header{"Content-Type": {"application/json"}}
	if c.gzip {
		h.Set("Content-Encoding", "gzip")
	}
	return &http.Response{StatusCode: c.code, Header: h, Body: io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)), Request: r}, nil
}

// FuzzReplies: whatever the API answers, every call returns (never
// panics), and a failed call has a class of the closed set other than
// canary (a reply is never the canary's fault).
func FuzzReplies(f *testing.F) {
	for _, s := range []string{"null", "", "{}", "[]", `{"Job":null}`, `{"Job":{"Tasks":[null]}}`, `{"Items":[null]}`,
		`{"Items":[{"ID":"j","Tasks":[{"InputSources":[null]}]}]}`, `{"Job":{"ID":1}}`, `{"Items":"x"}`, `{"Job":{"State":{"StateType":"x"}}}`,
		`{"Executions":{"Items":[null]}}`, `{"History":{"Items":[{"Event":null}]}}`, `{"JobID":"` + "\n" + `"}`, `"x"`, `{"a":[[null]]}`} {
		f.Add(200, []byte(s), false)
		f.Add(500, []byte(s), false)
	}
	f.Add(200, []byte(gz([]byte(`{"Job":{"Tasks":[null]}}`))), true)
	f.Add(200, []byte("not gzip"), true)
	f.Fuzz(func(t *testing.T, code int, body []byte, gzipped bool) {
		if code < 100 || code > 599 {
			return
		}
		hc := &http.Client{Transport: &checkingTransport{base: canned{code, body, gzipped}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		jobs := &checkedJobs{jobs: clientv2.New("http://127.0.0.1:1", clientv2.WithHTTPClient(hc)).Jobs()}
		ctx := context.Background()
		errs := []error{}
		_, err := jobs.Get(ctx, &apimodels.GetJobRequest{JobIDOrName: "j-1", Include: "executions"})
		errs = append(errs, err)
		_, err = jobs.List(ctx, &apimodels.ListJobsRequest{})
		errs = append(errs, err)
		_, err = jobs.Put(ctx, &apimodels.PutJobRequest{})
		errs = append(errs, err)
		_, err = jobs.Executions(ctx, &apimodels.ListJobExecutionsRequest{JobIDOrName: "j-1"})
		errs = append(errs, err)
		_, err = jobs.History(ctx, &apimodels.ListJobHistoryRequest{JobIDOrName: "j-1"})
		errs = append(errs, err)
		_, err = jobs.Results(ctx, &apimodels.ListJobResultsRequest{JobID: "j-1"})
		errs = append(errs, err)
		_, err = jobs.Stop(ctx, &apimodels.StopJobRequest{JobID: "j-1"})
		errs = append(errs, err)
		for _, err := range errs {
			if err == nil {
				continue
			}
			if c := scenarios.Classify(err); c == scenarios.ErrCanary || c == "" {
				t.Fatalf("HTTP %d %q: class %q for %v", code, body, c, err)
			}
		}
	})
}
