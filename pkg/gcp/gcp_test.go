package gcp_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

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

	key, err := gcp.ReadSecret(ctx, found, sm.Addr(), gcp.SecretBudget)
	if err != nil || key != "s3cr3t-key" {
		t.Fatalf("ReadSecret(found) = %q, %v; want the payload without its newline", key, err)
	}
	for _, tc := range []struct {
		name, want string
	}{
		{missing, "does not exist or is not enabled"},
		{denied, "roles/secretmanager.secretAccessor"},
	} {
		_, err := gcp.ReadSecret(ctx, tc.name, sm.Addr(), gcp.SecretBudget)
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
	_, err := gcp.ReadSecret(ctx, found, "127.0.0.1:1", gcp.SecretBudget)
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

// Bad or hostile metadata replies: refused with one error naming the
// metadata server, never taken as a project or a location.
func TestMetadataRepliesAreBoundedAndChecked(t *testing.T) {
	for _, tc := range []struct {
		name  string
		path  string
		reply fakegcp.Reply
		want  string
	}{
		{"huge project", "project/project-id", fakegcp.Reply{Status: 200, Body: []byte(strings.Repeat("a", 8<<20))}, "over 4096 bytes"},
		{"html project", "project/project-id", fakegcp.Reply{Status: 200, Body: []byte("<html>hello</html>")}, "not a project ID"},
		{"redirected project", "project/project-id", fakegcp.Reply{Status: 302, Header: map[string]string{"Location": "/computeMetadata/v1/project/other"}}, "redirect"},
		{"huge error page", "project/project-id", fakegcp.Reply{Status: 500, Body: []byte(strings.Repeat("e", 1<<20))}, "over 4096 bytes"},
		{"region markup", "instance/region", fakegcp.Reply{Status: 200, Body: []byte("projects/1/regions/<b>x</b>")}, "not a region"},
		{"region path", "instance/region", fakegcp.Reply{Status: 200, Body: []byte("projects/1/regions/../../x")}, "not a region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := startMetadata(t, map[string]string{"project/other": "demo", "project/project-id": "demo", "instance/region": "projects/1/regions/europe-west4"})
			md.Answer(tc.path, tc.reply)
			var err error
			if strings.HasPrefix(tc.path, "project/") {
				_, err = gcp.MetadataProject(context.Background())
			} else {
				_, err = gcp.MetadataLocation(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), "metadata server") || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 1024 {
				t.Errorf("error %.300v; want one naming the metadata server and saying %q", err, tc.want)
			}
			if slices.Contains(md.Requests(), "project/other") {
				t.Error("the redirect was followed")
			}
		})
	}
}

func TestMetadataLocationForms(t *testing.T) {
	for in, want := range map[string]string{
		"projects/123/regions/europe-west4":          "europe-west4",
		"europe-west4":                               "europe-west4",
		"projects/1/regions/northamerica-northeast1": "northamerica-northeast1",
	} {
		startMetadata(t, map[string]string{"instance/region": in})
		if got, err := gcp.MetadataLocation(context.Background()); err != nil || got != want {
			t.Errorf("region %q: %q, %v; want %q", in, got, err, want)
		}
	}
}

// A key no HTTP header can carry, or a Secret Manager that fails or
// hangs, is an error within the key's budget; the error never shows the key.
func TestReadSecretFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		break_  func(*fakegcp.SecretManager)
		want    string
	}{
		{"inner newline", "k3y-one\nk3y-two", nil, "control character"},
		{"escape", "k3y-\x1b[31m", nil, "control character"},
		{"not utf-8", "k3y-\xff\xfe", nil, "not UTF-8"},
		{"unavailable", "k3y-ok", func(s *fakegcp.SecretManager) { s.Fail(codes.Unavailable, "down") }, "Unavailable"},
		{"quota", "k3y-ok", func(s *fakegcp.SecretManager) { s.Fail(codes.ResourceExhausted, "quota") }, "ResourceExhausted"},
		{"hang", "k3y-ok", func(s *fakegcp.SecretManager) { s.Hang() }, "no answer from Secret Manager within 500ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm, err := fakegcp.StartSecretManager(map[string]string{found: tc.payload})
			if err != nil {
				t.Fatal(err)
			}
			defer sm.Close()
			if tc.break_ != nil {
				tc.break_(sm)
			}
			_, err = gcp.ReadSecret(context.Background(), found, sm.Addr(), 500*time.Millisecond)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "k3y") {
				t.Errorf("error %v; want one saying %q without the key", err, tc.want)
			}
			if n := sm.Requests(); tc.want == "Unavailable" && n != 3 {
				t.Errorf("%d attempts, want 3", n)
			}
		})
	}
}
