// Package gcp holds the canary's Google Cloud plumbing: client options
// (the real API, or a plaintext endpoint for emulators and tests), the
// project and region from the metadata server, and the Bacalhau API key
// from Secret Manager.
package gcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/compute/metadata"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// ClientOptions are the options of a Google Cloud gRPC client: none for
// the real API (Application Default Credentials), or, with endpoint set
// (host:port), a plaintext unauthenticated connection to it — no
// credentials are looked up, so nothing asks the metadata server.
func ClientOptions(endpoint string) []option.ClientOption {
	if endpoint == "" {
		return nil
	}
	return []option.ClientOption{
		option.WithEndpoint(endpoint),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// metadataBudget bounds every question to the metadata server.
const metadataBudget = 5 * time.Second

// OnGCP reports whether a metadata server is there to ask: true at once
// when GCE_METADATA_HOST is set, else a short probe.
func OnGCP(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, metadataBudget)
	defer cancel()
	return metadata.OnGCEWithContext(ctx)
}

// MetadataProject asks the metadata server for the project ID.
func MetadataProject(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataBudget)
	defer cancel()
	// Not metadata.ProjectID: that caches the first answer for the process.
	p, err := metadata.GetWithContext(ctx, "project/project-id")
	if err != nil {
		return "", fmt.Errorf("project from the metadata server: %w", err)
	}
	if p = strings.TrimSpace(p); p == "" {
		return "", errors.New("project from the metadata server: empty reply")
	}
	return p, nil
}

// MetadataLocation asks the metadata server where this runs: the region
// (Cloud Run answers instance/region with projects/N/regions/R), or, on a
// VM that has no region entry, its zone.
func MetadataLocation(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataBudget)
	defer cancel()
	region, err := metadata.GetWithContext(ctx, "instance/region")
	if err == nil {
		if r := lastSegment(region); r != "" {
			return r, nil
		}
		return "", fmt.Errorf("region from the metadata server: unexpected reply %q", region)
	}
	var undefined metadata.NotDefinedError
	if !errors.As(err, &undefined) {
		return "", fmt.Errorf("region from the metadata server: %w", err)
	}
	zone, err := metadata.GetWithContext(ctx, "instance/zone")
	if err != nil {
		return "", fmt.Errorf("zone from the metadata server: %w", err)
	}
	if zone = lastSegment(zone); zone == "" {
		return "", errors.New("zone from the metadata server: empty reply")
	}
	return zone, nil
}

func lastSegment(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// ReadSecret reads one secret version (projects/P/secrets/S/versions/V)
// from Secret Manager and returns its payload without surrounding white
// space. endpoint overrides the API as in ClientOptions. The error never
// holds the payload; it says what to fix.
func ReadSecret(ctx context.Context, name, endpoint string) (string, error) {
	client, err := secretmanager.NewClient(ctx, ClientOptions(endpoint)...)
	if err != nil {
		return "", fmt.Errorf("secret manager client: %w", err)
	}
	defer client.Close()
	resp, err := client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		return "", secretError(name, err)
	}
	value := strings.TrimSpace(string(resp.GetPayload().GetData()))
	if value == "" {
		return "", fmt.Errorf("secret version %s is empty", name)
	}
	return value, nil
}

func secretError(name string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("reading secret version %s: %w", name, err)
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("reading secret version %s: %w", name, err)
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("secret version %s does not exist or is not enabled (Secret Manager: %s)", name, st.Message())
	case codes.PermissionDenied:
		return fmt.Errorf("permission denied reading secret version %s: the service account needs roles/secretmanager.secretAccessor on the secret (Secret Manager: %s)", name, st.Message())
	case codes.Unauthenticated:
		return fmt.Errorf("reading secret version %s: no valid credentials (Secret Manager: %s)", name, st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("reading secret version %s: %w", name, context.DeadlineExceeded)
	}
	return fmt.Errorf("reading secret version %s: %s: %s", name, st.Code(), st.Message())
}
