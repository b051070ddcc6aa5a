package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// writes selects every write to the store but the lease's (renewals come
// at times of their own).
var writes = &steps{"write", func(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && !strings.HasSuffix(r.URL.Path, "/.ssmirror/lease.json")
}}

// killedRun runs a sync with args through kp, SIGKILLed at pt, and
// reports whether it was killed there (false: it finished first).
func killedRun(t *testing.T, kp *killProxy, pt killPoint, args []string) bool {
	t.Helper()
	k := kp.killRun(t, pt, args...)
	if t.Failed() {
		t.FailNow()
	}
	return k.at > 0
}

// cleanRun runs a sync to its end through kp, counting the requests of
// pt (kp.counted), and wants status want.
func cleanRun(t *testing.T, kp *killProxy, pt killPoint, want int, args []string) {
	t.Helper()
	p := kp.start(t, pt, nil, args...)
	if code := p.wait(); code != want {
		t.Fatalf("run: exit %d, want %d\n%s", code, want, p.stderr.String())
	}
}

// TestCrashOverwriteAndGrace kills a real ssmirror with SIGKILL before each
// write it sends the store (products files, state, index files, uploads,
// deletes) in two sequences, and checks the target as a client sees it
// after each kill and after the re-run:
//   - overwrite: upstream changes the bytes of a published item at the same
//     path; at no step may the published metadata name the path with bytes
//     it does not hold;
//   - grace: after a partial run that left the upstream index.sjson live, a
//     full run replaces it; at no step may the files it named be deleted,
//     however long ago the partial run was.
func TestCrashOverwriteAndGrace(t *testing.T) {
	if testing.Short() {
		t.Skip("kills many processes")
	}
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	k, endpoint := newKillProxy(t, srv.Endpoint)
	step := killPoint{steps: writes}
	bucket := srv.NewBucket(t)
	open := func(prefix string) target.Store {
		st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: prefix, Endpoint: srv.Endpoint, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	type scenario struct {
		name string
		// setup brings prefix to the starting state and returns the
		// arguments of the run to kill.
		setup func(t *testing.T, prefix string) []string
		// check looks at the target after a kill and after the re-run.
		check func(t *testing.T, st target.Store, label string)
		// done checks the target after the re-run.
		done func(t *testing.T, st target.Store, label string)
	}
	var f *fixture
	var treeA, treeB *upstream.Tree
	args := func(prefix string, extra ...string) []string {
		a := append([]string{"sync", "--keyring", f.keyring, "--endpoint", endpoint, "--path-style", "--part-size", "5MiB", "--multipart-threshold", "5MiB",
			"--transfers", "3", "--retries", "1", "--retry-delay", "10ms"}, extra...)
		return append(append(a, f.srv.Root(), "s3://"+bucket+"/"+prefix), maasFilter...)
	}

	// The overwrite: the squashfs, shared by two products and big
	// enough for a multipart upload, changes in place.
	const squash = "noble/amd64/20250709/squashfs"
	f = newFixture(t)
	ovF := f
	ovItems := map[string][]byte{squash: upstream.Payload(squash, 11<<20+123)}
	f.rebuildWith(t, ovItems)
	ovA := f.tree
	ovItems = map[string][]byte{squash: upstream.Payload("changed "+squash, 11<<20+7)}
	f.rebuildWith(t, ovItems)
	ovB := f.tree
	overwrite := scenario{
		name: "overwrite",
		setup: func(t *testing.T, prefix string) []string {
			f = ovF
			f.srv.Set(ovA)
			cleanRun(t, k, step, 0, args(prefix))
			f.srv.Set(ovB)
			return args(prefix)
		},
		check: func(t *testing.T, st target.Store, label string) {
			if !hasKey(st, plan.IndexJSON) {
				t.Errorf("%s: no index is published", label)
			}
			crashCheck(t, st, f.key.Keyring(), label)
		},
		done: func(t *testing.T, st target.Store, label string) {
			f.tree, f.pending = ovB, map[string]bool{}
			f.checkJSON(t, st, f.expected())
		},
	}

	// The grace sequence: a full run, a partial run (one item of a new
	// version fails), then, long after, the full run to kill.
	f = newFixture(t)
	grF := f
	treeA = f.tree
	replacedFiles := replaceVersion(t, f, gaNoble, "20991231")
	if err := upstream.AddVersion(f.docs[0], gaJammy, newestVersion(t, f.docs[0], gaJammy), "20991231"); err != nil {
		t.Fatal(err)
	}
	f.build(t)
	treeB = f.tree
	grace := scenario{
		name: "grace",
		setup: func(t *testing.T, prefix string) []string {
			f = grF
			f.srv.Set(treeA)
			cleanRun(t, k, step, 0, args(prefix, "--gc-grace", "1h"))
			f.srv.Set(treeB)
			failPaths(f, "jammy/amd64/20991231/squashfs")
			cleanRun(t, k, step, 3, args(prefix, "--gc-grace", "1h"))
			f.srv.SetHook(nil)
			ageState(t, open(prefix), 2*time.Hour)
			return args(prefix, "--gc-grace", "1h")
		},
		check: func(t *testing.T, st target.Store, label string) {
			if !hasKey(st, plan.IndexJSON) {
				t.Errorf("%s: no index is published", label)
			}
			crashCheck(t, st, f.key.Keyring(), label)
			for _, p := range replacedFiles {
				if !hasKey(st, p) {
					t.Errorf("%s: %s, named by the index.sjson this run replaced, was deleted", label, p)
				}
			}
		},
		done: func(t *testing.T, st target.Store, label string) {
			f.tree, f.pending = treeB, map[string]bool{}
			for p := range treeA.Files {
				f.pending[p] = true // the replaced versions, within their grace period
			}
			f.checkMirror(t, st, f.expected())
		},
	}

	points := 0
	for _, sc := range []scenario{overwrite, grace} {
		// Count the steps of an uninterrupted run.
		run := sc.setup(t, "ref-"+sc.name)
		cleanRun(t, k, step, 0, run)
		total := k.counted()
		if _, log, _ := k.fired(); total < 5 {
			t.Fatalf("%s: only %d steps:\n%s", sc.name, total, strings.Join(log, "\n"))
		}
		for at := int64(1); at <= total; at++ {
			label := fmt.Sprintf("%s/kill-before-step-%d", sc.name, at)
			prefix := strings.ReplaceAll(label, "/", "-")
			run := sc.setup(t, prefix)
			if !killedRun(t, k, killPoint{at: at, steps: writes}, run) {
				continue // finished before the kill point (the order varies)
			}
			points++
			st := open(prefix)
			sc.check(t, st, label)
			cleanRun(t, k, step, 0, run)
			sc.check(t, st, label+"/re-run")
			sc.done(t, st, label+"/re-run")
		}
	}
	t.Logf("killed ssmirror before %d steps", points)
}

// TestKillBetweenStateAndIndex: a run killed after it wrote the garbage
// collection state but before the index leaves pending keys that the live
// index still names. Re-run long after the grace period, it deletes
// nothing the live index names: their grace period starts again.
func TestKillBetweenStateAndIndex(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	k, endpoint := newKillProxy(t, srv.Endpoint)
	step := killPoint{steps: &steps{"index", func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+plan.IndexJSON)
	}}}
	bucket := srv.NewBucket(t)
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	args := syncArgsFor(f, "s3://"+bucket+"/m", []string{"--endpoint", endpoint, "--path-style"}, "--gc-grace", "1h")
	cleanRun(t, k, step, 0, args)
	index := readKey(t, st, plan.IndexJSON)
	oldFiles := replaceVersion(t, f, gaNoble, "20991231")
	f.build(t)
	if !killedRun(t, k, killPoint{at: 1, steps: step.steps}, args) {
		t.Fatal("the run was not killed at its index write")
	}
	if string(readKey(t, st, plan.IndexJSON)) != string(index) {
		t.Fatal("the index changed; the test is wrong")
	}
	gc, err := plan.DecodeGCState(readKey(t, st, plan.StateKey))
	if err != nil || gc.Pending[oldFiles[0]].IsZero() {
		t.Fatalf("the state written before the kill does not hold %s as pending: %v %v", oldFiles[0], gc, err)
	}
	ageState(t, st, 2*time.Hour)
	cleanRun(t, k, step, 0, args)
	for _, p := range oldFiles {
		if !hasKey(st, p) {
			t.Errorf("%s, named by the index that was live until this run, was deleted", p)
		}
	}
	f.pending = map[string]bool{}
	for _, p := range oldFiles {
		f.pending[p] = true
	}
	f.checkMirror(t, st, f.expected())
}
