package pipeline

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTFCheckFailsUnderCIWithoutSchema: under CI=true a missing provider
// schema fails make tf-check (every check that needs it counted FAILED),
// instead of a green run that skipped ten of its checks.
func TestTFCheckFailsUnderCIWithoutSchema(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the stand-in provider's Go tests: skipped under -short")
	}
	missing := filepath.Join(t.TempDir(), "google-provider-7.45.0.schema.json")
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command("bash", "../../scripts/tf-check.sh")
		cmd.Env = append(os.Environ(), "CI="+ci, "TF_STANDIN_SCHEMA="+missing)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		failed := errors.As(err, &exit)
		if err != nil && !failed {
			t.Fatal(err)
		}
		switch {
		case ci == "true" && (!failed || !strings.Contains(string(out), "go-promql: FAILED (no provider schema)")):
			t.Errorf("CI=true without the schema: exit ok=%v, want a failure naming each check\n%s", !failed, out)
		case ci == "" && (failed || !strings.Contains(string(out), "skipped (no provider schema)")):
			t.Errorf("outside CI without the schema: exit ok=%v, want the skips said and a pass\n%s", !failed, out)
		}
	}
}
