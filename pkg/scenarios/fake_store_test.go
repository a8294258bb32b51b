package scenarios

import (
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// TestFakeListsLikeTheStore: the fake orchestrator orders and cuts a job
// list as Bacalhau's job store does, so a scenario that forgets to ask for
// newest first is caught by the unit tests too.
func TestFakeListsLikeTheStore(t *testing.T) {
	t.Parallel()
	f := newFake()
	for range 15 {
		job, err := JobSpec{Engine: EngineWasm}.Build("list", "test", "run", 1, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Put(t.Context(), &apimodels.PutJobRequest{Job: job}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name        string
		req         apimodels.ListJobsRequest
		first, last string
		n           int
		wantRefused bool
	}{
		{"default order is oldest first", listReq(10, "", false), "j-1", "j-10", 10, false},
		{"created_at reversed is newest first", listReq(10, "created_at", true), "j-15", "j-6", 10, false},
		{"no limit", listReq(0, "modified_at", false), "j-1", "j-15", 15, false},
		{"unknown order", listReq(10, "name", false), "", "", 0, true},
	}
	for _, tt := range tests {
		resp, err := f.List(t.Context(), &tt.req)
		if tt.wantRefused {
			if err == nil || Classify(err) != ErrBadRequest {
				t.Errorf("%s: err %v (class %q), want a bad_request refusal", tt.name, err, Classify(err))
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		ids := func(js []*models.Job) (out []string) {
			for _, j := range js {
				out = append(out, j.ID)
			}
			return out
		}(resp.Items)
		if len(ids) != tt.n || ids[0] != tt.first || ids[len(ids)-1] != tt.last {
			t.Errorf("%s: got %v, want %d jobs from %s to %s", tt.name, ids, tt.n, tt.first, tt.last)
		}
	}
}

func listReq(limit uint32, orderBy string, reverse bool) apimodels.ListJobsRequest {
	var r apimodels.ListJobsRequest
	r.Limit, r.OrderBy, r.Reverse = limit, orderBy, reverse
	return r
}
