// Package wasi encodes WASI preview1 modules of a few hundred bytes that
// write a fixed text to stdout and can first sleep (poll_oneoff on a clock,
// in slices, so a cancelled execution halts within a slice) or end with a
// non-zero exit code (proc_exit). They are assembled byte by byte, so
// nothing needs a toolchain. `go generate ./pkg/scenarios` writes the
// canary's own module (it prints scenarios.DefaultText) with it; tests that
// need a job that sleeps, fails or prints other text swap their module
// into the submitted job (Program.Into).
package wasi

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/bacalhau-project/bacalhau/pkg/models"
)

// moduleName is the module's name in its custom "name" section.
const moduleName = "bacalhau-canary"

// Program describes what the module does when its _start runs.
type Program struct {
	Stdout   string // written to fd 1
	SleepMS  uint32 // sleep before writing, in milliseconds (0: none), in slices of ≤ sliceMS
	ExitCode uint32 // proc_exit code after writing
}

// DataURL is how a job carries a module inline (an inline input source).
func DataURL(mod []byte) string {
	return "data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(mod)
}

// Into puts p's module in place of the inline module of every wasm task of
// job; a job without one is an error.
func (p Program) Into(job *models.Job) error {
	mod, err := p.Encode()
	if err != nil {
		return err
	}
	n := 0
	for _, t := range job.Tasks {
		if t == nil || t.Engine == nil || t.Engine.Type != models.EngineWasm {
			continue
		}
		for _, in := range t.InputSources {
			if in != nil && in.Source != nil && in.Source.Type == models.StorageSourceInline {
				if in.Source.Params == nil {
					in.Source.Params = map[string]any{}
				}
				in.Source.Params["URL"] = DataURL(mod)
				n++
			}
		}
	}
	if n == 0 {
		return errors.New("wasi: the job has no inline module of a wasm task")
	}
	return nil
}

// Memory layout of the module's single page.
const (
	iovecAt    = 0   // {ptr u32, len u32}
	nwrittenAt = 8   // u32
	neventsAt  = 12  // u32
	subAt      = 16  // subscription, 48 bytes
	eventAt    = 64  // event, 32 bytes
	textAt     = 128 // stdout text
	maxText    = 60000
)

// sliceMS bounds one poll_oneoff sleep. A host call's sleep cannot be
// interrupted (wazero's poll_oneoff is a plain nanosleep); between slices
// the runtime checks its context (Bacalhau runs modules with
// WithCloseOnContextDone), so a stopped execution ends within one slice.
const sliceMS = 10

// slices splits the sleep into n equal poll_oneoff calls of ns each.
func (p Program) slices() (n uint32, ns uint64) {
	if p.SleepMS == 0 {
		return 0, 0
	}
	n = (p.SleepMS + sliceMS - 1) / sliceMS
	return n, uint64(p.SleepMS) * 1_000_000 / uint64(n)
}

// Function indices: the imports come first.
const (
	fnFdWrite = iota
	fnPollOneoff
	fnProcExit
	fnStart
)

// Encode returns the binary module.
func (p Program) Encode() ([]byte, error) {
	if len(p.Stdout) > maxText {
		return nil, fmt.Errorf("stdout text of %d bytes is over the %d-byte limit", len(p.Stdout), maxText)
	}
	var m []byte
	m = append(m, 0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00)

	i32 := byte(0x7f)
	// type 0: (i32 i32 i32 i32) -> i32; type 1: () -> (); type 2: (i32) -> ()
	m = section(m, 1, vec(
		funcType([]byte{i32, i32, i32, i32}, []byte{i32}),
		funcType(nil, nil),
		funcType([]byte{i32}, nil),
	))
	m = section(m, 2, vec(
		importFunc("wasi_snapshot_preview1", "fd_write", 0),
		importFunc("wasi_snapshot_preview1", "poll_oneoff", 0),
		importFunc("wasi_snapshot_preview1", "proc_exit", 2),
	))
	m = section(m, 3, vec(uleb(1))) // one function of type 1
	m = section(m, 5, vec([]byte{0x00, 0x01}))
	m = section(m, 7, vec(
		export("memory", 0x02, 0),
		export("_start", 0x00, fnStart),
	))
	m = section(m, 10, vec(sized(p.body())))
	m = section(m, 11, vec(p.data()))
	// Bacalhau's executor refuses modules without a name section.
	nameSec := append(name("name"), 0x00)
	nameSec = append(nameSec, sized(name(moduleName))...)
	m = section(m, 0, nameSec)
	return m, nil
}

func (p Program) body() []byte {
	code := []byte{0x01, 0x01, 0x7f} // one local: i32 slices left
	call := func(fn uint32, args ...int32) {
		for _, a := range args {
			code = append(code, 0x41)
			code = append(code, sleb(a)...)
		}
		code = append(code, 0x10)
		code = append(code, uleb(fn)...)
	}
	if n, _ := p.slices(); n > 0 {
		code = append(code, 0x41)
		code = append(code, sleb(int32(n))...)
		code = append(code, 0x21, 0x00) // local.set 0
		code = append(code, 0x03, 0x40) // loop
		call(fnPollOneoff, subAt, eventAt, 1, neventsAt)
		code = append(code, 0x1a)                                     // drop errno
		code = append(code, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00) // local.get 0; i32.const 1; i32.sub; local.tee 0
		code = append(code, 0x0d, 0x00, 0x0b)                         // br_if 0 (again while slices are left); end
	}
	call(fnFdWrite, 1, iovecAt, 1, nwrittenAt)
	code = append(code, 0x1a)
	// Always exit explicitly: Bacalhau reports exit code -1 for a module
	// that returns from _start without proc_exit.
	call(fnProcExit, int32(p.ExitCode))
	return append(code, 0x0b)
}

// data is one active segment at offset 0 holding the iovec, the clock
// subscription and the text.
func (p Program) data() []byte {
	mem := make([]byte, textAt+len(p.Stdout))
	le32(mem[iovecAt:], textAt)
	le32(mem[iovecAt+4:], uint32(len(p.Stdout)))
	// subscription: userdata u64 @0, tag u8 @8 (0 = clock), clock id u32 @16
	// (1 = monotonic), timeout u64 @24 (ns, relative), precision u64 @32, flags u16 @40.
	le32(mem[subAt+16:], 1)
	_, ns := p.slices()
	le32(mem[subAt+24:], uint32(ns))
	le32(mem[subAt+28:], uint32(ns>>32))
	copy(mem[textAt:], p.Stdout)

	seg := []byte{0x00, 0x41, 0x00, 0x0b} // memory 0, offset i32.const 0
	return append(seg, sized(mem)...)
}

func le32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func uleb(v uint32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

func sleb(v int32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

func name(s string) []byte { return append(uleb(uint32(len(s))), s...) }

func sized(b []byte) []byte { return append(uleb(uint32(len(b))), b...) }

func vec(items ...[]byte) []byte {
	out := uleb(uint32(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func section(m []byte, id byte, content []byte) []byte {
	return append(append(m, id), sized(content)...)
}

func funcType(params, results []byte) []byte {
	out := []byte{0x60}
	out = append(out, sized(params)...)
	return append(out, sized(results)...)
}

func importFunc(module, field string, typeIdx uint32) []byte {
	out := append(name(module), name(field)...)
	out = append(out, 0x00)
	return append(out, uleb(typeIdx)...)
}

func export(field string, kind byte, idx uint32) []byte {
	out := append(name(field), kind)
	return append(out, uleb(idx)...)
}
