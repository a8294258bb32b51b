// Command jobstore works on a Bacalhau orchestrator's job store file
// (DATA_DIR/orchestrator/state_boltdb.db) offline, through Bacalhau's own
// store code (pkg/jobstore/boltdb) of the release its module pins, while no
// orchestrator runs on it. Neither supported release can delete a job
// through its API or collects old ones (upstream #4174), so this is how an
// operator removes the canary's jobs.
//
//	jobstore purge -store FILE [-env ENV] [-older-than 24h] [-dry-run]
//	    deletes the canary's terminal jobs older than -older-than, with
//	    their executions, history and evaluations, after backing the file up
//	    (FILE.TIMESTAMP.bak); every other job is left as it is.
//	jobstore seed -store FILE -n N [-kind canary|user] ...
//	    writes jobs shaped like the canary's (or a user's) into a store, for
//	    the footprint benchmark and the purge tests; prints their IDs.
//
// It refuses a store another process holds (bolt's file lock: a running
// orchestrator). The same source builds against every supported release:
// ../../v1.9/jobstore/main.go is a link to this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/bacalhau-project/bacalhau/pkg/jobstore"
	boltdb "github.com/bacalhau-project/bacalhau/pkg/jobstore/boltdb"
	"github.com/bacalhau-project/bacalhau/pkg/lib/boltdblib"
	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/util/idgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "jobstore:", err)
		os.Exit(1)
	}
}

// The canary's labels (pkg/scenarios/job.go of the canary): a job is the
// canary's when it carries all of canaryLabel=true, scenarioLabel and
// runLabel, so a user's job that only hides itself from `bacalhau job list`
// with bacalhau_canary=true is never taken for one.
const (
	canaryLabel   = "bacalhau_canary"
	scenarioLabel = "canary_scenario"
	envLabel      = "canary_env"
	runLabel      = "canary_run"
)

// batch is how many jobs one write transaction deletes or seeds: one
// fsync per batch instead of per job.
const batch = 256

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	zerolog.SetGlobalLevel(zerolog.ErrorLevel)
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: jobstore purge|seed -store FILE [flags] (-h for each)")
		return errors.New("no command")
	}
	switch args[0] {
	case "purge":
		return purgeMain(ctx, args[1:], stdout, stderr)
	case "seed":
		return seedMain(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help":
		fmt.Fprintln(stderr, "usage: jobstore purge|seed -store FILE [flags] (-h for each)")
		return flag.ErrHelp
	default:
		return fmt.Errorf("unknown command %q (want purge or seed)", args[0])
	}
}

// open opens an existing store; it fails at once when another process
// (a running orchestrator) holds the file's lock.
func open(path string, opts ...boltdb.Option) (*boltdb.BoltJobStore, error) {
	if path == "" {
		return nil, errors.New("-store is required")
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("job store: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("job store %s is not a file", path)
	}
	s, err := boltdb.NewBoltJobStore(path, opts...)
	if err != nil {
		if strings.Contains(err.Error(), "in use") {
			return nil, fmt.Errorf("job store %s is in use (an orchestrator holds its lock): stop the node first", path)
		}
		return nil, fmt.Errorf("opening job store %s: %w", path, err)
	}
	return s, nil
}

type purgeOptions struct {
	store, env, backup string
	olderThan          time.Duration
	dryRun             bool
}

func purgeMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o purgeOptions
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.store, "store", "", "the orchestrator's job store file (DATA_DIR/orchestrator/state_boltdb.db); the node must be stopped")
	fs.StringVar(&o.env, "env", "", "only jobs of this canary_env (default: every env)")
	fs.DurationVar(&o.olderThan, "older-than", 24*time.Hour, "only jobs created at least this long ago")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be deleted, change nothing (reads a snapshot of the store)")
	fs.StringVar(&o.backup, "backup", "", "where to copy the store before deleting (default FILE.YYYYMMDDTHHMMSSZ.bak; must not exist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.olderThan < 0 {
		return fmt.Errorf("-older-than must not be negative, got %s", o.olderThan)
	}
	return purge(ctx, o, stdout)
}

// victim is a job the purge deletes.
type victim struct {
	id, env     string
	created     time.Time
	executions  []string
	evaluations []string
}

func purge(ctx context.Context, o purgeOptions, out io.Writer) error {
	path := o.store
	if o.dryRun {
		// Opening a store through Bacalhau's code writes to it (it makes
		// sure its buckets exist): a dry run reads a snapshot instead.
		snap, err := snapshot(o.store)
		if err != nil {
			return err
		}
		defer os.RemoveAll(filepath.Dir(snap))
		path = snap
	}
	s, err := open(path)
	if err != nil {
		return err
	}
	defer s.Close(ctx)

	resp, err := s.GetJobs(ctx, jobstore.JobQuery{ReturnAll: true})
	if err != nil {
		return fmt.Errorf("listing jobs: %w", err)
	}
	cutoff := time.Now().Add(-o.olderThan)
	var victims []victim
	for _, j := range resp.Jobs {
		if !isCanary(j.Labels) || (o.env != "" && j.Labels[envLabel] != o.env) ||
			!j.IsTerminal() || time.Unix(0, j.CreateTime).After(cutoff) {
			continue
		}
		v, ok, err := inspect(ctx, s, j)
		if err != nil {
			return err
		}
		if ok {
			victims = append(victims, v)
		}
	}
	sort.Slice(victims, func(a, b int) bool { return victims[a].created.Before(victims[b].created) })
	kept := len(resp.Jobs) - len(victims)

	if o.dryRun {
		for _, v := range victims {
			fmt.Fprintf(out, "would delete %s env=%s created=%s executions=%d evaluations=%d\n",
				v.id, strconv.Quote(v.env), v.created.UTC().Format(time.RFC3339), len(v.executions), len(v.evaluations))
		}
		fmt.Fprintf(out, "dry run: would delete %d canary jobs, keep %d jobs\n", len(victims), kept)
		return nil
	}
	if len(victims) == 0 {
		fmt.Fprintf(out, "nothing to delete; %d jobs kept, store unchanged\n", kept)
		return nil
	}
	backup := o.backup
	if backup == "" {
		backup = o.store + "." + time.Now().UTC().Format("20060102T150405Z") + ".bak"
	}
	if err := backupStore(ctx, s, backup); err != nil {
		return err
	}
	execs, evals := 0, 0
	for start := 0; start < len(victims); start += batch {
		chunk := victims[start:min(start+batch, len(victims))]
		if err := deleteJobs(ctx, s, chunk); err != nil {
			return fmt.Errorf("deleted %d of %d jobs, then: %w (the backup %s holds the store as it was)", start, len(victims), err, backup)
		}
		for _, v := range chunk {
			execs += len(v.executions)
			evals += len(v.evaluations)
		}
	}
	fmt.Fprintf(out, "deleted %d canary jobs (%d executions, %d evaluations), kept %d jobs; backup %s\n", len(victims), execs, evals, kept, backup)
	return nil
}

// isCanary says a job carries all of the canary's labels.
func isCanary(l map[string]string) bool {
	return l[canaryLabel] == "true" && l[scenarioLabel] != "" && l[runLabel] != ""
}

// inspect collects a job's executions and evaluations; a job with an
// execution that is not terminal is left alone (ok false).
func inspect(ctx context.Context, s *boltdb.BoltJobStore, j models.Job) (victim, bool, error) {
	v := victim{id: j.ID, env: j.Labels[envLabel], created: time.Unix(0, j.CreateTime)}
	opts := jobstore.GetExecutionsOptions{JobID: j.ID}
	setField(&opts, "AllJobVersions", true) // v1.9: every version's executions, not only the latest's
	execs, err := s.GetExecutions(ctx, opts)
	if err != nil {
		return v, false, fmt.Errorf("executions of %s: %w", j.ID, err)
	}
	for _, e := range execs {
		if !e.IsTerminalState() {
			return v, false, nil
		}
		v.executions = append(v.executions, e.ID)
	}
	tx, err := s.BeginTx(ctx)
	if err != nil {
		return v, false, err
	}
	defer tx.Rollback()
	btx, _ := boltdblib.TxFromContext(tx)
	bkt, err := boltdb.NewBucketPath(boltdb.BucketJobs, j.ID, boltdb.BucketJobEvaluations).Get(btx, false)
	if err == nil {
		err = bkt.ForEach(func(k, _ []byte) error {
			v.evaluations = append(v.evaluations, string(k))
			return nil
		})
	}
	if err != nil && !strings.Contains(err.Error(), "not found") {
		return v, false, fmt.Errorf("evaluations of %s: %w", j.ID, err)
	}
	return v, true, nil
}

// snapshot copies the store, read-only and as one consistent snapshot, to
// a new temporary directory; it refuses a store an orchestrator holds.
func snapshot(path string) (string, error) {
	if st, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("job store: %w", err)
	} else if !st.Mode().IsRegular() {
		return "", fmt.Errorf("job store %s is not a file", path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return "", fmt.Errorf("job store %s is in use (an orchestrator holds its lock): stop the node first", path)
	}
	if err != nil {
		return "", fmt.Errorf("opening job store %s: %w", path, err)
	}
	defer db.Close()
	dir, err := os.MkdirTemp("", "jobstore-dry-run-")
	if err != nil {
		return "", err
	}
	snap := filepath.Join(dir, "snapshot.db")
	if err := db.View(func(tx *bolt.Tx) error { return tx.CopyFile(snap, 0o600) }); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("reading job store %s: %w", path, err)
	}
	return snap, nil
}

// backupStore copies the store, as one consistent snapshot, to a new file.
func backupStore(ctx context.Context, s *boltdb.BoltJobStore, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("backup %s already exists", path)
	}
	tx, err := s.BeginTx(ctx)
	if err != nil {
		return fmt.Errorf("backing up: %w", err)
	}
	defer tx.Rollback()
	btx, _ := boltdblib.TxFromContext(tx)
	if err := btx.CopyFile(path, 0o600); err != nil {
		os.Remove(path)
		return fmt.Errorf("backing up to %s: %w", path, err)
	}
	return nil
}

// deleteJobs deletes jobs with their evaluations (through the store, which
// also drops their index entries), executions and history (inside the
// job's bucket), and the execution index entries neither release's
// DeleteJob removes; one transaction.
func deleteJobs(ctx context.Context, s *boltdb.BoltJobStore, vs []victim) error {
	tx, err := s.BeginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	btx, _ := boltdblib.TxFromContext(tx)
	for _, v := range vs {
		for _, id := range v.evaluations {
			if err := s.DeleteEvaluation(tx, id); err != nil {
				return fmt.Errorf("deleting evaluation %s of %s: %w", id, v.id, err)
			}
		}
		if err := s.DeleteJob(tx, v.id); err != nil {
			return fmt.Errorf("deleting %s: %w", v.id, err)
		}
		for _, bucket := range []string{boltdb.BucketExecutionsIndex, boltdb.BucketEvaluationsIndex} {
			idx, err := boltdb.NewBucketPath(bucket).Get(btx, false)
			if err != nil {
				return fmt.Errorf("index %s: %w", bucket, err)
			}
			ids := v.executions
			if bucket == boltdb.BucketEvaluationsIndex {
				ids = v.evaluations
			}
			for _, id := range ids {
				if err := idx.DeleteBucket([]byte(id)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
					return fmt.Errorf("index %s of %s: %w", bucket, id, err)
				}
			}
		}
	}
	return tx.Commit()
}

type seedOptions struct {
	store, kind, env, state string
	n, executions           int
	age, every              time.Duration
}

func seedMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o seedOptions
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.store, "store", "", "job store file (created if missing)")
	fs.IntVar(&o.n, "n", 0, "jobs to write")
	fs.StringVar(&o.kind, "kind", "canary", "canary: the canary's job and labels; user: a user's job; hidden: a user's job labelled bacalhau_canary=true only")
	fs.StringVar(&o.env, "env", "prod", "canary_env of canary jobs")
	fs.StringVar(&o.state, "state", "completed", "completed, or running (job and executions not terminal)")
	fs.IntVar(&o.executions, "executions", 0, "executions a job (0: the canary's mix, every fourth job 3, else 1)")
	fs.DurationVar(&o.age, "age", 0, "the newest job is created this long ago")
	fs.DurationVar(&o.every, "every", time.Minute, "between the jobs' creation times, going back")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.store == "":
		return errors.New("-store is required")
	case o.n < 0 || o.executions < 0 || o.executions > 16:
		return errors.New("-n must not be negative, -executions between 0 and 16")
	case o.kind != "canary" && o.kind != "user" && o.kind != "hidden":
		return fmt.Errorf("-kind %q: want canary, user or hidden", o.kind)
	case o.state != "completed" && o.state != "running":
		return fmt.Errorf("-state %q: want completed or running", o.state)
	}
	if f, err := os.OpenFile(o.store, os.O_CREATE|os.O_RDONLY, 0o600); err != nil {
		return fmt.Errorf("job store: %w", err)
	} else {
		f.Close()
	}
	clk := &stepClock{Clock: clock.New()}
	s, err := open(o.store, boltdb.WithClock(clk))
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			s.Close(ctx)
		}
	}()
	newest := time.Now().Add(-o.age)
	for start := 0; start < o.n; start += batch {
		tx, err := s.BeginTx(ctx)
		if err != nil {
			return err
		}
		for i := start; i < min(start+batch, o.n); i++ {
			clk.now = newest.Add(-time.Duration(o.n-1-i) * o.every)
			id, err := seedJob(tx, s, clk, o, i)
			if err != nil {
				tx.Rollback()
				return fmt.Errorf("job %d: %w", i, err)
			}
			fmt.Fprintln(stdout, id)
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	if err := dropEvents(ctx, s); err != nil {
		return err
	}
	closed = true
	if err := s.Close(ctx); err != nil {
		return err
	}
	return compact(o.store)
}

// eventsBucket is the store's event log (pkg/jobstore/boltdb's
// eventsBucket, unexported): what the orchestrator's dispatcher replays to
// the compute nodes. Its watchers prune what they have processed once it is
// a day old, so a months-old store holds none of its old jobs' events; a
// seeded one must not either, or the node would replay them at start.
const eventsBucket = "v1_events"

func dropEvents(ctx context.Context, s *boltdb.BoltJobStore) error {
	tx, err := s.BeginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	btx, _ := boltdblib.TxFromContext(tx)
	if b := btx.Bucket([]byte(eventsBucket)); b != nil {
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return fmt.Errorf("dropping events: %w", err)
			}
		}
	}
	return tx.Commit()
}

// compact rewrites the store without its free pages, so its size is that of
// the data (as a long-lived store's would be, its free pages reused).
func compact(path string) error {
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("compacting: %w", err)
	}
	defer src.Close()
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("compacting: %w", err)
	}
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("compacting: %w", err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("compacting: %w", err)
	}
	src.Close()
	return os.Rename(tmp, path)
}

// seedJob writes one job the way an orchestrator does: the job, its
// evaluations, each execution from bid to completion with its events, and
// the job's state changes (the store adds the history entries).
func seedJob(ctx context.Context, s *boltdb.BoltJobStore, clk *stepClock, o seedOptions, i int) (string, error) {
	count := o.executions
	if count == 0 {
		count = 1
		if i%4 == 3 {
			count = 3 // submitWithConcurrency
		}
	}
	scenarios := []string{"submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency"}
	job := &models.Job{
		ID:        idgen.NewJobID(),
		Namespace: "default",
		Type:      models.JobTypeBatch,
		Priority:  0,
		Count:     count,
		Meta:      map[string]string{models.MetaOrchestratorID: "node-0", "bacalhau.org/client.id": "2c8a5a0d0e24c7b1f3a9b1fd6e1e9c0e"},
		Tasks: []*models.Task{{
			Name: "main",
			Engine: &models.SpecConfig{Type: models.EngineWasm, Params: map[string]any{
				"EntryModule": map[string]any{"Source": map[string]any{"Type": "inline", "Params": map[string]any{
					"URL": "data:application/wasm;base64,AGFzbQEAAAABEANgBH9/f38Bf2ABfwBgAAACOQIWd2FzaV9zbmFwc2hvdF9wcmV2aWV3MQhmZF93cml0ZQAAFndhc2lfc25hcHNob3RfcHJldmlldzEJcHJvY190ZXhpdAABAwIBAgUDAQABBxMCBm1lbW9yeQIABl9zdGFydAACCiEBHwBBAEEINgIAQQRBFjYCAEEBQQBBAUEcEAAaQQAQAQsLJQIAQQgLFmJhY2FsaGF1LWNhbmFyeTogaGVsbG8KAEEcCwQAAAAA"}}, "Target": "/app/main.wasm"},
				"Entrypoint": "_start",
			}},
			Publisher:       &models.SpecConfig{Type: models.PublisherLocal, Params: map[string]any{}},
			Timeouts:        &models.TimeoutConfig{ExecutionTimeout: 81, TotalTimeout: 81},
			ResourcesConfig: &models.ResourcesConfig{CPU: "100m", Memory: "64Mb"},
		}},
	}
	switch o.kind {
	case "canary":
		scen := scenarios[i%len(scenarios)]
		if count == 3 {
			scen = "submitWithConcurrency"
		}
		job.Labels = map[string]string{canaryLabel: "true", scenarioLabel: scen, envLabel: o.env, runLabel: fmt.Sprintf("%016x", clk.Now().UnixNano())}
	case "hidden":
		job.Labels = map[string]string{canaryLabel: "true", "team": "data"}
	default:
		job.Labels = map[string]string{"team": "data", "pipeline": fmt.Sprintf("nightly-%d", i%7)}
	}
	job.Normalize()
	if err := s.CreateJob(ctx, *job); err != nil {
		return "", err
	}
	stored, err := s.GetJob(ctx, job.ID)
	if err != nil {
		return "", err
	}
	tick := func() { clk.now = clk.now.Add(37 * time.Millisecond) }
	eval := func(trigger string) error {
		tick()
		e := models.NewEvaluation().WithJob(&stored).WithTriggeredBy(trigger)
		e.Status = models.EvalStatusComplete
		e.CreateTime, e.ModifyTime = clk.Now().UnixNano(), clk.Now().UnixNano()
		return s.CreateEvaluation(ctx, *e)
	}
	if err := eval(models.EvalTriggerJobRegister); err != nil {
		return "", err
	}
	running := o.state == "running"
	type step struct {
		state   models.ExecutionStateType
		desired models.ExecutionDesiredStateType
		msg     string
	}
	steps := []step{
		{models.ExecutionStateAskForBidAccepted, models.ExecutionDesiredStatePending, "Accepted job"},
		{models.ExecutionStateBidAccepted, models.ExecutionDesiredStateRunning, "bid accepted"},
		{models.ExecutionStateRunning, models.ExecutionDesiredStateRunning, "Running"},
		{models.ExecutionStatePublishing, models.ExecutionDesiredStateRunning, "Publishing results"},
		{models.ExecutionStateCompleted, models.ExecutionDesiredStateStopped, "Completed"},
	}
	if running {
		steps = steps[:3]
	}
	for p := range count {
		tick()
		ex := &models.Execution{
			ID: idgen.NewExecutionID(), Namespace: stored.Namespace, JobID: stored.ID, Job: &stored,
			NodeID: fmt.Sprintf("node-%d", p), PartitionIndex: p, EvalID: "",
			AllocatedResources: &models.AllocatedResources{Tasks: map[string]*models.Resources{"main": {CPU: 0.1, Memory: 64 << 20}}},
			DesiredState:       models.State[models.ExecutionDesiredStateType]{StateType: models.ExecutionDesiredStatePending},
			ComputeState:       models.State[models.ExecutionStateType]{StateType: models.ExecutionStateNew},
		}
		if v, ok := field(&stored, "Version"); ok {
			setField(ex, "JobVersion", v) // v1.9 lists a job's executions of its latest version
		}
		ex.Normalize()
		if err := s.CreateExecution(ctx, *ex); err != nil {
			return "", err
		}
		for _, st := range steps {
			tick()
			nv := models.Execution{
				ComputeState: models.State[models.ExecutionStateType]{StateType: st.state, Message: st.msg},
				DesiredState: models.State[models.ExecutionDesiredStateType]{StateType: st.desired},
			}
			if st.state == models.ExecutionStateCompleted {
				nv.RunOutput = &models.RunCommandResult{STDOUT: "bacalhau-canary: hello\n", ExitCode: 0}
				nv.PublishedResult = &models.SpecConfig{Type: "urlDownload", Params: map[string]any{
					"URL": fmt.Sprintf("http://10.64.0.2:6001/%s/%s.tgz", stored.ID, ex.ID)}}
			}
			ev := models.NewEvent("Execution").WithMessage(st.msg)
			if err := s.UpdateExecution(ctx, jobstore.UpdateExecutionRequest{
				ExecutionID: ex.ID, NewValues: nv, Events: []*models.Event{ev},
			}); err != nil {
				return "", err
			}
		}
	}
	if err := s.UpdateJobState(ctx, jobstore.UpdateJobStateRequest{JobID: stored.ID, NewState: models.JobStateTypeRunning}); err != nil {
		return "", err
	}
	if running {
		return stored.ID, nil
	}
	if err := eval(models.EvalTriggerExecUpdate); err != nil {
		return "", err
	}
	tick()
	if err := s.UpdateJobState(ctx, jobstore.UpdateJobStateRequest{JobID: stored.ID, NewState: models.JobStateTypeCompleted}); err != nil {
		return "", err
	}
	return stored.ID, nil
}

// stepClock is the store's clock while seeding: the time the seed sets.
// (clock.Mock sleeps a millisecond on every change.)
type stepClock struct {
	clock.Clock
	now time.Time
}

func (c *stepClock) Now() time.Time { return c.now }

// field and setField reach a struct field only one release has (v1.9's
// job versions), so one source builds against both.
func field(ptr any, name string) (any, bool) {
	f := reflect.ValueOf(ptr).Elem().FieldByName(name)
	if !f.IsValid() {
		return nil, false
	}
	return f.Interface(), true
}

func setField(ptr any, name string, v any) {
	f := reflect.ValueOf(ptr).Elem().FieldByName(name)
	if f.IsValid() && f.CanSet() {
		f.Set(reflect.ValueOf(v).Convert(f.Type()))
	}
}
