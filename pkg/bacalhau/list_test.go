package bacalhau

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// bigJobs is a list reply of n user jobs, each carrying an inline input
// of size bytes (base64 of random data), newest first.
func bigJobs(t testing.TB, n, size int) []byte {
	raw := make([]byte, size*3/4)
	_, _ = rand.Read(raw)
	url := "data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(raw)
	var items []*models.Job
	for i := range n {
		items = append(items, &models.Job{
			ID: fmt.Sprintf("j-%d", i), Type: models.JobTypeBatch, Count: 1, CreateTime: int64(n - i),
			State:  models.NewJobState(models.JobStateTypeCompleted),
			Labels: map[string]string{"owner": "someone"},
			Tasks: []*models.Task{{Name: "t", Engine: &models.SpecConfig{Type: "wasm"},
				InputSources: []*models.InputSource{{Target: "/in", Source: &models.SpecConfig{Type: "inline", Params: map[string]any{"URL": url}}}}}},
		})
	}
	b, err := json.Marshal(apimodels.ListJobsResponse{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestListOfBigJobs reads ten jobs of 1 MiB each (five times the old
// bound in all, each input sixteen times the string cap): the job
// binary's peak RSS test (functions/job) reads ten of 10 MB.
func TestListOfBigJobs(t *testing.T) {
	t.Parallel()
	body := bigJobs(t, 10, 1<<20)
	for _, enc := range []string{"", "gzip"} {
		t.Run("encoding="+enc, func(t *testing.T) {
			t.Parallel()
			b := string(body)
			var h []string
			if enc == "gzip" {
				b, h = gz(body), []string{"Content-Encoding", "gzip"}
			}
			jobs := serve(t, reply(200, b, h...), func(o *Options) { o.Timeout = time.Minute })
			req := &apimodels.ListJobsRequest{}
			req.Limit = 10
			resp, err := jobs.List(t.Context(), req)
			if err != nil {
				t.Fatalf("list of ten 10 MB jobs: %v", err)
			}
			if len(resp.Items) != 10 || resp.Items[9].ID != "j-9" || resp.Items[0].State.StateType != models.JobStateTypeCompleted ||
				resp.Items[0].Labels["owner"] != "someone" || resp.Items[0].CreateTime != 10 {
				t.Errorf("items %d, first %+v: the fields the canary reads must survive", len(resp.Items), resp.Items[0])
			}
		})
	}
}

func TestListStillChecked(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxListString+1)
	for _, tc := range []struct{ name, body string }{
		{"html", "<html>502</html>"},
		{"cut", `{"Items":[{"ID":"j-1"`},
		{"cut-in-a-long-string", `{"Items":[{"ID":"j-1","Name":"` + long},
		{"control-char-in-a-long-string", `{"Items":[{"ID":"j-1","Name":"` + long + "\x01" + `"}]}`},
		{"bad-escape-in-a-long-string", `{"Items":[{"ID":"j-1","Name":"` + long + `\q"}]}`},
		{"bad-unicode-escape", `{"Items":[{"ID":"j-1","Name":"` + long + `\u12G4"}]}`},
		{"items-not-a-list", `{"Items":"x"}`},
		{"too-many-small-strings", `{"Items":[{"ID":"j-1","Meta":{` + strings.Repeat(`"k":"v",`, MaxReplyBytes/8) + `"k":"v"}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jobs := serve(t, reply(200, tc.body), func(o *Options) { o.Timeout = time.Minute })
			_, err := jobs.List(t.Context(), &apimodels.ListJobsRequest{})
			if got := scenarios.Classify(err); got != scenarios.ErrProtocol {
				t.Errorf("class %q (%v), want protocol", got, err)
			}
		})
	}
}

// BenchmarkListOfBigJobs: the time and allocations of reading ten 10 MB
// user jobs.
func BenchmarkListOfBigJobs(b *testing.B) {
	body := bigJobs(b, 10, 10<<20)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := dropLongStrings(strings.NewReader(string(body))); err != nil {
			b.Fatal(err)
		}
	}
}
