// Package gcp holds the canary's Google Cloud plumbing: client options
// (the real API, or a plaintext endpoint for emulators and tests), the
// project and region from the metadata server, and the Bacalhau API key
// from Secret Manager.
package gcp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"cloud.google.com/go/compute/metadata"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
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

// maxMetadataReply bounds a metadata reply's body: a project ID or a
// region path is a few dozen bytes.
const maxMetadataReply = 4 << 10

// metadataClient is the metadata library's client over an HTTP client
// that follows no redirect and reads at most maxMetadataReply bytes of a
// reply (headers at most 16 KiB): whatever answers at GCE_METADATA_HOST
// cannot send the canary elsewhere or fill its memory.
var metadataClient = metadata.NewClient(&http.Client{
	Timeout: metadataBudget,
	Transport: boundedTransport{&http.Transport{
		DialContext:            (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxResponseHeaderBytes: 16 << 10,
		ResponseHeaderTimeout:  metadataBudget,
		DisableCompression:     true,
	}},
	CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		return fmt.Errorf("the metadata server answered a redirect (to %s), which is not followed", text.Quote(req.URL.Redacted(), maxQuoted))
	},
})

// boundedTransport cuts every reply body at maxMetadataReply bytes (the
// library reads a body whole).
type boundedTransport struct{ http.RoundTripper }

func (t boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(req)
	if err == nil {
		resp.Body = http.MaxBytesReader(nil, resp.Body, maxMetadataReply)
	}
	return resp, err
}

// metadataGet asks the metadata server for one value, within metadataBudget.
func metadataGet(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataBudget)
	defer cancel()
	v, err := metadataClient.GetWithContext(ctx, path)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return "", fmt.Errorf("the metadata server's reply is over %d bytes", maxMetadataReply)
	}
	return v, err
}

// OnGCP reports whether a metadata server is there to ask: true at once
// when GCE_METADATA_HOST is set, else a short probe.
func OnGCP(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, metadataBudget)
	defer cancel()
	return metadata.OnGCEWithContext(ctx)
}

// MetadataProject asks the metadata server for the project ID.
func MetadataProject(ctx context.Context) (string, error) {
	// Not metadata.ProjectID: that caches the first answer for the process.
	p, err := metadataGet(ctx, "project/project-id")
	if err != nil {
		return "", fmt.Errorf("project from the metadata server: %w", err)
	}
	if p = strings.TrimSpace(p); !ProjectID.MatchString(p) {
		return "", fmt.Errorf("project from the metadata server: %s is not a project ID", text.Quote(p, maxQuoted))
	}
	return p, nil
}

// ProjectID matches a project ID (also domain-scoped, example.com:p) or number.
var ProjectID = regexp.MustCompile(`^[a-z0-9][a-z0-9.:-]{0,61}[a-z0-9]$`)

// location is a region (europe-west4) or a zone (europe-west4-a), alone or
// as the metadata server's projects/N/regions/R or projects/N/zones/Z.
var location = regexp.MustCompile(`^(?:projects/[0-9]{1,20}/(?:regions|zones)/)?([a-z]{2,20}(?:-[a-z]{2,20}){0,3}[0-9]{1,2}(?:-[a-z])?)$`)

// MetadataLocation asks the metadata server where this runs: the region
// (Cloud Run answers instance/region with projects/N/regions/R), or, on a
// VM that has no region entry, its zone.
func MetadataLocation(ctx context.Context) (string, error) {
	what := "region"
	v, err := metadataGet(ctx, "instance/region")
	if _, undefined := errors.AsType[metadata.NotDefinedError](err); undefined {
		what = "zone"
		v, err = metadataGet(ctx, "instance/zone")
	}
	if err != nil {
		return "", fmt.Errorf("%s from the metadata server: %w", what, err)
	}
	m := location.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return "", fmt.Errorf("%s from the metadata server: %s is not a %s", what, text.Quote(v, maxQuoted), what)
	}
	return m[1], nil
}

// SecretBudget bounds the read of the API key inside a run, all attempts
// together: a Secret Manager that hangs or refuses fails the run fast as
// the canary's, long before the run's deadline.
const SecretBudget = 10 * time.Second

// secretRetry tries an UNAVAILABLE or RESOURCE_EXHAUSTED read 3 times in
// all, after jittered pauses of at most 100 ms, then 200 ms (the
// library's own policy waits seconds, until its 60 s timeout).
var secretRetry = Retry(3, gax.Backoff{Initial: 100 * time.Millisecond, Multiplier: 2}, nil, codes.Unavailable, codes.ResourceExhausted)

// Retry is gax's retry on the given codes with backoff bo, for at most
// attempts calls in all. When last is not nil it gets each failed
// attempt's error: gax returns only the context's error when the deadline
// ends a pause between attempts.
func Retry(attempts int, bo gax.Backoff, last *error, cc ...codes.Code) gax.CallOption {
	return gax.WithRetry(func() gax.Retryer { return &capped{gax.OnCodes(cc, bo), attempts - 1, last} })
}

type capped struct {
	gax.Retryer
	left int
	last *error
}

func (r *capped) Retry(err error) (time.Duration, bool) {
	if r.last != nil {
		*r.last = err
	}
	if r.left <= 0 {
		return 0, false
	}
	r.left--
	return r.Retryer.Retry(err)
}

// ReadSecret reads one secret version (projects/P/secrets/S/versions/V)
// from Secret Manager within budget and returns its
// payload without surrounding white space, checked to be a value an HTTP
// header can carry. endpoint overrides the API as in ClientOptions. The
// error never holds the payload; it says what to fix.
func ReadSecret(ctx context.Context, name, endpoint string, budget time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	client, err := secretmanager.NewClient(ctx, ClientOptions(endpoint)...)
	if err != nil {
		return "", fmt.Errorf("secret manager client: %w", err)
	}
	defer client.Close()
	resp, err := client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name}, secretRetry)
	if err != nil {
		// gRPC's own deadline timer can end the call a moment before
		// ctx reports it: both are the budget running out.
		if ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded {
			return "", fmt.Errorf("reading secret version %s: no answer from Secret Manager within %s: %w", name, budget, context.DeadlineExceeded)
		}
		st, _ := status.FromError(err)
		hint := cmp.Or(secretHints[st.Code()], st.Code().String())
		return "", fmt.Errorf("reading secret version %s: %s (Secret Manager: %s)", name, hint, text.Quote(st.Message(), maxQuoted))
	}
	data := resp.GetPayload().GetData()
	if len(data) > maxSecretBytes {
		return "", fmt.Errorf("secret version %s holds %d bytes, more than Secret Manager allows (%d)", name, len(data), maxSecretBytes)
	}
	value := strings.TrimSpace(string(data))
	if value == "" {
		return "", fmt.Errorf("secret version %s is empty", name)
	}
	if problem := HeaderValueProblem(value); problem != "" {
		return "", fmt.Errorf("secret version %s %s; an HTTP header cannot carry it", name, problem)
	}
	return value, nil
}

// maxSecretBytes is Secret Manager's own limit on a payload.
const maxSecretBytes = 64 << 10

// HeaderValueProblem says why a credential cannot go in an HTTP header
// as it is ("" when it can): a control character (a newline, an escape
// sequence, DEL), or text that is not UTF-8. It never shows the value.
func HeaderValueProblem(v string) string {
	if !utf8.ValidString(v) {
		return "is not UTF-8 text"
	}
	for i, r := range v {
		if unicode.IsControl(r) {
			return fmt.Sprintf("holds a control character (U+%04X) at byte %d", r, i)
		}
	}
	return ""
}

// secretHints say what to fix when Secret Manager refuses a read.
var secretHints = map[codes.Code]string{
	codes.NotFound:         "it does not exist or is not enabled",
	codes.PermissionDenied: "permission denied: the service account needs roles/secretmanager.secretAccessor on the secret",
	codes.Unauthenticated:  "no valid credentials",
}

// maxQuoted bounds a text from Google's side quoted in an error.
const maxQuoted = 300
