package scenarios

import (
	"fmt"
	"strings"

	"github.com/bacalhau-project/bacalhau/pkg/models"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

const (
	maxResultTypeText   = 40
	maxResultParamsText = 200
)

// downloadableURL picks the URL to download a job's result from, out of
// the published results the API listed:
//
//   - Params.URL of any result (the local publisher's "urlDownload");
//   - Params.PreSignedURL of an "s3PreSigned" result, in both releases'
//     layouts: v1.7.0 nests the S3 location under Params.SourceSpec,
//     v1.9.x adds Managed; the URL itself is always a top-level string.
//
// A result that offers nothing to download is the network publisher's
// setup, class publisher: type "s3" (the orchestrator has no S3
// credentials to sign it, or the key is not a .tar.gz), no result at all,
// or a type the canary cannot download over HTTP (named). A URL field of
// the wrong JSON type is a reply that makes no sense: protocol.
func downloadableURL(jobID string, items []*models.SpecConfig) (string, error) {
	var types []string
	s3Where, s3Fix := "", "" // the first unsigned S3 result, and what would sign it
	for _, r := range items {
		if r == nil {
			continue
		}
		types = append(types, text.Quote(r.Type, maxResultTypeText))
		field := "URL"
		if r.Type == models.StorageSourceS3PreSigned {
			field = "PreSignedURL"
		}
		switch u := r.Params[field].(type) {
		case string:
			if u != "" {
				return u, nil
			}
		case nil:
		default:
			return "", fmt.Errorf("listing results: result of type %s has a %s that is a %T, not a string: %w",
				text.Quote(r.Type, maxResultTypeText), field, u, ErrProtocol)
		}
		if r.Type == models.StorageSourceS3 && s3Where == "" {
			key, _ := r.Params["Key"].(string)
			bucket, _ := r.Params["Bucket"].(string)
			s3Where = fmt.Sprintf("s3://%s/%s", text.Clip(bucket, maxResultParamsText), text.Clip(key, maxResultParamsText))
			s3Fix = "the network's operator must give the orchestrator S3 credentials " +
				"(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a role with s3:GetObject on the bucket) so it hands results out as pre-signed URLs, " +
				"and keep Publishers.Types.S3.PreSignedURLDisabled off"
			if key != "" && !strings.HasSuffix(key, ".tar.gz") {
				s3Fix = "the orchestrator signs only .tar.gz keys, so the network's S3 publisher key must end in .tar.gz"
			}
		}
	}
	switch {
	case s3Where != "":
		return "", fmt.Errorf("listing results: job %s's result is in S3 at %s, unsigned: %s: %w",
			text.Quote(jobID, maxJobIDText), text.Quote(s3Where, 2*maxResultParamsText+10), s3Fix, ErrPublisher)
	case len(types) == 0:
		return "", fmt.Errorf("listing results: job %s published nothing: the network's operator must give jobs a default publisher "+
			"(JobDefaults.Batch.Task.Publisher, e.g. S3) or the canary CANARY_PUBLISHER=local: %w", text.Quote(jobID, maxJobIDText), ErrPublisher)
	}
	return "", fmt.Errorf("listing results: job %s published no downloadable result (types %s; the canary downloads %q with a URL and %q): %w",
		text.Quote(jobID, maxJobIDText), strings.Join(types, ", "), models.StorageSourceURL, models.StorageSourceS3PreSigned, ErrPublisher)
}
