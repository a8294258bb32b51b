package scenarios

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzStdoutFromTarGz feeds arbitrary bytes as a published result: the
// verifier must never panic, must classify every failure as publisher, and
// must return the stdout entry of a well-formed archive exactly.
func FuzzStdoutFromTarGz(f *testing.F) {
	f.Add(tarGz(map[string]string{"stdout": DefaultText}), false)
	f.Add(tarGz(map[string]string{"./stdout": "x", "stderr": "y"}), false)
	f.Add(tarGz(map[string]string{"outputs/stdout": "nested"}), false)
	f.Add([]byte("not gzip"), true)
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00}, true)
	f.Add([]byte(DefaultText), true)
	f.Fuzz(func(t *testing.T, data []byte, asText bool) {
		archive := data
		if asText {
			archive = tarGz(map[string]string{"stdout": string(data)})
		}
		out, err := stdoutFromTarGz(bytes.NewReader(archive))
		if err != nil {
			if asText {
				t.Fatalf("a well-formed archive was refused: %v", err)
			}
			if !errors.Is(err, ErrPublisher) {
				t.Fatalf("error %v is not classed publisher", err)
			}
			return
		}
		if asText && out != string(data) {
			t.Fatalf("stdout %q, archived %q", out, data)
		}
	})
}

func TestStdoutFromTarGz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   map[string]string
		want    string
		wantErr bool
	}{
		{"plain", map[string]string{"stdout": "hi\n", "stderr": ""}, "hi\n", false},
		{"dot slash", map[string]string{"./stdout": "hi"}, "hi", false},
		{"nested only", map[string]string{"outputs/stdout": "no"}, "", true},
		{"missing", map[string]string{"stderr": "x"}, "", true},
		{"empty stdout", map[string]string{"stdout": ""}, "", false},
	}
	for _, tt := range tests {
		got, err := stdoutFromTarGz(bytes.NewReader(tarGz(tt.files)))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: got %q, %v", tt.name, got, err)
		}
	}
}
