package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestCloudLoggingKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug, "DEBUG"},
		{slog.LevelInfo, "INFO"},
		{slog.LevelWarn, "WARNING"},
		{slog.LevelError, "ERROR"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		New(&buf).Log(t.Context(), tt.level, "hello", slog.String("scenario", "submit"), slog.Group("g", slog.String("message", "inner")))
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
		}
		if line["severity"] != tt.want || line["message"] != "hello" || line["scenario"] != "submit" {
			t.Errorf("level %v: got %v, want severity %s, message hello, scenario submit", tt.level, line, tt.want)
		}
		if _, ok := line["level"]; ok {
			t.Errorf("line still has slog's level key: %v", line)
		}
		if g := line["g"].(map[string]any); g["message"] != "inner" {
			t.Errorf("grouped key was renamed: %v", g)
		}
	}
}
