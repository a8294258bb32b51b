package bacalhau

import (
	"context"
	"fmt"

	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
	clientv2 "github.com/bacalhau-project/bacalhau/pkg/publicapi/client/v2"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// checkedJobs is the client's job API behind the checking transport: each
// call returns the transport's verdict when there is one (the client
// turns transport errors into text), and a 200 reply that the client
// still cannot decode, or that makes it panic, is a protocol error, not a
// crash.
type checkedJobs struct {
	jobs  *clientv2.Jobs
	nodes *clientv2.Nodes
}

// The runner finds the node census by this assertion.
var _ scenarios.NodeLister = (*checkedJobs)(nil)

func call[R, T any](ctx context.Context, v *verdict, name string, fn func(context.Context, R) (T, error), r R) (out T, err error) {
	ctx = context.WithValue(ctx, verdictKey{}, v)
	defer func() {
		var zero T
		switch p := recover(); {
		case v.err != nil:
			out, err = zero, v.err
		case p != nil:
			out, err = zero, fmt.Errorf("%s: the reply made the Bacalhau client panic (%s): %w",
				name, text.Quote(fmt.Sprint(p), 200), scenarios.ErrProtocol)
		case err != nil && v.passed:
			err = fmt.Errorf("%s: the Bacalhau client cannot decode the reply: %s: %w", name, text.Clip(err.Error(), 300), scenarios.ErrProtocol)
		}
	}()
	return fn(ctx, r)
}

func (c *checkedJobs) Put(ctx context.Context, r *apimodels.PutJobRequest) (*apimodels.PutJobResponse, error) {
	return put(ctx, "put job", c.jobs.Put, r)
}

func (c *checkedJobs) Get(ctx context.Context, r *apimodels.GetJobRequest) (*apimodels.GetJobResponse, error) {
	return read(ctx, "get job", c.jobs.Get, r)
}

func (c *checkedJobs) List(ctx context.Context, r *apimodels.ListJobsRequest) (*apimodels.ListJobsResponse, error) {
	return read(ctx, "list jobs", c.jobs.List, r)
}

func (c *checkedJobs) History(ctx context.Context, r *apimodels.ListJobHistoryRequest) (*apimodels.ListJobHistoryResponse, error) {
	return read(ctx, "job history", c.jobs.History, r)
}

func (c *checkedJobs) Executions(ctx context.Context, r *apimodels.ListJobExecutionsRequest) (*apimodels.ListJobExecutionsResponse, error) {
	return read(ctx, "job executions", c.jobs.Executions, r)
}

func (c *checkedJobs) Results(ctx context.Context, r *apimodels.ListJobResultsRequest) (*apimodels.ListJobResultsResponse, error) {
	return read(ctx, "job results", c.jobs.Results, r)
}

func (c *checkedJobs) Stop(ctx context.Context, r *apimodels.StopJobRequest) (*apimodels.StopJobResponse, error) {
	return call(ctx, &verdict{}, "stop job", c.jobs.Stop, r)
}

// ListNodes lists the network's nodes (the nodes census).
func (c *checkedJobs) ListNodes(ctx context.Context, r *apimodels.ListNodesRequest) (*apimodels.ListNodesResponse, error) {
	return call(ctx, &verdict{}, "list nodes", c.nodes.List, r)
}
