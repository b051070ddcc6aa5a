package apply_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
)

type setup struct {
	docs []upstream.Doc
	srv  *upstream.Server
	tree *upstream.Tree
	src  source.Fetcher
	dst  target.Store // a directory unless a test sets another
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	docs, err := upstream.MAASDocs("../../testdata/maas")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := upstream.Build(docs, upstream.Options{Scale: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s := &setup{docs: docs, tree: tree, srv: upstream.Serve(t, tree)}
	if s.src, err = source.NewHTTP(s.srv.Root(), nil); err != nil {
		t.Fatal(err)
	}
	if s.dst, err = dirstore.New(filepath.Join(t.TempDir(), "m")); err != nil {
		t.Fatal(err)
	}
	return s
}

// rebuild makes the upstream serve the setup's documents built with opts
// (at the setup's scale).
func (s *setup) rebuild(t *testing.T, opts upstream.Options) {
	t.Helper()
	opts.Scale = 1 << 20
	tree, err := upstream.Build(s.docs, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.tree = tree
	s.srv.Set(tree)
}

// sync plans a sync of the whole upstream and runs it, and returns the
// plan.
func (s *setup) sync(t *testing.T) *plan.Plan {
	t.Helper()
	p := s.plan(t)
	if _, err := apply.Run(context.Background(), p, s.src, s.dst, apply.Options{}); err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *setup) plan(t *testing.T) *plan.Plan {
	t.Helper()
	ctx := context.Background()
	m, err := source.Read(ctx, s.src, "streams/v1/index.json", source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := apply.LoadState(ctx, s.dst, apply.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(m, st, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func has(st target.Store, key string) bool {
	_, err := st.Stat(context.Background(), key)
	return err == nil
}

// TestPartialFailure: an item that cannot be fetched keeps its product out
// of the published metadata; everything else is published; nothing is
// deleted; the error wraps ErrPartial and names the item.
func TestPartialFailure(t *testing.T) {
	s := newSetup(t)
	bad := "bootloaders/pxe/i386/20210203.0/syslinux.tar.xz"
	s.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, bad) {
			http.Error(w, "gone", http.StatusInternalServerError)
			return true
		}
		return false
	})
	res, err := apply.Run(context.Background(), s.plan(t), s.src, s.dst, apply.Options{Transfers: 4})
	if !errors.Is(err, apply.ErrPartial) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v, want ErrPartial naming %s", err, bad)
	}
	if len(res.Failed) != 1 || !res.IndexPublished {
		t.Errorf("result = %+v", res)
	}
	rc, _, err := s.dst.Open(context.Background(), "streams/v1/com.ubuntu.maas:stable:1:bootloader-download.json")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(rc)
	rc.Close()
	if strings.Contains(b.String(), "pxelinux:pxe:i386") || !strings.Contains(b.String(), "pxelinux:pxe:amd64") {
		t.Error("the failed product was published, or the others were not")
	}
	// The next run, with the upstream healthy, completes the mirror and
	// fetches only what is missing.
	s.srv.SetHook(nil)
	before := s.srv.Total()
	p := s.plan(t)
	var fetch []string
	for _, x := range p.Transfers {
		if !x.Adopt {
			fetch = append(fetch, x.Path)
		}
	}
	if len(fetch) != 1 || fetch[0] != bad {
		t.Fatalf("second plan fetches %v, want only %s (the rest arrived and is adopted)", fetch, bad)
	}
	res, err = apply.Run(context.Background(), p, s.src, s.dst, apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transferred != 1 || res.Adopted != len(p.Transfers)-1 {
		t.Errorf("second run: %+v", res)
	}
	if n := s.srv.Total() - before; n > 10 {
		t.Errorf("second run made %d upstream requests", n)
	}
}

// TestCancelled: a cancelled run publishes nothing.
func TestCancelled(t *testing.T) {
	s := newSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	s.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		cancel()
		return false
	})
	_, err := apply.Run(ctx, s.plan(t), s.src, s.dst, apply.Options{Transfers: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if has(s.dst, plan.IndexJSON) {
		t.Error("a cancelled run published the index")
	}
}

// TestAdopt: an object stored whole by an interrupted run (present, with
// the checksum it was stored with, but not in any published metadata) is
// kept, not fetched again; one stored with another checksum is replaced.
func TestAdopt(t *testing.T) {
	s := newSetup(t)
	p := s.plan(t)
	first, second := p.Transfers[0], p.Transfers[1]
	// As an interrupted run left them: the first stored after verifying
	// its SHA-256, the second stored without any (it must not be trusted).
	body := s.tree.Files[first.Path]
	sum := sha256.Sum256(body)
	if _, err := s.dst.Put(context.Background(), first.Path, bytes.NewReader(body), int64(len(body)), target.PutOptions{SHA256: sum[:]}); err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Repeat([]byte{'x'}, len(s.tree.Files[second.Path]))
	if _, err := s.dst.Put(context.Background(), second.Path, bytes.NewReader(wrong), int64(len(wrong)), target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	p = s.plan(t)
	res, err := apply.Run(context.Background(), p, s.src, s.dst, apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Adopted != 1 || s.srv.Requests(first.Path) != 0 || s.srv.Requests(second.Path) != 1 {
		t.Errorf("adopted %d; upstream GETs: kept object %d, replaced object %d", res.Adopted, s.srv.Requests(first.Path), s.srv.Requests(second.Path))
	}
}
