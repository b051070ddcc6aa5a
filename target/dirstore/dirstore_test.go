package dirstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

func TestFileDirConflict(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	if _, err := st.Put(ctx, "a", strings.NewReader("x"), 1, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := st.Put(ctx, "a/b", strings.NewReader("y"), 1, target.PutOptions{})
	if err == nil {
		t.Fatal("Put(a/b) over file a succeeded")
	}
	t.Log(err)
	if _, err := st.Put(ctx, "c/d", strings.NewReader("y"), 1, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "c", strings.NewReader("x"), 1, target.PutOptions{}); err == nil {
		t.Fatal("Put(c) over directory c succeeded")
	} else {
		t.Log(err)
	}
	checkNoTemp(t, st)
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
