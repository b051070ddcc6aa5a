package dirstore

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/storetest"
)

func newStore(t *testing.T) target.Store {
	s, err := New(filepath.Join(t.TempDir(), "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkNoTemp fails if a temporary file is left below the store's root.
func checkNoTemp(t *testing.T, st target.Store) {
	t.Helper()
	root := st.(*Store).Root()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walking %s: %v", root, err)
			return nil
		}
		if !d.IsDir() && isTempName(d.Name()) && d.Name() != lockName {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestConformance(t *testing.T) {
	storetest.RunOptions(t, newStore, storetest.Options{CheckClean: checkNoTemp})
}

func TestNewCreatesRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "b")
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("root not created: %v", err)
	}
	if s.String() != root {
		t.Errorf("String() = %q, want %q", s.String(), root)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := New(f); err == nil {
		t.Error("New on a file succeeded")
	}
}

func TestValidateKey(t *testing.T) {
	for _, k := range []string{"a", "a/b", "images/x:y/z.tar.xz", ".hidden", "a/.b", "a..b", "ünï"} {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", "/a", "a/", "a//b", ".", "..", "a/../b", "a/./b", `a\b`, "a\x00", "a\x7f", "a\tb", "\xff", "a/.b.tmp-123"} {
		if err := ValidateKey(k); err == nil {
			t.Errorf("ValidateKey(%q) succeeded", k)
		}
	}
}

func TestTempFilesSkipped(t *testing.T) {
	st := newStore(t).(*Store)
	ctx := context.Background()
	if _, err := st.Put(ctx, "d/x", strings.NewReader("x"), 1, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// A temporary file left by a crash.
	os.WriteFile(filepath.Join(st.Root(), "d", ".y.tmp-123"), []byte("partial"), 0o600)
	var keys []string
	st.List(ctx, "", func(o target.Object) error { keys = append(keys, o.Key); return nil })
	if strings.Join(keys, ",") != "d/x" {
		t.Errorf("List = %q, want [d/x]", keys)
	}
}

// TestFileDirConflict: an object cannot be both a file and a directory;
// the error names the object in the way.
func TestFileDirConflict(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	for _, k := range []string{"a", "x/y"} {
		if _, err := st.Put(ctx, k, strings.NewReader("x"), 1, target.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for key, in := range map[string]string{"a/b": "a", "x/y/z": "x/y"} {
		_, err := st.Put(ctx, key, strings.NewReader("y"), 1, target.PutOptions{})
		_, rerr := st.(*Store).PutResumable(ctx, key, 1, sha([]byte("y")), target.PutOptions{},
			func(target.Resumed) (io.Reader, error) { return strings.NewReader("y"), nil })
		for op, err := range map[string]error{"Put": err, "PutResumable": rerr} {
			if err == nil {
				t.Fatalf("%s(%s) over file %s succeeded", op, key, in)
			}
			if want := in + " is an object, so it cannot also be a directory"; !strings.Contains(err.Error(), want) {
				t.Errorf("%s(%s): %v, want it to say %q", op, key, err, want)
			}
		}
	}
	if _, err := st.Put(ctx, "c/d", strings.NewReader("y"), 1, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "c", strings.NewReader("x"), 1, target.PutOptions{}); err == nil {
		t.Fatal("Put(c) over directory c succeeded")
	} else if !strings.Contains(err.Error(), "a directory of other objects has this name") {
		t.Errorf("Put(c): %v, want it to say a directory has the name", err)
	}
	checkNoTemp(t, st)
}

// TestOpenAtEmpty: an empty object opens at offset 0 and reads nothing.
func TestOpenAtEmpty(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	if _, err := st.Put(ctx, "empty", strings.NewReader(""), 0, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, obj, err := st.(*Store).OpenAt(ctx, "empty", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, err := io.ReadAll(rc); err != nil || len(b) != 0 || obj.Size != 0 {
		t.Errorf("read %q, %v, size %d", b, err, obj.Size)
	}
}

func TestDeletePrunesEmptyDirs(t *testing.T) {
	st := newStore(t).(*Store)
	ctx := context.Background()
	st.Put(ctx, "a/b/c/d", strings.NewReader("x"), 1, target.PutOptions{})
	st.Put(ctx, "a/e", strings.NewReader("x"), 1, target.PutOptions{})
	if err := st.Delete(ctx, "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(st.Root(), "a", "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directory a/b not removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(st.Root(), "a", "e")); err != nil {
		t.Errorf("a/e: %v", err)
	}
	if _, err := os.Stat(st.Root()); err != nil {
		t.Errorf("root removed: %v", err)
	}
}

func TestFileMode(t *testing.T) {
	st := newStore(t).(*Store)
	if _, err := st.Put(context.Background(), "f", strings.NewReader("x"), 1, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(st.Root(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644 (world readable, for web servers)", fi.Mode())
	}
}

func TestListInvalidPrefix(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	if _, err := st.Put(ctx, "a/b", strings.NewReader("x"), 1, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../", "../a", "/a", "a//", "a/../a/", "/"} {
		n := 0
		if err := st.List(ctx, p, func(target.Object) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("List(%q) = %d objects, %v; want none", p, n, err)
		}
	}
}

// TestSymlinks: a symbolic link below the root, to a directory or a file
// outside it (or inside it), is never followed: Put, Open, Stat and
// Delete of a key through it fail naming the key and wrapping
// ErrSymlink, and nothing outside the root is written, read or deleted.
func TestSymlinks(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "f"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := New(filepath.Join(base, "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	root := st.Root()
	if err := os.MkdirAll(filepath.Join(root, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{
		"dir":      outside,                     // a directory outside
		"a/dir":    outside,                     // deeper
		"file":     filepath.Join(outside, "f"), // a file outside
		"indir":    filepath.Join(root, "in"),   // a directory inside
		"a/parent": "..",                        // relative, upwards
	} {
		p := filepath.Join(root, filepath.FromSlash(link))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(to, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"dir/f", "dir/new/x", "a/dir/f", "file", "indir/x", "a/parent/outside/f"} {
		refused := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), key) {
				t.Errorf("%s %s: err = %v, want ErrSymlink naming the key", op, key, err)
			}
		}
		_, err := st.Put(ctx, key, strings.NewReader("mirror"), 6, target.PutOptions{})
		refused("put", err)
		_, err = st.Put(ctx, key, strings.NewReader("mirror"), 6, target.PutOptions{IfAbsent: true})
		refused("put if absent", err)
		rc, _, err := st.Open(ctx, key)
		if err == nil {
			rc.Close()
		}
		refused("open", err)
		_, err = st.Stat(ctx, key)
		refused("stat", err)
		refused("delete", st.Delete(ctx, key))
	}
	// Nothing outside was touched, nothing was written through the
	// inner link either.
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("outside holds %d entries, want 1", len(entries))
	}
	if b, err := os.ReadFile(filepath.Join(outside, "f")); err != nil || string(b) != "outside" {
		t.Errorf("outside/f = %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "in")); len(entries) != 0 {
		t.Errorf("in/ holds %d entries, want 0", len(entries))
	}
	// A listing shows no link and nothing through one.
	var keys []string
	if err := st.List(ctx, "", func(o target.Object) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("List = %v, want nothing", keys)
	}
	// A root that is itself a link is the operator's choice: it works.
	if err := os.Symlink(root, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	ls, err := New(filepath.Join(base, "link"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ls.Put(ctx, "in/x", strings.NewReader("x"), 1, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestProbe: on this machine's file system the directory honours every
// capability, says so check by check, and leaves nothing behind.
func TestProbe(t *testing.T) {
	st := newStore(t).(*Store)
	p, err := st.Probe(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != target.KindDirectory || p.Capabilities != target.Full || len(p.Checks) != 3 {
		t.Fatalf("probe = %+v, want a directory honouring everything, with 3 checks", p)
	}
	for _, c := range p.Checks {
		if !c.OK || c.Got != c.Want {
			t.Errorf("check %q: got %q, want %q", c.Name, c.Got, c.Want)
		}
	}
	entries, err := os.ReadDir(st.Root())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("the probe left %s behind", e.Name())
	}
}

// TestProbeNoHardLinks: on a file system without link(2) (some FUSE and
// network file systems, FAT) the probe finds no conditional writes and
// names the call that failed; a Put with IfAbsent fails there instead
// of succeeding unconditionally.
func TestProbeNoHardLinks(t *testing.T) {
	link = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EPERM} }
	t.Cleanup(func() { link = os.Link })
	st := newStore(t).(*Store)
	p, err := st.Probe(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if p.ConditionalWrites || !p.Metadata || p.Checks[0].OK || !strings.Contains(p.Checks[0].Got, "operation not permitted") {
		t.Fatalf("probe = %+v, want no conditional writes, naming EPERM", p)
	}
	if _, err := st.Put(context.Background(), "lease", strings.NewReader("x"), 1, target.PutOptions{IfAbsent: true}); err == nil {
		t.Fatal("a Put with IfAbsent succeeded without link(2)")
	}
	checkNoTemp(t, st)
}
