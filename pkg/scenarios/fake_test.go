package scenarios

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
	"k8s.io/apimachinery/pkg/labels"
)

// fakeJobs is an in-memory orchestrator with the rules of the real one that
// the canary depends on: jobs must validate, get an ID, move Pending →
// Running → terminal over successive polls, unknown jobs are 404s, and a job
// in a terminal state cannot be stopped. Hooks inject failures per method.
type fakeJobs struct {
	mu         sync.Mutex
	jobs       map[string]*fakeJob
	lastCreate int64  // CreateTime of the newest job
	nodes      int    // compute nodes available (default 3)
	polls      int    // Get calls a job stays Running before it ends
	outcome    string // what each execution prints (default DefaultText)
	exit       int    // exit code of executions
	badNode    string // executions on this node fail and are retried on a spare node, as Bacalhau retries a partition
	failErr    map[string]error
	hang       map[string]bool // block until the context ends
	stops      []string
	calls      map[string]int
	putLost    error         // Put stores the job, then answers this (a lost reply)
	stopLost   error         // Stop stops the job, then answers this (a lost reply)
	stopDelay  time.Duration // Stop takes this long (a slow API)
}

type fakeJob struct {
	job   *models.Job
	polls int
	execs []*models.Execution
	hist  []*models.JobHistory
}

func newFake() *fakeJobs {
	return &fakeJobs{jobs: map[string]*fakeJob{}, nodes: 3, polls: 2, failErr: map[string]error{}, hang: map[string]bool{}, calls: map[string]int{}}
}

var _ Jobs = (*fakeJobs)(nil)

// enter records the call and applies injected faults.
func (f *fakeJobs) enter(ctx context.Context, method string) error {
	f.mu.Lock()
	f.calls[method]++
	err, hang := f.failErr[method], f.hang[method]
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return fmt.Errorf("request timed out: %w", ErrTimeout)
	}
	return err
}

func notFound(id string) error {
	return fmt.Errorf("HTTP 404: job not found: %s: %w", id, ErrBadRequest)
}

func (f *fakeJobs) Put(ctx context.Context, r *apimodels.PutJobRequest) (*apimodels.PutJobResponse, error) {
	if err := f.enter(ctx, "Put"); err != nil {
		return nil, err
	}
	job := r.Job
	switch {
	case job == nil || len(job.Tasks) != 1 || job.Tasks[0].Engine == nil:
		return nil, fmt.Errorf("HTTP 400: invalid job: %w", ErrBadRequest)
	case job.ID != "" || job.Name != "":
		return nil, fmt.Errorf("HTTP 400: canary jobs must leave ID and Name to the server: %w", ErrBadRequest)
	case job.Count < 1:
		return nil, fmt.Errorf("HTTP 400: count must be positive: %w", ErrBadRequest)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("j-%d", len(f.jobs)+1)
	j := *job
	j.ID, j.Name = id, id
	// Distinct, increasing creation times, as the store's order needs.
	f.lastCreate = max(time.Now().UnixNano(), f.lastCreate+1)
	j.CreateTime, j.ModifyTime = f.lastCreate, f.lastCreate
	j.State = models.NewJobState(models.JobStateTypePending)
	fj := &fakeJob{job: &j}
	fj.history(models.JobStateTypePending)
	f.jobs[id] = fj
	if f.putLost != nil {
		return nil, f.putLost
	}
	return &apimodels.PutJobResponse{JobID: id}, nil
}

func (fj *fakeJob) history(s models.JobStateType) {
	fj.hist = append(fj.hist, &models.JobHistory{
		SeqNum: uint64(len(fj.hist) + 1),
		Type:   models.JobHistoryTypeJobLevel,
		JobID:  fj.job.ID,
		Event:  models.Event{Message: s.String(), Details: map[string]string{models.DetailsKeyNewState: s.String()}},
	})
}

// advance moves a job one poll forward.
func (f *fakeJobs) advance(fj *fakeJob) {
	state := fj.job.State.StateType
	if state.IsTerminal() {
		return
	}
	fj.polls++
	if state == models.JobStateTypePending {
		fj.job.State = models.NewJobState(models.JobStateTypeRunning)
		fj.history(models.JobStateTypeRunning)
		for i := 0; i < min(fj.job.Count, f.nodes); i++ {
			e := &models.Execution{
				ID:             fmt.Sprintf("e-%s-%d", fj.job.ID, i),
				JobID:          fj.job.ID,
				NodeID:         fmt.Sprintf("node-%d", i),
				PartitionIndex: i,
				ComputeState:   models.NewExecutionState(models.ExecutionStateRunning),
			}
			fj.execs = append(fj.execs, e)
			fj.hist = append(fj.hist, &models.JobHistory{SeqNum: uint64(len(fj.hist) + 1), Type: models.JobHistoryTypeExecutionLevel, JobID: fj.job.ID, ExecutionID: e.ID})
		}
		return
	}
	if fj.polls <= f.polls {
		return
	}
	text := DefaultText
	if f.outcome != "" {
		text = f.outcome
	}
	end := models.JobStateTypeCompleted
	if f.exit != 0 || len(fj.execs) < fj.job.Count {
		end = models.JobStateTypeFailed
	}
	spare := fj.job.Count // next node no partition ran on
	for _, e := range fj.execs {
		if e.NodeID == f.badNode && f.badNode != "" {
			// One active execution per partition: the failed one is
			// replaced by a new one on a node the job has not used.
			e.ComputeState = models.NewExecutionState(models.ExecutionStateFailed)
			if spare >= f.nodes {
				end = models.JobStateTypeFailed
				continue
			}
			retry := &models.Execution{
				ID: e.ID + "-retry", JobID: e.JobID, NodeID: fmt.Sprintf("node-%d", spare), PartitionIndex: e.PartitionIndex,
				RunOutput:    &models.RunCommandResult{STDOUT: text, ExitCode: f.exit},
				ComputeState: models.NewExecutionState(models.ExecutionStateCompleted),
			}
			spare++
			fj.execs = append(fj.execs, retry)
			continue
		}
		e.RunOutput = &models.RunCommandResult{STDOUT: text, ExitCode: f.exit}
		if f.exit != 0 {
			e.ComputeState = models.NewExecutionState(models.ExecutionStateFailed)
		} else {
			e.ComputeState = models.NewExecutionState(models.ExecutionStateCompleted)
			e.PublishedResult = &models.SpecConfig{Type: models.StorageSourceURL, Params: map[string]any{"URL": "http://results.invalid/" + e.ID + ".tar.gz"}}
		}
	}
	fj.job.State = models.NewJobState(end)
	if end == models.JobStateTypeFailed && len(fj.execs) < fj.job.Count {
		fj.job.State = fj.job.State.WithMessage(fmt.Sprintf("not enough nodes to run job. requested: %d, available: %d", fj.job.Count, f.nodes))
	}
	fj.history(end)
}

func (f *fakeJobs) lookup(id string) (*fakeJob, error) {
	fj, ok := f.jobs[id]
	if !ok {
		return nil, notFound(id)
	}
	return fj, nil
}

func (f *fakeJobs) Get(ctx context.Context, r *apimodels.GetJobRequest) (*apimodels.GetJobResponse, error) {
	if err := f.enter(ctx, "Get"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fj, err := f.lookup(r.JobIDOrName)
	if err != nil {
		return nil, err
	}
	if r.Include == "" {
		f.advance(fj)
	}
	j := *fj.job
	resp := &apimodels.GetJobResponse{Job: &j}
	switch r.Include {
	case "executions":
		resp.Executions = &apimodels.ListJobExecutionsResponse{Items: fj.execs}
	case "history":
		resp.History = &apimodels.ListJobHistoryResponse{Items: fj.hist}
	case "":
	default:
		return nil, fmt.Errorf("HTTP 400: bad include %q: %w", r.Include, ErrBadRequest)
	}
	return resp, nil
}

func (f *fakeJobs) List(ctx context.Context, r *apimodels.ListJobsRequest) (*apimodels.ListJobsResponse, error) {
	if err := f.enter(ctx, "List"); err != nil {
		return nil, err
	}
	// As the real job store: sort every job by created_at (the default)
	// or modified_at, ascending unless Reverse, refuse other orders, then
	// filter by the selector, then cut to the limit.
	var key func(j *models.Job) int64
	switch r.OrderBy {
	case "", "created_at":
		key = func(j *models.Job) int64 { return j.CreateTime }
	case "modified_at":
		key = func(j *models.Job) int64 { return j.ModifyTime }
	default:
		return nil, fmt.Errorf("HTTP 400: OrderBy %s not supported for listJobs: %w", r.OrderBy, ErrBadRequest)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	all := make([]*models.Job, 0, len(f.jobs))
	for _, fj := range f.jobs {
		j := *fj.job
		all = append(all, &j)
	}
	slices.SortStableFunc(all, func(a, b *models.Job) int {
		c := cmp.Compare(key(a), key(b))
		if r.Reverse {
			c = -c
		}
		return c
	})
	var items []*models.Job
	for _, j := range all {
		if r.Limit > 0 && uint32(len(items)) >= r.Limit {
			break
		}
		matches := true
		for _, req := range r.Labels {
			matches = matches && req.Matches(labels.Set(j.Labels))
		}
		if matches {
			items = append(items, j)
		}
	}
	return &apimodels.ListJobsResponse{Items: items}, nil
}

func (f *fakeJobs) History(ctx context.Context, r *apimodels.ListJobHistoryRequest) (*apimodels.ListJobHistoryResponse, error) {
	if err := f.enter(ctx, "History"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fj, err := f.lookup(r.JobIDOrName)
	if err != nil {
		return nil, err
	}
	return &apimodels.ListJobHistoryResponse{Items: slices.Clone(fj.hist)}, nil
}

func (f *fakeJobs) Executions(ctx context.Context, r *apimodels.ListJobExecutionsRequest) (*apimodels.ListJobExecutionsResponse, error) {
	if err := f.enter(ctx, "Executions"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fj, err := f.lookup(r.JobIDOrName)
	if err != nil {
		return nil, err
	}
	return &apimodels.ListJobExecutionsResponse{Items: slices.Clone(fj.execs)}, nil
}

func (f *fakeJobs) Results(ctx context.Context, r *apimodels.ListJobResultsRequest) (*apimodels.ListJobResultsResponse, error) {
	if err := f.enter(ctx, "Results"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fj, err := f.lookup(r.JobID)
	if err != nil {
		return nil, err
	}
	var items []*models.SpecConfig
	for _, e := range fj.execs {
		if e.PublishedResult != nil {
			items = append(items, e.PublishedResult)
		}
	}
	return &apimodels.ListJobResultsResponse{Items: items}, nil
}

func (f *fakeJobs) Stop(ctx context.Context, r *apimodels.StopJobRequest) (*apimodels.StopJobResponse, error) {
	if err := f.enter(ctx, "Stop"); err != nil {
		return nil, err
	}
	if f.stopDelay > 0 {
		select {
		case <-time.After(f.stopDelay):
		case <-ctx.Done():
			return nil, fmt.Errorf("request timed out: %w", ErrTimeout)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fj, err := f.lookup(r.JobID)
	if err != nil {
		return nil, err
	}
	if fj.job.State.StateType.IsTerminal() {
		return nil, fmt.Errorf("HTTP 400: cannot stop job in state %s: %w", fj.job.State.StateType, ErrBadRequest)
	}
	fj.job.State = models.NewJobState(models.JobStateTypeStopped)
	for _, e := range fj.execs {
		e.ComputeState = models.NewExecutionState(models.ExecutionStateCancelled)
	}
	fj.history(models.JobStateTypeStopped)
	f.stops = append(f.stops, r.JobID)
	if f.stopLost != nil {
		return nil, f.stopLost
	}
	return &apimodels.StopJobResponse{}, nil
}

func (f *fakeJobs) state(id string) models.JobStateType {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jobs[id].job.State.StateType
}

// fakeFetcher serves every URL as a result archive holding stdout.
type fakeFetcher struct {
	stdout string
	err    error
	raw    []byte // served as is when set
}

func (f fakeFetcher) Fetch(ctx context.Context, url string) (io.ReadCloser, error) {
	if f.err != nil {
		return nil, f.err
	}
	if !strings.HasPrefix(url, "http://") {
		return nil, fmt.Errorf("fetch %q: not an http URL", url)
	}
	if f.raw != nil {
		return io.NopCloser(bytes.NewReader(f.raw)), nil
	}
	return io.NopCloser(bytes.NewReader(tarGz(map[string]string{"stdout": f.stdout, "stderr": "", "exitCode": "0"}))), nil
}

func tarGz(files map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}
