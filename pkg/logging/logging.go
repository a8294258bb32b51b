// Package logging builds the canary's JSON logger: log/slog lines with the
// keys Cloud Logging reads (severity, message, time), each text field
// bounded so that no line comes near Cloud Logging's 256 KB entry limit
// (it drops larger entries, and the line that explains a run with them).
package logging

import (
	"io"
	"log/slog"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// maxFieldText bounds every text field of a line (a string, or an error's
// text): far more than any explanation needs (the result line's error is
// at most 4 KiB), and with the few dozen fields a line has, far below
// Cloud Logging's limit. Texts from outside (Monitoring's messages, the
// metadata server's pages) are clipped here whatever the caller did.
const maxFieldText = 8 << 10

// New returns a JSON logger writing to w with Cloud Logging's keys.
func New(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       slog.LevelDebug,
		ReplaceAttr: cloudKeys,
	}))
}

func cloudKeys(groups []string, a slog.Attr) slog.Attr {
	a = bounded(a)
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		a.Key = "severity"
		a.Value = slog.StringValue(severity(a.Value.Any().(slog.Level)))
	}
	return a
}

// severity maps slog levels to Cloud Logging's LogSeverity names.
func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// bounded clips a text field (a string, or an error's text) to maxFieldText.
func bounded(a slog.Attr) slog.Attr {
	var s string
	switch v := a.Value.Any().(type) {
	case string:
		s = v
	case error:
		s = v.Error()
	default:
		return a
	}
	if len(s) > maxFieldText {
		a.Value = slog.StringValue(text.Clip(s, maxFieldText))
	}
	return a
}
