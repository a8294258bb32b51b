package gcp_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/fakegcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/gcp"
)

// The metadata package reads GCE_METADATA_HOST from the process
// environment, so these tests must set it (t.Setenv) and cannot run in
// parallel.

func startMetadata(t *testing.T, values map[string]string) *fakegcp.Metadata {
	t.Helper()
	md, err := fakegcp.StartMetadata(values)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(md.Close)
	t.Setenv("GCE_METADATA_HOST", md.Host())
	return md
}

func TestMetadataCloudRun(t *testing.T) {
	md := startMetadata(t, fakegcp.CloudRun())
	ctx := context.Background()
	if !gcp.OnGCP(ctx) {
		t.Fatal("OnGCP = false with GCE_METADATA_HOST set")
	}
	project, err := gcp.MetadataProject(ctx)
	if err != nil || project != "demo" {
		t.Fatalf("MetadataProject = %q, %v; want demo", project, err)
	}
	loc, err := gcp.MetadataLocation(ctx)
	if err != nil || loc != "europe-west4" {
		t.Fatalf("MetadataLocation = %q, %v; want europe-west4 (from projects/N/regions/R)", loc, err)
	}
	got := strings.Join(md.Requests(), ",")
	if got != "project/project-id,instance/region" {
		t.Errorf("metadata requests = %s", got)
	}
}

func TestMetadataZoneFallback(t *testing.T) {
	// A VM's metadata server has a zone but no instance/region.
	startMetadata(t, map[string]string{
		"project/project-id": "vm-project",
		"instance/zone":      "projects/42/zones/us-central1-b",
	})
	loc, err := gcp.MetadataLocation(context.Background())
	if err != nil || loc != "us-central1-b" {
		t.Fatalf("MetadataLocation = %q, %v; want the zone us-central1-b", loc, err)
	}
	p, err := gcp.MetadataProject(context.Background())
	if err != nil || p != "vm-project" {
		t.Fatalf("MetadataProject = %q, %v; want vm-project (no process-wide cache)", p, err)
	}
}

func TestMetadataMissing(t *testing.T) {
	startMetadata(t, map[string]string{})
	if _, err := gcp.MetadataProject(context.Background()); err == nil {
		t.Error("MetadataProject with no project: no error")
	}
	if _, err := gcp.MetadataLocation(context.Background()); err == nil {
		t.Error("MetadataLocation with neither region nor zone: no error")
	}
}

func TestFakeMetadataNeedsFlavorHeader(t *testing.T) {
	md, err := fakegcp.StartMetadata(fakegcp.CloudRun())
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	resp, err := http.Get("http://" + md.Host() + "/computeMetadata/v1/project/project-id")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("no Metadata-Flavor header: HTTP %d, want 403", resp.StatusCode)
	}
}

const (
	found   = "projects/demo/secrets/bacalhau-api-key/versions/latest"
	missing = "projects/demo/secrets/nope/versions/latest"
	denied  = "projects/demo/secrets/other-team/versions/3"
)

func TestReadSecret(t *testing.T) {
	sm, err := fakegcp.StartSecretManager(map[string]string{found: "s3cr3t-key\n"}, denied)
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	key, err := gcp.ReadSecret(ctx, found, sm.Addr(), 0)
	if err != nil || key != "s3cr3t-key" {
		t.Fatalf("ReadSecret(found) = %q, %v; want the payload without its newline", key, err)
	}
	for _, tc := range []struct {
		name, want string
	}{
		{missing, "does not exist or is not enabled"},
		{denied, "roles/secretmanager.secretAccessor"},
	} {
		_, err := gcp.ReadSecret(ctx, tc.name, sm.Addr(), 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("ReadSecret(%s) error = %v; want it to name the version and say %q", tc.name, err, tc.want)
		}
	}
	if n := sm.Requests(); n != 3 {
		t.Errorf("secret manager saw %d requests, want 3", n)
	}
}

func TestReadSecretDeadline(t *testing.T) {
	// Nothing listens: the read gives up at the caller's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := gcp.ReadSecret(ctx, found, "127.0.0.1:1", 0)
	if err == nil {
		t.Fatal("no error from an endpoint that is not there")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ReadSecret took %s past a 300ms deadline", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("error (not a deadline): %v", err)
	}
}
