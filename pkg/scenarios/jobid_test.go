package scenarios

import (
	"errors"
	"strings"
	"testing"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

func TestCheckJobID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"j-0b5e8c1a-7d4f-4c8e-9a3b-2f6d1e0c9b7a", true},
		{"j_1", true},
		{strings.Repeat("a", maxJobIDText), true},
		{"", false},
		{".", false},
		{"..", false},
		{"../../../admin", false},
		{"j-1?x=1", false},
		{"%2e%2e", false},
		{"j 1", false},
		{"j-ü", false},
		{"-j", false},
		{"j-1\n", false},
		{strings.Repeat("a", maxJobIDText+1), false},
	} {
		err := checkJobID(tc.id)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrProtocol) {
			t.Errorf("checkJobID(%.40q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestJobListChecks(t *testing.T) {
	t.Parallel()
	job := func(id string, created int64) *models.Job {
		return &models.Job{ID: id, CreateTime: created, State: models.NewJobState(models.JobStateTypeCompleted)}
	}
	for _, tc := range []struct {
		name  string
		items []*models.Job
		ok    bool
	}{
		{"distinct", []*models.Job{job("j-2", 2), job("j-1", 1)}, true},
		{"duplicate", []*models.Job{job("j-1", 2), job("j-1", 1)}, false},
		{"duplicate apart", []*models.Job{job("j-1", 3), job("j-2", 2), job("j-1", 1)}, false},
	} {
		err := checkJobList(&apimodels.ListJobsResponse{Items: tc.items})
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
