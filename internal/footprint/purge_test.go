package footprint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
)

// TestPurge seeds a store with the canary's jobs and everything the purge
// must keep, purges it offline with the release's jobstore tool, and checks
// through the real node that every other job is intact and that list is
// back to a fresh store's speed: the purged store's list time must be
// nearer a fresh store's than the unpurged one's (geometric middle of the
// two; ratios, not absolute times, so the machine's load cancels out).
func TestPurge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real networks")
	}
	for _, v := range devnet.Versions {
		t.Run(string(v), func(t *testing.T) {
			testPurge(t, v)
		})
	}
}

const (
	purgeCanaryJobs = 3000 // old prod canary jobs: purged
	purgeRounds     = 9
)

func testPurge(t *testing.T, v devnet.Version) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	store := filepath.Join(dir, "state_boltdb.db")
	fresh := filepath.Join(dir, "fresh.db")

	seed := func(file string, n int, args ...string) []string {
		t.Helper()
		ids, err := Seed(ctx, v, file, n, args...)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	// What must stay: users' jobs (one only hiding itself with
	// bacalhau_canary=true), the canary's recent jobs, another env's,
	// and a canary job still running.
	seed(fresh, 20, "-kind", "user", "-age", "1h")
	doomed := seed(store, purgeCanaryJobs, "-env", "prod", "-age", "48h")
	kept := jobSets{
		"user":           seed(store, 20, "-kind", "user", "-age", "1h"),
		"hidden user":    seed(store, 3, "-kind", "hidden", "-age", "48h"),
		"recent canary":  seed(store, 5, "-env", "prod", "-age", "1m"),
		"staging canary": seed(store, 5, "-env", "staging", "-age", "48h"),
		"running canary": seed(store, 2, "-env", "prod", "-age", "48h", "-state", "running", "-executions", "1"),
	}

	// The unpurged store, measured on a copy (the node changes what it
	// starts on: it fails the running job).
	dirty := filepath.Join(dir, "dirty.db")
	copyFile(t, store, dirty)
	dirtyNet := start(ctx, t, v, dirty)
	dirtyClient := NewClient(dirtyNet)
	before := map[string]json.RawMessage{}
	for _, id := range kept["user"] {
		before[id] = getJob(ctx, t, dirtyClient, id)
	}
	// While a node holds a store, the purge refuses it.
	if out, err := devnet.Jobstore(ctx, v, "purge", "-store", dirty); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("purge of a store a running node holds: err %v, output %q; want a refusal saying it is in use", err, out)
	}
	dirtyT := measure(ctx, t, dirtyClient)
	stop(t, dirtyNet)

	freshNet := start(ctx, t, v, fresh)
	freshT := measure(ctx, t, NewClient(freshNet))
	stop(t, freshNet)

	// Dry run: says what it would delete, changes nothing.
	pre, err := os.ReadFile(store)
	if err != nil {
		t.Fatal(err)
	}
	out, err := devnet.Jobstore(ctx, v, "purge", "-store", store, "-env", "prod", "-older-than", "24h", "-dry-run")
	if err != nil {
		t.Fatal(err)
	}
	var would []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "would" && f[1] == "delete" {
			would = append(would, f[2])
		}
	}
	if !sameSet(would, doomed) {
		t.Errorf("dry run would delete %d jobs, want exactly the %d old prod canary jobs", len(would), len(doomed))
	}
	if post, _ := os.ReadFile(store); !bytes.Equal(pre, post) {
		t.Error("dry run changed the store")
	}

	out, err = devnet.Jobstore(ctx, v, "purge", "-store", store, "-env", "prod", "-older-than", "24h")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("purge: %s", strings.TrimSpace(out))
	want := fmt.Sprintf("deleted %d canary jobs", purgeCanaryJobs)
	if !strings.HasPrefix(out, want) {
		t.Errorf("purge said %q, want it to start %q", out, want)
	}
	backups, _ := filepath.Glob(store + ".*.bak")
	if len(backups) != 1 {
		t.Fatalf("backups %v, want one", backups)
	}
	// The backup holds the store as it was: everything the purge deleted.
	if out, err := devnet.Jobstore(ctx, v, "purge", "-store", backups[0], "-env", "prod", "-dry-run"); err != nil {
		t.Error(err)
	} else if want := fmt.Sprintf("would delete %d canary jobs, keep %d jobs", purgeCanaryJobs, kept.count()); !strings.Contains(out, want) {
		t.Errorf("dry run on the backup says %q, want %q", lastLine(out), want)
	}

	purged := start(ctx, t, v, store)
	c := NewClient(purged)
	jobs, err := c.ListAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, j := range jobs {
		have[j.ID] = true
	}
	for _, id := range doomed {
		if have[id] {
			t.Errorf("old prod canary job %s survived the purge", id)
			break
		}
	}
	for kind, ids := range kept {
		for _, id := range ids {
			if !have[id] {
				t.Errorf("%s job %s is gone", kind, id)
			}
		}
	}
	for _, id := range kept["user"] {
		if got := getJob(ctx, t, c, id); !bytes.Equal(got, before[id]) {
			t.Errorf("user job %s changed:\nbefore %s\nafter  %s", id, before[id], got)
		}
	}
	purgedT := measure(ctx, t, c)
	stop(t, purged)

	t.Logf("Bacalhau %s, list median: fresh store %s, %d canary jobs %s, purged %s",
		v, freshT, purgeCanaryJobs, dirtyT, purgedT)
	if dirtyT < 3*freshT {
		t.Fatalf("%d canary jobs made list only %.1f× slower than a fresh store's: too few to tell a purge's effect", purgeCanaryJobs, float64(dirtyT)/float64(freshT))
	}
	if middle := time.Duration(math.Sqrt(float64(freshT) * float64(dirtyT))); purgedT >= middle {
		t.Errorf("purged store lists in %s: not back to a fresh store's speed (%s; unpurged %s)", purgedT, freshT, dirtyT)
	}
}

func start(ctx context.Context, t *testing.T, v devnet.Version, store string) *devnet.Network {
	t.Helper()
	n, err := devnet.Start(ctx, devnet.Options{Version: v, JobStore: store, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	return n
}

func stop(t *testing.T, n *devnet.Network) {
	t.Helper()
	if err := n.Stop(); err != nil {
		t.Fatalf("stopping the network: %v", err)
	}
}

func measure(ctx context.Context, t *testing.T, c *Client) time.Duration {
	t.Helper()
	tm, err := c.Measure(ctx, purgeRounds, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return tm.List
}

// getJob is a job with its executions, as the API returns it.
func getJob(ctx context.Context, t *testing.T, c *Client, id string) json.RawMessage {
	t.Helper()
	b, err := c.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// jobSets are job IDs by kind.
type jobSets map[string][]string

func (s jobSets) count() int {
	n := 0
	for _, ids := range s {
		n += len(ids)
	}
	return n
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
