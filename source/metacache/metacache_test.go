package metacache_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/source/metacache"
	"github.com/ssmirror/ssmirror/target/dirstore"
)

// TestCache reads a signed upstream (a real HTTP server) through a cache
// kept in a directory store: the second read gets every document from the
// kept copies; a copy that is gone or altered is fetched whole again; and
// files the upstream no longer has are dropped from the record.
func TestCache(t *testing.T) {
	key, err := gpg.GenerateKey("test", "test@example.invalid", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kr, err := gpg.ParseKeyring("test", key.PublicKeyring())
	if err != nil {
		t.Fatal(err)
	}
	docs, err := upstream.MAASDocs("../../testdata/maas")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := upstream.Build(docs, upstream.Options{Scale: 100000, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := upstream.Serve(t, tree)
	h, err := source.NewHTTP(srv.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst, err := dirstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var held func(string) []byte // what the target publishes
	read := func() (*source.Mirror, *metacache.Cache) {
		t.Helper()
		c, err := metacache.Load(ctx, dst)
		if err != nil || c.Err != nil {
			t.Fatalf("load: %v, %v", err, c.Err)
		}
		m, err := source.Read(ctx, h, source.DefaultStart, source.Options{Keyring: kr, Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Save(ctx, m, held); err != nil {
			t.Fatal(err)
		}
		return m, c
	}
	m, _ := read()
	if len(m.Unchanged) != 0 || len(m.Validators) != 4 {
		t.Fatalf("first read: %d unchanged, %d with validators; want 0 and 4", len(m.Unchanged), len(m.Validators))
	}
	const idx = "streams/v1/index.sjson"
	before := srv.Bytes(idx)
	m, _ = read()
	if len(m.Unchanged) != 4 || srv.Bytes(idx) != before {
		t.Fatalf("second read: %d unchanged (want 4), %d bytes of the index fetched", len(m.Unchanged), srv.Bytes(idx)-before)
	}

	// A copy gone, another altered: both fetched whole.
	const products = "streams/v1/com.ubuntu.maas:stable:v3:download.sjson"
	if err := os.Remove(filepath.Join(dir, metacache.Dir+idx)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, metacache.Dir+products), []byte("not it"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := metacache.Load(ctx, dst)
	if _, err := c.Held(ctx, products); !errors.Is(err, metacache.ErrStale) {
		t.Errorf("altered copy: %v, want ErrStale", err)
	}
	m, _ = read()
	if len(m.Unchanged) != 2 || m.Unchanged[idx] || m.Unchanged[products] {
		t.Errorf("after losing two copies: unchanged %v, want the other two", m.Unchanged)
	}
	m, _ = read()
	if len(m.Unchanged) != 4 {
		t.Errorf("the copies were not kept again: unchanged %v", m.Unchanged)
	}

	// Upstream drops a products file: its copy goes.
	smaller, err := upstream.Build(docs[:2], upstream.Options{Scale: 100000, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	srv.Set(smaller)
	read()
	var kept []string
	filepath.Walk(filepath.Join(dir, metacache.Dir), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			kept = append(kept, p)
		}
		return nil
	})
	if len(kept) != 3 {
		t.Errorf("kept copies %v, want the index and two products files", kept)
	}

	// The target publishes the index byte for byte: it is its own copy,
	// and the one under .ssmirror/upstream/ goes.
	published := filepath.Join(dir, idx)
	if err := os.MkdirAll(filepath.Dir(published), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(published, smaller.Files[idx], 0o644); err != nil {
		t.Fatal(err)
	}
	held = func(p string) []byte {
		b, _ := os.ReadFile(filepath.Join(dir, p))
		return b
	}
	read()
	if _, err := os.Stat(filepath.Join(dir, metacache.Dir+idx)); !os.IsNotExist(err) {
		t.Errorf("the index is published, yet its copy is kept: %v", err)
	}
	before = srv.Bytes(idx)
	if m, _ = read(); !m.Unchanged[idx] || srv.Bytes(idx) != before {
		t.Errorf("the published index was not used as the copy: unchanged %v", m.Unchanged)
	}
	// The published file changes (another signing mode): the index is
	// fetched whole, and copied again.
	if err := os.WriteFile(published, []byte("rewritten"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, _ = read(); m.Unchanged[idx] {
		t.Error("a published copy that changed was used")
	}
	if _, err := os.Stat(filepath.Join(dir, metacache.Dir+idx)); err != nil {
		t.Errorf("the index was not copied again: %v", err)
	}
	if m, _ = read(); !m.Unchanged[idx] {
		t.Error("the new copy was not used")
	}
}
