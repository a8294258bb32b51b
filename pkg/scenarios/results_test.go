package scenarios

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bacalhau-project/bacalhau/pkg/models"
)

// The published results below are the JSON the releases' APIs send: the
// S3 layouts are what structs.Map makes of v1.7.0's and v1.9.4's
// PreSignedResultSpec (the embedded SourceSpec nested under its name).
const (
	signedV17 = `{"Type":"s3PreSigned","Params":{"PreSignedURL":"http://10.64.0.2:8333/results/canary/j-1/e-1.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T190000Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=abc123",` +
		`"SourceSpec":{"Bucket":"results","ChecksumSHA256":"","Endpoint":"http://10.64.0.2:8333","Filter":"","Key":"canary/j-1/e-1.tar.gz","Region":"us-east-1","VersionID":""}}}`
	signedV19 = `{"Type":"s3PreSigned","Params":{"Managed":false,"PreSignedURL":"http://10.64.0.2:8333/results/canary/j-1/e-1.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Checksum-Mode=ENABLED&X-Amz-Credential=AKID%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T190000Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&x-id=GetObject&X-Amz-Signature=abc123",` +
		`"SourceSpec":{"Bucket":"results","ChecksumSHA256":"","Endpoint":"http://10.64.0.2:8333","Filter":"","Key":"canary/j-1/e-1.tar.gz","Partition":{"Type":0,"Pattern":"","DateFormat":""},"Region":"us-east-1","VersionID":""}}}`
	unsignedS3 = `{"Type":"s3","Params":{"Bucket":"results","Key":"canary/j-1/e-1.tar.gz","Endpoint":"http://10.64.0.2:8333","Region":"us-east-1"}}`
	localURL   = `{"Type":"urlDownload","Params":{"URL":"http://10.64.0.2:6001/e-1.tar.gz"}}`
)

func TestDownloadableURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		items   []string
		want    string // URL prefix
		class   Class
		message []string // in the error
	}{
		{name: "local publisher", items: []string{localURL}, want: "http://10.64.0.2:6001/e-1.tar.gz"},
		{name: "v1.7.0 pre-signed", items: []string{signedV17}, want: "http://10.64.0.2:8333/results/canary/j-1/e-1.tar.gz?X-Amz-Algorithm="},
		{name: "v1.9.4 pre-signed", items: []string{signedV19}, want: "http://10.64.0.2:8333/results/canary/j-1/e-1.tar.gz?X-Amz-Algorithm="},
		{name: "first downloadable wins", items: []string{`{"Type":"ipfs","Params":{"CID":"Qm"}}`, signedV19}, want: "http://10.64.0.2:8333/"},
		{name: "s3 unsigned", items: []string{unsignedS3}, class: ErrPublisher,
			message: []string{"s3://results/canary/j-1/e-1.tar.gz", "unsigned", "orchestrator S3 credentials", "PreSignedURLDisabled"}},
		{name: "s3 key not tar.gz", items: []string{`{"Type":"s3","Params":{"Bucket":"b","Key":"canary/j-1/e-1"}}`}, class: ErrPublisher,
			message: []string{"only .tar.gz keys"}},
		{name: "nothing published", class: ErrPublisher, message: []string{"published nothing", "default publisher"}},
		{name: "null item only", items: []string{`null`}, class: ErrPublisher, message: []string{"published nothing"}},
		{name: "other type named", items: []string{`{"Type":"ipfs","Params":{"CID":"Qm"}}`}, class: ErrPublisher,
			message: []string{`types "ipfs"`, "urlDownload", "s3PreSigned"}},
		{name: "pre-signed URL empty", items: []string{`{"Type":"s3PreSigned","Params":{"PreSignedURL":""}}`}, class: ErrPublisher,
			message: []string{`types "s3PreSigned"`}},
		{name: "pre-signed URL not a string", items: []string{`{"Type":"s3PreSigned","Params":{"PreSignedURL":42}}`}, class: ErrProtocol,
			message: []string{"PreSignedURL that is a float64"}},
		{name: "URL not a string", items: []string{`{"Type":"urlDownload","Params":{"URL":["x"]}}`}, class: ErrProtocol},
		{name: "hostile type quoted", items: []string{`{"Type":"x\ny","Params":{}}`}, class: ErrPublisher, message: []string{`"x\ny"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var items []*models.SpecConfig
			for _, raw := range tc.items {
				var s *models.SpecConfig
				if err := json.Unmarshal([]byte(raw), &s); err != nil {
					t.Fatal(err)
				}
				items = append(items, s)
			}
			got, err := downloadableURL("j-1", items)
			if tc.class == "" {
				if err != nil || !strings.HasPrefix(got, tc.want) {
					t.Fatalf("got %q, %v; want %q…", got, err, tc.want)
				}
				return
			}
			if got != "" || !errors.Is(err, tc.class) {
				t.Fatalf("got %q, %v; want class %s", got, err, tc.class)
			}
			for _, m := range tc.message {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not say %q", err, m)
				}
			}
			if strings.ContainsAny(err.Error(), "\n") {
				t.Errorf("error has a raw newline: %q", err)
			}
		})
	}
}
