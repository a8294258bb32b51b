package canary

import "runtime/debug"

// Version is the canary's version, stamped at build time:
//
//	go build -ldflags "-X github.com/bacalhau-project/bacalhau-canary/pkg/canary.Version=$(git describe --always)"
//
// (the Makefile and the Dockerfile do). Build info alone says "(devel)"
// under -trimpath -buildvcs=false, so it is only the fallback.
var Version string

// BuildVersion is Version, else the main module's version from the build
// info, else "(devel)".
func BuildVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
