package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/upstream"
)

// lxdTree builds an unsigned (.json only) stream of one product with two
// items, the LXD set-up, with item paths given.
func lxdTree(t *testing.T, paths ...string) *upstream.Tree {
	t.Helper()
	items := map[string]any{}
	for i, p := range paths {
		items[[]string{"lxd.tar.xz", "root.squashfs"}[i]] = map[string]any{"path": p, "size": json.Number("100"), "ftype": "x"}
	}
	doc := upstream.Doc{"format": "products:1.0", "content_id": "images", "datatype": "image-downloads",
		"products": map[string]any{"ubuntu:noble:amd64:default": map[string]any{
			"arch": "amd64", "release": "noble", "versions": map[string]any{"20250101_00:00": map[string]any{"items": items}}}}}
	tree, err := upstream.Build([]upstream.Doc{doc}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestReservedPathsRefused: an unsigned upstream whose catalog names the
// tool's own keys (its state, its lease, the index) as a products file or
// an item is refused before anything is written: exit 1, the message
// names the file and the path, and the target holds nothing but the
// (released) lease.
func TestReservedPathsRefused(t *testing.T) {
	cases := []struct {
		name   string
		tree   func(t *testing.T) *upstream.Tree
		file   string // the upstream file the error names
		path   string
		second bool // a previous good run published a mirror there
	}{
		{"products file at the state", func(t *testing.T) *upstream.Tree {
			tr := lxdTree(t, "images/a/lxd.tar.xz", "images/a/root.squashfs")
			tr.Files[".ssmirror/state.json"] = tr.Files["streams/v1/images.json"]
			delete(tr.Files, "streams/v1/images.json")
			tr.Files["streams/v1/index.json"] = bytes.ReplaceAll(tr.Files["streams/v1/index.json"],
				[]byte(`"streams/v1/images.json"`), []byte(`".ssmirror/state.json"`))
			return tr
		}, "streams/v1/index.json", ".ssmirror/state.json", false},
		{"item at the lease", func(t *testing.T) *upstream.Tree {
			return lxdTree(t, "images/a/lxd.tar.xz", ".ssmirror/lease.json")
		}, "streams/v1/images.json", ".ssmirror/lease.json", false},
		{"item at the index", func(t *testing.T) *upstream.Tree {
			return lxdTree(t, "images/a/lxd.tar.xz", "streams/v1/index.json")
		}, "streams/v1/images.json", "streams/v1/index.json", true},
		{"item at its products file", func(t *testing.T) *upstream.Tree {
			return lxdTree(t, "images/a/lxd.tar.xz", "streams/v1/images.json")
		}, "streams/v1/images.json", "streams/v1/images.json", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "mirror")
			srv := upstream.Serve(t, lxdTree(t, "images/a/lxd.tar.xz", "images/a/root.squashfs"))
			start := srv.URL + "/streams/v1/index.json"
			var before map[string][]byte
			if c.second {
				if out, errOut, code := run(t, "sync", start, dir); code != 0 {
					t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
				}
				before = files(t, dir)
			}
			srv.Set(c.tree(t))
			out, errOut, code := run(t, "sync", start, dir)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
			}
			if !strings.Contains(errOut, srv.URL+"/"+c.file) || !strings.Contains(errOut, `"`+c.path+`"`) {
				t.Errorf("stderr does not name %s and %q:\n%s", c.file, c.path, errOut)
			}
			after := files(t, dir)
			if !c.second {
				for k := range after {
					t.Errorf("%s was written", k)
				}
				return
			}
			for k, v := range after {
				if !bytes.Equal(before[k], v) {
					t.Errorf("%s was changed", k)
				}
			}
			if len(after) != len(before) {
				t.Errorf("target holds %d files, want %d", len(after), len(before))
			}
		})
	}
}

// files returns the files under dir by slash path, the (released) lease
// excepted.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == ".ssmirror/lease.json" {
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = b
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// TestDirTargetSymlink: a symbolic link inside a directory target that
// leads outside it is never written through: the items below it fail,
// naming the key, the run is partial (exit 3), and nothing appears
// outside the target.
func TestDirTargetSymlink(t *testing.T) {
	base := t.TempDir()
	dir, outside := filepath.Join(base, "mirror"), filepath.Join(base, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "images")); err != nil {
		t.Fatal(err)
	}
	srv := upstream.Serve(t, lxdTree(t, "images/a/lxd.tar.xz", "images/a/root.squashfs"))
	out, errOut, code := run(t, "sync", "--retries", "1", srv.URL+"/streams/v1/index.json", dir)
	if code != exitPartial || !strings.Contains(out+errOut, "images/a/lxd.tar.xz") || !strings.Contains(out+errOut, "symbolic link") {
		t.Errorf("exit %d, want %d naming the key and the link:\n%s%s", code, exitPartial, out, errOut)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("%d entries were written outside the target", len(entries))
	}
}
