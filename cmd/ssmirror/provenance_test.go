package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/target"
)

const (
	gaNoble   = "com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04"
	gaJammy   = "com.ubuntu.maas.stable:v3:boot:22.04:amd64:ga-22.04"
	nobleKern = "noble/amd64/20250709/ga-24.04/generic/boot-kernel"
	nobleZ    = "noble/amd64/20250709/ga-24.04/generic/extra"
)

// addItem adds an item to a version of a product of the fixture's images
// document (its size and checksums are set by upstream.Build).
func addItem(t *testing.T, f *fixture, product, version, item, path string) {
	t.Helper()
	prod := f.docs[0]["products"].(map[string]any)[product].(map[string]any)
	v := prod["versions"].(map[string]any)[version].(map[string]any)
	v["items"].(map[string]any)[item] = map[string]any{"ftype": item, "path": path, "size": json.Number("1000"), "sha256": ""}
}

// rebuildWith regenerates the fixture's tree with explicit payloads.
func (f *fixture) rebuildWith(t *testing.T, items map[string][]byte) {
	t.Helper()
	tree, err := upstream.Build(f.docs, upstream.Options{Scale: scale, Key: f.key, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	f.tree = tree
	f.srv.Set(tree)
}

// replaceVersion makes upstream publish a new version of a product of the
// images document and drop its newest one, so that the upstream signed
// catalog no longer names the dropped version's files. It returns their
// paths.
func replaceVersion(t *testing.T, f *fixture, product, to string) []string {
	t.Helper()
	old := newestVersion(t, f.docs[0], product)
	if err := upstream.AddVersion(f.docs[0], product, old, to); err != nil {
		t.Fatal(err)
	}
	vers := f.docs[0]["products"].(map[string]any)[product].(map[string]any)["versions"].(map[string]any)
	var paths []string
	for _, it := range vers[old].(map[string]any)["items"].(map[string]any) {
		paths = append(paths, it.(map[string]any)["path"].(string))
	}
	delete(vers, old)
	sort.Strings(paths)
	return paths
}

// failPaths makes the upstream answer 500 for the given item paths.
func failPaths(f *fixture, paths ...string) {
	f.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		for _, p := range paths {
			if strings.HasSuffix(r.URL.Path, "/"+p) {
				http.Error(w, "broken", http.StatusInternalServerError)
				return true
			}
		}
		return false
	})
}

// corruptPaths makes the upstream send wrong bytes (of the right length)
// for the given item paths.
func corruptPaths(f *fixture, paths ...string) {
	f.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		for _, p := range paths {
			if strings.HasSuffix(r.URL.Path, "/"+p) {
				w.Write(make([]byte, len(f.tree.Files[p])))
				return true
			}
		}
		return false
	})
}

// mustRun runs the command line in-process, wants exit status want, and
// returns the output.
func mustRun(t *testing.T, what string, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, code := run(t, args...)
	if code != want {
		t.Fatalf("%s: exit %d, want %d\n%s%s", what, code, want, out, errOut)
	}
	return out, errOut
}

// ageState moves every time in the target's garbage collection state back
// by d, as if d had passed since the runs that wrote it.
func ageState(t *testing.T, st target.Store, d time.Duration) {
	t.Helper()
	gc, err := plan.DecodeGCState(readKey(t, st, plan.StateKey))
	if err != nil {
		t.Fatal(err)
	}
	for k, since := range gc.Pending {
		gc.Pending[k] = since.Add(-d)
	}
	body, _ := json.Marshal(gc)
	putKey(t, st, plan.StateKey, body)
}

func syncArgsFor(f *fixture, dst string, flags []string, extra ...string) []string {
	args := append(append(append([]string{"sync", "--keyring", f.keyring, "--retries", "1", "--retry-delay", "10ms"}, flags...), extra...), f.srv.Root(), dst)
	return append(args, maasFilter...)
}

// TestOverwriteThenPartial: upstream changes the bytes of a published item
// at the same path and adds an item that fails its checksum. The run warns
// about the overwrite, exits 4, and the published metadata never names the
// overwritten path with its old size and checksum: verify --checksums
// passes after it, and the next healthy run completes the mirror.
func TestOverwriteThenPartial(t *testing.T) {
	for _, tc := range targets() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dst, flags, st := tc.open(t)
			args := syncArgsFor(f, dst, flags)
			mustRun(t, "first sync", 0, args...)
			oldKernel := readKey(t, st, nobleKern)
			addItem(t, f, gaNoble, "20250709", "extra", nobleZ)
			f.rebuildWith(t, map[string][]byte{nobleKern: upstream.Payload("changed "+nobleKern, int64(len(oldKernel))+3)})
			corruptPaths(f, nobleZ)
			_, errOut := mustRun(t, "second sync", 4, args...)
			if !strings.Contains(errOut, nobleKern+" changes in place") {
				t.Errorf("no warning about the overwrite:\n%s", errOut)
			}
			verify := append(append([]string{"verify", "--checksums", "--keyring", f.keyring}, flags...), dst)
			if out, errOut, code := run(t, verify...); code != 0 {
				t.Errorf("verify --checksums after the partial run: exit %d\n%s%s", code, out, errOut)
			}
			crashCheck(t, st, f.key.Keyring(), "after the partial run")
			if idx := string(readKey(t, st, "streams/v1/"+imagesCID+".json")); strings.Contains(idx, nobleKern) {
				t.Errorf("the products file still names %s", nobleKern)
			}
			f.srv.SetHook(nil)
			mustRun(t, "healthy sync", 0, args...)
			f.pending = map[string]bool{}
			f.checkMirror(t, st, f.expected())
			if out, errOut, code := run(t, verify...); code != 0 {
				t.Errorf("verify --checksums at the end: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// TestGraceAfterPartialRun (upstream signed mode): upstream replaces a
// version; a partial run advances index.json but keeps the upstream
// index.sjson that still names the replaced version. A later full run
// replaces index.sjson: that is when the replaced version stops being
// referenced, so its files stay for the grace period from then, not from
// the partial run.
func TestGraceAfterPartialRun(t *testing.T) {
	for _, tc := range targets() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dst, flags, st := tc.open(t)
			args := syncArgsFor(f, dst, flags, "--gc-grace", "3s")
			mustRun(t, "full run", 0, args...)
			oldFiles := replaceVersion(t, f, gaNoble, "20991231")
			if err := upstream.AddVersion(f.docs[0], gaJammy, newestVersion(t, f.docs[0], gaJammy), "20991231"); err != nil {
				t.Fatal(err)
			}
			f.build(t)
			failPaths(f, "jammy/amd64/20991231/squashfs")
			mustRun(t, "partial run", 3, args...)
			sjson := readKey(t, st, plan.IndexSJSON)
			ageState(t, st, time.Hour) // long past the grace period
			f.srv.SetHook(nil)
			mustRun(t, "full run", 0, args...)
			if string(readKey(t, st, plan.IndexSJSON)) == string(sjson) {
				t.Fatal("the full run did not replace index.sjson; the test is wrong")
			}
			for _, p := range oldFiles {
				if !hasKey(st, p) {
					t.Errorf("%s was deleted by the run that replaced the index.sjson naming it", p)
				}
			}
			// After the grace period from then, they go.
			ageState(t, st, time.Hour)
			mustRun(t, "last run", 0, args...)
			for _, p := range oldFiles {
				if hasKey(st, p) {
					t.Errorf("%s is still there after the grace period", p)
				}
			}
		})
	}
}

// foreignKeys are objects another application (or a nested mirror) keeps
// under the mirror's prefix.
var foreignKeys = []string{"README-operator.txt", "other-app/data.bin", "X/.ssmirror/state.json", "X/streams/v1/index.json"}

// TestLostStateKeepsForeign: with the state deleted, a sync with no grace
// period deletes nothing: not the objects the tool's published metadata
// never named, which the plan reports as kept, not ours; and not the files
// of a version that leaves the mirror in that run, since without its state
// the tool cannot prove that it published the index naming them.
func TestLostStateKeepsForeign(t *testing.T) {
	for _, tc := range targets() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dst, flags, st := tc.open(t)
			args := syncArgsFor(f, dst, flags, "--gc-grace", "0s")
			mustRun(t, "sync", 0, args...)
			for _, k := range foreignKeys {
				putKey(t, st, k, []byte("not the mirror's: "+k))
			}
			if err := st.Delete(context.Background(), plan.StateKey); err != nil {
				t.Fatal(err)
			}
			replaced := replaceVersion(t, f, gaNoble, "20991231")
			f.build(t)
			out, _ := mustRun(t, "plan", 0, append([]string{"plan"}, args[1:]...)...)
			for _, k := range foreignKeys {
				if !strings.Contains(out, "keep "+k) || !strings.Contains(out, "kept, not ours") {
					t.Errorf("the plan does not report %s as kept, not ours:\n%s", k, out)
				}
			}
			mustRun(t, "sync without state", 0, args...)
			f.pending = map[string]bool{}
			for _, k := range append(foreignKeys, replaced...) {
				if !hasKey(st, k) {
					t.Errorf("%s was deleted", k)
				}
				f.pending[k] = true
			}
			f.checkMirror(t, st, f.expected())
		})
	}
}

// TestCorruptState: an unreadable state.json is reported, rebuilt, and
// deletes nothing, even with no grace period: not the files of a version
// that was pending in it, not foreign objects.
func TestCorruptState(t *testing.T) {
	for _, tc := range targets() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dst, flags, st := tc.open(t)
			args := syncArgsFor(f, dst, flags)
			mustRun(t, "sync", 0, args...)
			old := newestVersion(t, f.docs[0], gaNoble)
			if err := upstream.AddVersion(f.docs[0], gaNoble, old, "20991231"); err != nil {
				t.Fatal(err)
			}
			f.build(t)
			mustRun(t, "update", 0, args...)
			oldKernel := "noble/amd64/" + old + "/ga-24.04/generic/boot-kernel"
			if !hasKey(st, oldKernel) {
				t.Fatal("the dropped version is gone before its grace period; the test is wrong")
			}
			putKey(t, st, foreignKeys[0], []byte("operator notes"))
			putKey(t, st, plan.StateKey, []byte(`{"version": 1, "pending": {`))
			_, errOut := mustRun(t, "sync with a corrupt state", 0, syncArgsFor(f, dst, flags, "--gc-grace", "0s")...)
			if !strings.Contains(errOut, "warning: "+st.String()) || !strings.Contains(errOut, plan.StateKey+" is unusable") || !strings.Contains(errOut, "rebuilt") {
				t.Errorf("no warning about the corrupt state:\n%s", errOut)
			}
			if strings.Contains(errOut, "deleted ") {
				t.Errorf("a run with a corrupt state deleted objects:\n%s", errOut)
			}
			for _, k := range []string{oldKernel, foreignKeys[0]} {
				if !hasKey(st, k) {
					t.Errorf("%s was deleted", k)
				}
			}
			if _, err := plan.DecodeGCState(readKey(t, st, plan.StateKey)); err != nil {
				t.Errorf("the state was not rebuilt: %v", err)
			}
		})
	}
}
