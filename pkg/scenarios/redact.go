package scenarios

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
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
// query parameters) so it can be logged.
func SanitizeURL(u string) string {
	return sanitizeURLs(u)
}

func sanitizeURLs(s string) string {
	s = userinfo.ReplaceAllString(s, "${1}"+Redacted+"@")
	return signedParam.ReplaceAllString(s, "${1}"+Redacted)
}

// Redactor hides secrets in every form a text may carry them: raw,
// trimmed, Go-quoted (%q), JSON-escaped, URL-encoded, and what the caller
// adds (the basic-auth header's base64), plus URL credentials.
type Redactor struct {
	forms []string // longest first
}

// NewRedactor returns a Redactor for secrets.
func NewRedactor(secrets ...string) *Redactor {
	seen := map[string]bool{}
	var forms []string
	add := func(f string) {
		if f != "" && !seen[f] {
			seen[f] = true
			forms = append(forms, f)
		}
	}
	for _, s := range secrets {
		for _, v := range []string{s, strings.TrimSpace(s)} {
			if v == "" {
				continue
			}
			add(v)
			q := strconv.Quote(v)
			add(q[1 : len(q)-1])
			q = strconv.QuoteToASCII(v)
			add(q[1 : len(q)-1])
			if j, err := json.Marshal(v); err == nil {
				add(string(j[1 : len(j)-1]))
			}
			var jb strings.Builder
			enc := json.NewEncoder(&jb)
			enc.SetEscapeHTML(false)
			if enc.Encode(v) == nil {
				j := strings.TrimSuffix(jb.String(), "\n")
				add(j[1 : len(j)-1])
			}
			add(url.QueryEscape(v))
			add(url.PathEscape(v))
			add(base64.StdEncoding.EncodeToString([]byte(v)))
		}
	}
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return &Redactor{forms: forms}
}

// Redact returns s without any form of the secrets or URL credentials.
func (r *Redactor) Redact(s string) string {
	if r != nil {
		for _, f := range r.forms {
			s = strings.ReplaceAll(s, f, Redacted)
		}
		// A text clipped in the middle of a secret keeps its start: hide
		// that too, where a clip note follows it.
		if strings.Contains(s, clipNote) {
			s = r.redactClipped(s)
		}
	}
	return sanitizeURLs(s)
}

// redactClipped replaces, before each clip note, the longest start of a
// secret form (at least minPrefix bytes) that the text ends with there: a
// server's text quoted in an error is clipped before the run redacts it.
// (The runner clips the whole error only after redacting it.) Linear in
// the text and the forms' length.
func (r *Redactor) redactClipped(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, clipNote)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		before := s[:i]
		cut := 0
		for _, f := range r.forms {
			if k := overlap(before, f[:len(f)-1]); k >= minPrefix && k > cut {
				cut = k
			}
		}
		b.WriteString(before[:len(before)-cut])
		if cut > 0 {
			b.WriteString(Redacted)
		}
		b.WriteString(clipNote)
		s = s[i+len(clipNote):]
	}
}

// overlap is the length of the longest suffix of text that is a prefix of
// p, found with the Knuth-Morris-Pratt failure function in O(len(p)).
func overlap(text, p string) int {
	if len(text) > len(p) {
		text = text[len(text)-len(p):]
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
	for i := 0; i < len(text); i++ {
		for k > 0 && (k == len(p) || text[i] != p[k]) {
			k = fail[k-1]
		}
		if k < len(p) && text[i] == p[k] {
			k++
		}
	}
	return k
}

// clipNote starts the note text.Clip leaves where it cut.
const clipNote = text.ClipNote

// minPrefix is the shortest start of a secret that Redact hides before a clip.
const minPrefix = 4
