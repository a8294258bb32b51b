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

var (
	_ scenarios.Jobs       = (*checkedJobs)(nil)
	_ scenarios.NodeLister = (*checkedJobs)(nil)
)

func call[T any](ctx context.Context, v *verdict, name string, fn func(context.Context) (T, error)) (out T, err error) {
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
	return fn(ctx)
}

func (c *checkedJobs) Put(ctx context.Context, r *apimodels.PutJobRequest) (*apimodels.PutJobResponse, error) {
	return put(ctx, "put job", func(ctx context.Context) (*apimodels.PutJobResponse, error) { return c.jobs.Put(ctx, r) })
}

func (c *checkedJobs) Get(ctx context.Context, r *apimodels.GetJobRequest) (*apimodels.GetJobResponse, error) {
	return read(ctx, "get job", func(ctx context.Context) (*apimodels.GetJobResponse, error) { return c.jobs.Get(ctx, r) })
}

func (c *checkedJobs) List(ctx context.Context, r *apimodels.ListJobsRequest) (*apimodels.ListJobsResponse, error) {
	return read(ctx, "list jobs", func(ctx context.Context) (*apimodels.ListJobsResponse, error) { return c.jobs.List(ctx, r) })
}

func (c *checkedJobs) History(ctx context.Context, r *apimodels.ListJobHistoryRequest) (*apimodels.ListJobHistoryResponse, error) {
	return read(ctx, "job history", func(ctx context.Context) (*apimodels.ListJobHistoryResponse, error) {
		return c.jobs.History(ctx, r)
	})
}

func (c *checkedJobs) Executions(ctx context.Context, r *apimodels.ListJobExecutionsRequest) (*apimodels.ListJobExecutionsResponse, error) {
	return read(ctx, "job executions", func(ctx context.Context) (*apimodels.ListJobExecutionsResponse, error) {
		return c.jobs.Executions(ctx, r)
	})
}

func (c *checkedJobs) Results(ctx context.Context, r *apimodels.ListJobResultsRequest) (*apimodels.ListJobResultsResponse, error) {
	return read(ctx, "job results", func(ctx context.Context) (*apimodels.ListJobResultsResponse, error) {
		return c.jobs.Results(ctx, r)
	})
}

func (c *checkedJobs) Stop(ctx context.Context, r *apimodels.StopJobRequest) (*apimodels.StopJobResponse, error) {
	return call(ctx, &verdict{}, "stop job", func(ctx context.Context) (*apimodels.StopJobResponse, error) { return c.jobs.Stop(ctx, r) })
}

// ListNodes lists the network's nodes (the nodes census).
func (c *checkedJobs) ListNodes(ctx context.Context, r *apimodels.ListNodesRequest) (*apimodels.ListNodesResponse, error) {
	return call(ctx, &verdict{}, "list nodes", func(ctx context.Context) (*apimodels.ListNodesResponse, error) { return c.nodes.List(ctx, r) })
}
