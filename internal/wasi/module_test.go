package wasi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// run executes the module the way Bacalhau's wasm executor does (wazero,
// WASI preview1, _start) and returns its stdout and exit code.
func run(t *testing.T, mod []byte) (string, uint32) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	var stdout bytes.Buffer
	_, err := rt.InstantiateWithConfig(ctx, mod, wazero.NewModuleConfig().WithStdout(&stdout).WithSysNanosleep())
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String(), exit.ExitCode()
	case err != nil:
		t.Fatalf("running module: %v", err)
	}
	return stdout.String(), 0
}

func TestProgram(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Program
	}{
		{"text", Program{Stdout: "hello from the canary\n"}},
		{"empty", Program{}},
		{"exit code", Program{Stdout: "bye\n", ExitCode: 3}},
		{"sleep", Program{Stdout: "late\n", SleepMS: 30}},
		{"sleep not a multiple of the slice", Program{Stdout: "late\n", SleepMS: 25}},
		{"short sleep", Program{Stdout: "late\n", SleepMS: 1}},
		{"long text", Program{Stdout: string(bytes.Repeat([]byte("x"), 5000))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mod, err := tt.p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out, code := run(t, mod)
			if out != tt.p.Stdout {
				t.Errorf("stdout = %q, want %q", out, tt.p.Stdout)
			}
			if code != tt.p.ExitCode {
				t.Errorf("exit code = %d, want %d", code, tt.p.ExitCode)
			}
			if min := time.Duration(tt.p.SleepMS) * time.Millisecond; time.Since(start) < min {
				t.Errorf("returned after %v, before its %v sleep", time.Since(start), min)
			}
		})
	}
}

// A sleeping module halts soon after its context is cancelled, as a
// stopped Bacalhau execution must: the sleep is sliced, and the runtime
// checks its context between slices (Bacalhau's executor uses
// WithCloseOnContextDone).
func TestSleepHaltsOnCancel(t *testing.T) {
	t.Parallel()
	mod, err := Program{Stdout: "never\n", SleepMS: 60_000}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer rt.Close(context.Background())
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	var stdout bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := rt.InstantiateWithConfig(ctx, mod, wazero.NewModuleConfig().WithStdout(&stdout).WithSysNanosleep())
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil || stdout.Len() != 0 {
			t.Errorf("module ended with %v and wrote %q, want it halted before writing", err, stdout.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("module still sleeping 20s after its context was cancelled (sleep of 60s)")
	}
}

func TestProgramIsTiny(t *testing.T) {
	t.Parallel()
	mod, err := Program{Stdout: "Hello from the Bacalhau canary\n"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(mod) > 512 {
		t.Errorf("module is %d bytes, want at most 512 (large inline modules wedge the node)", len(mod))
	}
}

func TestProgramRejectsHugeText(t *testing.T) {
	t.Parallel()
	if _, err := (Program{Stdout: string(make([]byte, maxText+1))}).Encode(); err == nil {
		t.Fatal("Encode accepted a text over the limit")
	}
}

func TestProgramHasModuleName(t *testing.T) {
	t.Parallel()
	mod, err := Program{Stdout: "x"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := wazero.NewRuntime(t.Context()).CompileModule(t.Context(), mod)
	if err != nil {
		t.Fatal(err)
	}
	if got := compiled.Name(); got != moduleName {
		t.Errorf("module name = %q, want %q (Bacalhau refuses unnamed modules)", got, moduleName)
	}
}

// Into swaps the canary job's module for the program's: the job then runs
// the program. A job without an inline wasm module is an error.
func TestInto(t *testing.T) {
	t.Parallel()
	p := Program{Stdout: "Hello from somewhere else\n", ExitCode: 3}
	for _, engine := range []string{scenarios.EngineWasm, scenarios.EngineDocker} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			job, err := scenarios.JobSpec{Engine: engine}.Build("submit", "test", "r1", 1, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Into(job)
			if engine == scenarios.EngineDocker {
				if err == nil {
					t.Error("a docker job took a wasm module")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			url, _ := job.Tasks[0].InputSources[0].Source.Params["URL"].(string)
			mod, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(url, "data:application/octet-stream;base64,"))
			if err != nil {
				t.Fatalf("URL %q: %v", url, err)
			}
			if out, code := run(t, mod); out != p.Stdout || code != p.ExitCode {
				t.Errorf("the swapped module prints %q and exits %d, want %q and %d", out, code, p.Stdout, p.ExitCode)
			}
		})
	}
	if err := p.Into(&models.Job{Tasks: []*models.Task{nil, {Engine: &models.SpecConfig{Type: models.EngineWasm}}}}); err == nil {
		t.Error("a wasm task without an inline module took one")
	}
}
