package scenarios

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Redacted replaces a secret wherever the canary writes text.
const Redacted = "[REDACTED]"

// Quote bounds untrusted text to max bytes (valid UTF-8, cut in the
// middle of nothing) and quotes it Go-style, so a newline, a quote or a
// control character in it can neither break a line nor forge one.
func Quote(s string, max int) string {
	return strconv.Quote(Clip(s, max))
}

// Clip keeps the first max bytes of s, on a rune boundary, noting the cut.
func Clip(s string, max int) string {
	if len(s) <= max {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "\uFFFD") + clipNote + strconv.Itoa(len(s)-cut) + " bytes cut]"
}

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
			for _, f := range r.forms {
				if len(f) <= minPrefix || !strings.Contains(s, f[:minPrefix]) {
					continue
				}
				for k := len(f) - 1; k >= minPrefix; k-- {
					s = strings.ReplaceAll(s, f[:k]+clipNote, Redacted+clipNote)
				}
			}
		}
	}
	return sanitizeURLs(s)
}

// clipNote starts the note Clip leaves where it cut.
const clipNote = "…["

// minPrefix is the shortest start of a secret that Redact hides before a clip.
const minPrefix = 4
