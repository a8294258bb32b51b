package scenarios

import (
	"bytes"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/wasi"
)

func TestCanaryWasmIsFresh(t *testing.T) {
	t.Parallel()
	want, err := wasi.Program{Stdout: DefaultText}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canaryWasm, want) {
		t.Error("pkg/scenarios/canary.wasm is stale: run go generate ./pkg/scenarios")
	}
}

func TestWasmJobCarriesTheModule(t *testing.T) {
	t.Parallel()
	job, err := JobSpec{Engine: EngineWasm}.Build("submit", "test", "r1", 1, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	in := job.Tasks[0].InputSources
	if len(in) != 1 || in[0].Target != wasmTarget || in[0].Source.Params["URL"] != wasi.DataURL(canaryWasm) {
		t.Errorf("input sources %+v, want the embedded module at %s", in, wasmTarget)
	}
}
