// Command buildcli builds the Bacalhau v1.7.0 CLI, for the bench's
// comparison column, into the user cache and prints its path:
//
//	go run ./bench/buildcli      # <cache>/bacalhau-canary/cli/bacalhau-v1.7.0
//
// Everything comes from the Go module proxy. `go install
// github.com/bacalhau-project/bacalhau@v1.7.0` does not work (the module has
// replace directives), and building the main package from the devnet
// module fails too: the module zip lacks the web UI's generated files that
// webui/ embeds (`//go:embed build/**`), and the CLI needs go.sum entries
// the devnet does not. So this downloads the module, copies it to the
// cache, adds a one-line placeholder page as webui/build/index.html, and
// builds it with its own go.mod (GOWORK=off: the zip carries a go.work),
// with the devnet's build flags so its compiled dependencies come from the
// build cache. A cold build takes several minutes.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
)

const (
	module  = "github.com/bacalhau-project/bacalhau"
	version = "v1.7.0"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	bin, err := build(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildcli:", err)
		os.Exit(1)
	}
	fmt.Println(bin)
}

func build(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "bacalhau-canary", "cli")
	bin := filepath.Join(dir, "bacalhau-"+version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}

	fmt.Fprintf(os.Stderr, "buildcli: downloading %s@%s\n", module, version)
	dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	dl.Env = append(os.Environ(), "GOWORK=off", "GONOSUMDB=github.com/bacalhau-project", "GOFLAGS=-mod=mod")
	dl.Dir = dir
	out, err := dl.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download: %w", err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download: %s %v", mod.Error, err)
	}

	src := filepath.Join(dir, "src-"+version)
	if err := os.RemoveAll(src); err != nil {
		return "", err
	}
	if err := copyTree(mod.Dir, src); err != nil {
		return "", fmt.Errorf("copying the module: %w", err)
	}
	page := filepath.Join(src, "webui", "build", "index.html")
	if err := os.MkdirAll(filepath.Dir(page), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(page, []byte("<!doctype html><title>Bacalhau</title><p>Web UI not built.\n"), 0o644); err != nil {
		return "", err
	}

	fmt.Fprintf(os.Stderr, "buildcli: building the CLI (cold: several minutes)\n")
	tmp := bin + ".tmp"
	b := exec.CommandContext(ctx, "go", "build",
		"-ldflags", "-s -w -X "+module+"/pkg/version.GITVERSION="+version,
		"-o", tmp, ".")
	b.Dir = src
	b.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false", "GONOSUMDB=github.com/bacalhau-project")
	var stderr bytes.Buffer
	b.Stderr = &stderr
	if err := b.Run(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, stderr.Bytes())
	}
	return bin, os.Rename(tmp, bin)
}

// copyTree copies the read-only module tree to dst, writable.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		case d.Type()&fs.ModeSymlink != 0:
			return errors.New("unexpected symlink in the module: " + rel)
		}
		return nil
	})
}
