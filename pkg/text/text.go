// Package text bounds and escapes text that came from outside the canary
// (Bacalhau's replies, Google's messages, the metadata server's pages)
// before it goes into an error, a log line or a terminal: one rule for all.
package text

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// ClipNote starts the note Clip leaves where it cut.
const ClipNote = "…["

// Quote bounds untrusted text to max bytes (valid UTF-8, cut in the
// middle of nothing) and quotes it Go-style, so a newline, a quote, an
// escape sequence or another control character in it can neither break a
// line nor forge one, in a log line as on a terminal.
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
	return strings.ToValidUTF8(s[:cut], "\uFFFD") + ClipNote + strconv.Itoa(len(s)-cut) + " bytes cut]"
}
