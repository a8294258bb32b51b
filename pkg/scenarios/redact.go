package scenarios

import (
	"cmp"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// Redacted replaces a secret wherever the canary writes text.
const Redacted = "[REDACTED]"

// signedParam matches the query parameters of signed or token-bearing
// URLs (S3 and GCS presigned URLs, SAS-style signatures, bearer tokens).
var signedParam = regexp.MustCompile(`(?i)([?&;](?:x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|` +
	`googleaccessid|signature|sig|token|access_token|auth|key|api_key|apikey|password|secret)=)[^&#\s"'\\]*`)

// userinfo matches the user:password@ part of a URL.
var userinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s"'@\\]*@`)

// SanitizeURL hides a URL's credentials (userinfo, signature and token
// query parameters) so it can be logged; Redact does it to any text.
func SanitizeURL(s string) string {
	s = userinfo.ReplaceAllString(s, "${1}"+Redacted+"@")
	return signedParam.ReplaceAllString(s, "${1}"+Redacted)
}

// Redactor hides secrets in every form a text may carry them: raw,
// Go-quoted (%q and %+q), JSON-escaped, URL-encoded, plus URL credentials.
// A secret is the configuration's (pkg/config) or Secret Manager's (pkg/gcp):
// UTF-8 without control characters or surrounding white space, so it needs
// no trimmed form; the basic-auth header's base64 comes as a secret of its own.
type Redactor struct {
	forms []string // longest first
}

// NewRedactor returns a Redactor for secrets.
func NewRedactor(secrets ...string) *Redactor {
	var forms []string
	inner := func(q string) string { return q[1 : len(q)-1] }
	for _, v := range secrets {
		if v == "" {
			continue
		}
		j, _ := json.Marshal(v) // a string always marshals
		forms = append(forms, v, inner(strconv.Quote(v)), inner(strconv.QuoteToASCII(v)), inner(string(j)),
			url.QueryEscape(v), url.PathEscape(v))
	}
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	return &Redactor{forms: slices.Compact(forms)}
}

// Redact returns s without any form of the secrets or URL credentials.
func (r *Redactor) Redact(s string) string {
	if r != nil {
		for _, f := range r.forms {
			s = strings.ReplaceAll(s, f, Redacted)
		}
		s = r.redactClipped(s)
	}
	return SanitizeURL(s)
}

// redactClipped replaces, before each clip note, the longest start of a
// secret form (at least minPrefix bytes) that the text ends with there: a
// server's text quoted in an error is clipped before the run redacts it.
// (The runner clips the whole error only after redacting it.) Linear in
// the text and the forms' length.
func (r *Redactor) redactClipped(s string) string {
	parts := strings.Split(s, text.ClipNote)
	for i, before := range parts[:len(parts)-1] {
		cut := 0
		for _, f := range r.forms {
			if k := overlap(before, f[:len(f)-1]); k >= minPrefix && k > cut {
				cut = k
			}
		}
		if cut > 0 {
			parts[i] = before[:len(before)-cut] + Redacted
		}
	}
	return strings.Join(parts, text.ClipNote)
}

// overlap is the length of the longest suffix of s that is a prefix of
// p, found with the Knuth-Morris-Pratt failure function in O(len(p)).
func overlap(s, p string) int {
	if len(s) > len(p) {
		s = s[len(s)-len(p):]
	}
	fail := make([]int, len(p))
	for i, k := 1, 0; i < len(p); i++ {
		for k > 0 && p[i] != p[k] {
			k = fail[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		fail[i] = k
	}
	k := 0
	for i := 0; i < len(s); i++ {
		for k > 0 && (k == len(p) || s[i] != p[k]) {
			k = fail[k-1]
		}
		if k < len(p) && s[i] == p[k] {
			k++
		}
	}
	return k
}

// minPrefix is the shortest start of a secret that Redact hides before a clip.
const minPrefix = 4
