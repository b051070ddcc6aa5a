package source_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/fakeclock"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
)

// throttled reads a real upstream at rate bytes a second of a fake clock:
// each read of a body advances the clock by the read's time at the rate,
// so the measurements are the same on any machine.
type throttled struct {
	source.RangeFetcher
	clock *fakeclock.Clock
	rate  int64
}

func (f throttled) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	return f.FetchRange(ctx, p, 0)
}

func (f throttled) FetchRange(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	rc, size, err := f.RangeFetcher.FetchRange(ctx, p, offset)
	if err != nil {
		return nil, 0, err
	}
	return throttledBody{rc, f}, size, nil
}

type throttledBody struct {
	io.ReadCloser
	f throttled
}

func (b throttledBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.f.clock.Advance(time.Duration(int64(n) * int64(time.Second) / b.f.rate))
	return n, err
}

// TestFailoverByRate reads items from a primary upstream throttled to
// 1 MiB/s (on the measurements' fake clock) and a mirror that is not
// (its reads take no time on that clock): small items come from the primary; the first big one
// probes the mirror (the primary is measured already) and comes from it,
// as do the later big ones; metadata-sized reads never move; when the
// chosen mirror fails, the big item still comes, from the primary.
func TestFailoverByRate(t *testing.T) {
	const (
		big   = 4 << 20
		probe = 64 << 10
	)
	tree := &upstream.Tree{Files: map[string][]byte{
		"small":  upstream.Payload("small", 512<<10),
		"big1":   upstream.Payload("big1", big),
		"big2":   upstream.Payload("big2", big),
		"broken": upstream.Payload("broken", big),
	}}
	primarySrv := upstream.Serve(t, tree)
	mirrorSrv := upstream.Serve(t, tree)
	mirrorSrv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/broken" {
			return false
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	})
	clock := fakeclock.New(time.Time{})
	primaryHTTP, err := source.NewHTTP(primarySrv.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	primary := throttled{primaryHTTP, clock, 1 << 20}
	mirror, err := source.NewHTTP(mirrorSrv.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := source.NewFailover(primary, mirror)
	f.BigItem, f.Probe, f.Now = 1<<20, probe, clock.Now
	var notified []string
	f.Notify = func(p, from string, err error) { notified = append(notified, p) }

	ctx := context.Background()
	read := func(p string, sized bool) {
		t.Helper()
		c := ctx
		if sized {
			c = source.WithSize(ctx, int64(len(tree.Files[p])))
		}
		rc, _, err := f.Fetch(c, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, tree.Files[p]) {
			t.Fatalf("%s: %v, %d bytes, want the file's %d", p, err, len(got), len(tree.Files[p]))
		}
	}
	want := func(step string, fromPrimary, fromMirror int64) {
		t.Helper()
		b := f.Bytes()
		if b[0].Bytes != fromPrimary || b[1].Bytes != fromMirror {
			t.Errorf("%s: %d bytes from the primary, %d from the mirror; want %d and %d", step, b[0].Bytes, b[1].Bytes, fromPrimary, fromMirror)
		}
		if (b[0].Bytes > 0) != (b[0].Rate > 0) || (b[1].Bytes > 0) != (b[1].Rate > 0) {
			t.Errorf("%s: rates %v and %v for %d and %d bytes", step, b[0].Rate, b[1].Rate, b[0].Bytes, b[1].Bytes)
		}
	}

	small := int64(len(tree.Files["small"]))
	read("small", true)
	want("a small item", small, 0)
	read("big1", false) // size unknown: the first source
	want("an item of unknown size", small+big, 0)
	read("big1", true)
	want("the first big item", small+big, probe+big)
	if r := f.Bytes(); math.Abs(r[0].Rate-1<<20) > 1 || r[1].Rate <= r[0].Rate {
		t.Errorf("rates: primary %.0f B/s (throttled to %d), mirror %.0f B/s", r[0].Rate, 1<<20, r[1].Rate)
	}
	read("big2", true)
	want("the second big item (no probe)", small+big, probe+2*big)
	read("broken", true)
	want("a big item the mirror fails", small+2*big, probe+2*big)
	if len(notified) != 2 || notified[0] != "big1" || notified[1] != "big2" {
		t.Errorf("told of reads from the mirror: %v, want big1, big2", notified)
	}
}

// TestFailoverOffset: a Fetch reads a source from its start, also one that
// cannot read from an offset; a FetchRange reads from the offset, from a
// source that can, and fails with ErrNoResume where none can.
func TestFailoverOffset(t *testing.T) {
	ctx := context.Background()
	st, err := dirstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "item", strings.NewReader("0123456789"), 10, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	read := func(rc io.ReadCloser, _ int64, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ranged := source.Store{Store: st}
	whole := struct{ source.Fetcher }{ranged} // without FetchRange
	if got := read(source.NewFailover(whole).Fetch(ctx, "item")); got != "0123456789" {
		t.Errorf("Fetch = %q, want the whole item", got)
	}
	if got := read(source.NewFailover(ranged).FetchRange(ctx, "item", 4)); got != "456789" {
		t.Errorf("FetchRange at 4 = %q, want the item from byte 4", got)
	}
	if _, _, err := source.NewFailover(whole).FetchRange(ctx, "item", 4); !errors.Is(err, source.ErrNoResume) {
		t.Errorf("FetchRange at 4 from a source without ranges = %v, want ErrNoResume", err)
	}
}

// TestFailoverProbe: a source is probed before an item of BigItem bytes or
// more (not one byte less) when there is another source to choose; a single
// source is never probed.
func TestFailoverProbe(t *testing.T) {
	const size = 256 << 10
	for _, c := range []struct {
		name    string
		sources int
		bigItem int64
		// The requests of the item, by source. With a probe of each, the
		// faster one (on the real clock: either) reads the item.
		want []string
	}{
		{"an item of exactly BigItem bytes", 2, size, []string{"[1 2]", "[2 1]"}},
		{"an item a byte short of it", 2, size + 1, []string{"[1 0]"}},
		{"one source", 1, size, []string{"[1]"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tree := &upstream.Tree{Files: map[string][]byte{"item": upstream.Payload("item", size)}}
			var (
				srvs    []*upstream.Server
				fetches []source.Fetcher
			)
			for range c.sources {
				srv := upstream.Serve(t, tree)
				h, err := source.NewHTTP(srv.Root(), nil)
				if err != nil {
					t.Fatal(err)
				}
				srvs, fetches = append(srvs, srv), append(fetches, h)
			}
			f := source.NewFailover(fetches...)
			f.BigItem, f.Probe = c.bigItem, 1024
			rc, _, err := f.Fetch(source.WithSize(context.Background(), size), "item")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, tree.Files["item"]) {
				t.Fatalf("read %d bytes: %v", len(got), err)
			}
			var reqs []int
			for _, srv := range srvs {
				reqs = append(reqs, srv.Requests("item"))
			}
			if !slices.Contains(c.want, fmt.Sprint(reqs)) {
				t.Errorf("requests of the item by source %v, want one of %v", reqs, c.want)
			}
		})
	}
}

// TestFailoverLastGoesLast: a file read again (a verify that failed, a
// retry) starts from another source than the one it was last read from.
func TestFailoverLastGoesLast(t *testing.T) {
	tree := &upstream.Tree{Files: map[string][]byte{"file": upstream.Payload("file", 1000)}}
	var fetches []source.Fetcher
	for range 2 {
		h, err := source.NewHTTP(upstream.Serve(t, tree).Root(), nil)
		if err != nil {
			t.Fatal(err)
		}
		fetches = append(fetches, h)
	}
	f := source.NewFailover(fetches...)
	var from []int64
	for range 3 {
		rc, _, err := f.Fetch(context.Background(), "file")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
		from = append(from, f.Bytes()[0].Bytes, f.Bytes()[1].Bytes)
	}
	if got, want := fmt.Sprint(from), "[1000 0 1000 1000 2000 1000]"; got != want {
		t.Errorf("bytes by source after each read %s, want %s (first, second, first)", got, want)
	}
}
