package apply_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/target"
)

// recorder is a store that records the options of each Put and fails the
// Puts of the keys in fail with their error (after reading the body, as a
// store that refuses it on arrival).
type recorder struct {
	target.Store
	fail       map[string]error
	failDelete error // every Delete fails with it

	mu   sync.Mutex
	puts map[string]target.PutOptions
}

func newRecorder(st target.Store) *recorder {
	return &recorder{Store: st, fail: map[string]error{}, puts: map[string]target.PutOptions{}}
}

func (r *recorder) Put(ctx context.Context, key string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	r.mu.Lock()
	r.puts[key] = opts
	err := r.fail[key]
	r.mu.Unlock()
	if err != nil {
		io.Copy(io.Discard, body)
		return "", err
	}
	return r.Store.Put(ctx, key, body, size, opts)
}

func (r *recorder) Delete(ctx context.Context, key string) error {
	if r.failDelete != nil {
		return r.failDelete
	}
	return r.Store.Delete(ctx, key)
}

func (r *recorder) put(key string) target.PutOptions {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.puts[key]
}

var errRefused = errors.New("refused by the test store")

// TestHeaders: items and metadata are stored with the Cache-Control of
// the options, the defaults when they are empty, and their content types.
func TestHeaders(t *testing.T) {
	for _, c := range []struct {
		name               string
		opts               apply.Options
		wantItem, wantMeta string
	}{
		{"defaults", apply.Options{}, apply.ItemCacheControl, apply.MetadataCacheControl},
		{"set", apply.Options{ItemCacheControl: "max-age=7", MetadataCacheControl: "no-store"}, "max-age=7", "no-store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t)
			rec := newRecorder(s.dst)
			p := s.plan(t)
			if _, err := apply.Run(context.Background(), p, s.src, rec, c.opts); err != nil {
				t.Fatal(err)
			}
			item := rec.put(p.Transfers[0].Path)
			if item.CacheControl != c.wantItem || item.ContentType != "application/octet-stream" {
				t.Errorf("item %s stored with Cache-Control %q, Content-Type %q; want %q, application/octet-stream",
					p.Transfers[0].Path, item.CacheControl, item.ContentType, c.wantItem)
			}
			index := rec.put(plan.IndexJSON)
			if index.CacheControl != c.wantMeta || index.ContentType != "application/json" {
				t.Errorf("%s stored with Cache-Control %q, Content-Type %q; want %q, application/json",
					plan.IndexJSON, index.CacheControl, index.ContentType, c.wantMeta)
			}
		})
	}
}

// TestTransferRetries: an item whose GET fails with a transient error, or
// whose bytes fail their checksum, is fetched again, up to the policy's
// attempts; one that is not there is not.
func TestTransferRetries(t *testing.T) {
	for _, c := range []struct {
		name  string
		fails int // the first GETs of the item that fail
		fault string
		gets  int    // GETs of the item wanted
		ok    bool   // the item is stored
		is    error  // the failure wraps it
		says  string // and says this
	}{
		{"transient errors, then served", 2, "503", 3, true, nil, ""},
		{"transient errors for good", 5, "503", 3, false, nil, "503"},
		{"bad bytes once", 1, "bad bytes", 2, true, nil, ""},
		// The reader's diagnosis, naming the upstream file, not the
		// store's view of the body it was given.
		{"bad bytes for good", 5, "bad bytes", 3, false, source.ErrIntegrity, "integrity check failed: sha256 is"},
		{"an empty answer", 5, "empty", 3, false, source.ErrIntegrity, "upstream sends 0 bytes, catalog says"},
		{"not there", 5, "404", 1, false, source.ErrNotExist, "404"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t)
			p := s.plan(t)
			item := p.Transfers[0].Path
			var mu sync.Mutex
			served := 0
			s.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/"+item) {
					return false
				}
				mu.Lock()
				served++
				n := served
				mu.Unlock()
				if n > c.fails {
					return false
				}
				switch c.fault {
				case "503":
					http.Error(w, "busy", http.StatusServiceUnavailable)
				case "404":
					http.NotFound(w, r)
				case "empty":
					w.Header().Set("Content-Length", "0")
				default:
					w.Write(bytes.Repeat([]byte{'x'}, int(p.Transfers[0].Size)))
				}
				return true
			})
			var notified []string
			opts := apply.Options{Retry: source.RetryPolicy{
				Attempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond,
				Notify: func(path string, attempt int, _ time.Duration, _ error) {
					notified = append(notified, fmt.Sprintf("%s#%d", path, attempt))
				},
			}}
			res, err := apply.Run(context.Background(), p, s.src, s.dst, opts)
			if got := s.srv.Requests(item); got != c.gets {
				t.Errorf("%d GETs of the item, want %d", got, c.gets)
			}
			var want []string
			for n := 2; n <= c.gets; n++ {
				want = append(want, fmt.Sprintf("%s#%d", item, n))
			}
			if fmt.Sprint(notified) != fmt.Sprint(want) {
				t.Errorf("told of the retries %v, want %v", notified, want)
			}
			switch {
			case c.ok && err != nil:
				t.Fatalf("run: %v", err)
			case c.ok && (!has(s.dst, item) || res.Transferred != len(p.Transfers)):
				t.Errorf("stored %v, %d of %d transferred", has(s.dst, item), res.Transferred, len(p.Transfers))
			case !c.ok && (!errors.Is(err, apply.ErrPartial) || has(s.dst, item)):
				t.Errorf("run: %v, item stored %v; want ErrPartial and nothing stored", err, has(s.dst, item))
			case !c.ok && len(res.Failed) != 1:
				t.Errorf("failures %v, want the item's", res.Failed)
			case !c.ok:
				ferr := res.Failed[0].Err
				if c.is != nil && !errors.Is(ferr, c.is) || !strings.Contains(ferr.Error(), c.says) ||
					!strings.HasPrefix(strings.TrimPrefix(ferr.Error(), "GET "), s.srv.Root()+item) {
					t.Errorf("failure %q, want one naming the upstream file %s%s, saying %q (%v)", ferr, s.srv.Root(), item, c.says, c.is)
				}
			}
		})
	}
}

// TestDeletesAfterIndex: the plan's deletes run only after its index is
// published; when publishing fails, nothing is deleted. A delete that
// fails leaves the run a success (the mirror is consistent without it),
// counted.
func TestDeletesAfterIndex(t *testing.T) {
	t.Run("delete refused", func(t *testing.T) {
		s := newSetup(t)
		ctx := context.Background()
		rec := newRecorder(s.dst)
		rec.failDelete = errRefused
		p := s.plan(t)
		p.Deletes = append(p.Deletes, plan.Delete{Path: "files/stray", Size: 3, Reason: "test"})
		res, err := apply.Run(ctx, p, s.src, rec, apply.Options{})
		if err != nil || res.Deleted != 0 || res.DeleteErrors != 1 || !res.IndexPublished {
			t.Errorf("run: %v, %+v; want success, the index published and 1 delete error", err, res)
		}
	})
	for _, fail := range []bool{false, true} {
		t.Run(map[bool]string{false: "published", true: "index refused"}[fail], func(t *testing.T) {
			s := newSetup(t)
			ctx := context.Background()
			const stray = "files/stray"
			if _, err := s.dst.Put(ctx, stray, strings.NewReader("old"), 3, target.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			rec := newRecorder(s.dst)
			if fail {
				rec.fail[plan.IndexJSON] = errRefused
			}
			p := s.plan(t)
			p.Deletes = append(p.Deletes, plan.Delete{Path: stray, Size: 3, Reason: "test"})
			res, err := apply.Run(ctx, p, s.src, rec, apply.Options{})
			if fail {
				if !errors.Is(err, errRefused) || !has(s.dst, stray) || res.Deleted != 0 {
					t.Errorf("run: %v, %d deleted, stray kept %v; want the store's error and nothing deleted", err, res.Deleted, has(s.dst, stray))
				}
				return
			}
			if err != nil || has(s.dst, stray) || res.Deleted != 1 {
				t.Errorf("run: %v, %d deleted, stray kept %v; want it deleted", err, res.Deleted, has(s.dst, stray))
			}
		})
	}
}

// TestPartialFailureIndexRefused: when an item fails and publishing the
// rest fails too, the error names both.
func TestPartialFailureIndexRefused(t *testing.T) {
	s := newSetup(t)
	p := s.plan(t)
	bad := p.Transfers[0].Path
	s.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/"+bad) {
			http.Error(w, "gone", http.StatusInternalServerError)
			return true
		}
		return false
	})
	rec := newRecorder(s.dst)
	rec.fail[plan.IndexJSON] = errRefused
	res, err := apply.Run(context.Background(), p, s.src, rec, apply.Options{})
	if !errors.Is(err, apply.ErrPartial) || !errors.Is(err, errRefused) || !strings.Contains(err.Error(), bad) {
		t.Errorf("err = %v, want ErrPartial naming %s and the store's refusal", err, bad)
	}
	if res.IndexPublished || has(s.dst, plan.IndexJSON) {
		t.Error("the index was published")
	}
}

// TestRetractThenPublish: upstream changes the bytes of a published item
// in place. The run first withdraws it from the published metadata, then
// publishes the new metadata over what it wrote itself (with that write's
// ETag, not the one it started from), and counts each metadata file it
// wrote.
func TestRetractThenPublish(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	item := s.sync(t).Transfers[0].Path
	changed := upstream.Payload("changed "+item, int64(len(s.tree.Files[item])))
	s.rebuild(t, upstream.Options{Items: map[string][]byte{item: changed}})
	p := s.plan(t)
	if len(p.Retract) == 0 {
		t.Fatal("no retraction planned for an item changed in place")
	}
	res, err := apply.Run(ctx, p, s.src, s.dst, apply.Options{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if want := len(p.Retract) + len(p.Publish); res.Published != want || !res.IndexPublished {
		t.Errorf("published %d metadata files (index %v), want %d and the index", res.Published, res.IndexPublished, want)
	}
	if got, err := readAll(s.dst, item); err != nil || !bytes.Equal(got, changed) {
		t.Errorf("%s holds %d bytes of the old content (%v), want the new", item, len(got), err)
	}
}

// TestAdoptWithoutSHA256: an item the catalog gives only an MD5 for is
// stored with the digest it was checked against recorded, and a later run
// that finds it stored (its index lost) adopts it on that digest instead
// of fetching it again.
func TestAdoptWithoutSHA256(t *testing.T) {
	s := newSetup(t)
	item := s.plan(t).Transfers[0].Path
	s.rebuild(t, upstream.Options{MD5Only: map[string]bool{item: true}})
	ctx := context.Background()
	s.sync(t)
	if err := s.dst.Delete(ctx, plan.IndexJSON); err != nil {
		t.Fatal(err)
	}
	before := s.srv.Requests(item)
	p := s.plan(t)
	res, err := apply.Run(ctx, p, s.src, s.dst, apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Adopted != len(p.Transfers) || s.srv.Requests(item) != before {
		t.Errorf("adopted %d of %d; the MD5-only item fetched %d more times, want 0", res.Adopted, len(p.Transfers), s.srv.Requests(item)-before)
	}
}

// signer clearsigns by wrapping the payload, or fails with err.
type signer struct{ err error }

func (s signer) ClearSign(payload []byte) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	return append(append([]byte("SIGNED\n"), payload...), "\nEND\n"...), nil
}

// TestSign: metadata the plan marks for signing is published as the
// signer's output; without a signer, or when signing fails, the run fails
// before publishing that file, and the index is not published.
func TestSign(t *testing.T) {
	for _, c := range []struct {
		name   string
		signer apply.Signer
		says   string // the error ("": none)
	}{
		{"signed", signer{}, ""},
		{"no signer", nil, "no signing key"},
		{"signing fails", signer{errRefused}, errRefused.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t)
			p := s.plan(t)
			var signed *plan.Meta
			for i := range p.Publish {
				if !p.Publish[i].Index {
					signed = &p.Publish[i]
					break
				}
			}
			signed.Sign = true
			res, err := apply.Run(context.Background(), p, s.src, s.dst, apply.Options{Signer: c.signer})
			if c.says != "" {
				if err == nil || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), signed.Key) || res.IndexPublished {
					t.Errorf("run: %v (index published %v), want an error naming %s saying %q and no index", err, res.IndexPublished, signed.Key, c.says)
				}
				if has(s.dst, signed.Key) {
					t.Errorf("%s published", signed.Key)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(s.dst, signed.Key)
			if want, _ := (signer{}).ClearSign(signed.Body); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s holds %q (%v), want the signer's output", signed.Key, got, err)
			}
		})
	}
}

// progress sums what TransferStarted's functions are told.
type progress struct {
	publishLog
	mu  sync.Mutex
	got map[string]int64
}

func (p *progress) TransferStarted(t plan.Transfer) func(int64) {
	return func(n int64) {
		p.mu.Lock()
		p.got[t.Path] += n
		p.mu.Unlock()
	}
}

// TestProgress: the reporter is told every byte of each item read.
func TestProgress(t *testing.T) {
	s := newSetup(t)
	p := s.plan(t)
	rep := &progress{got: map[string]int64{}}
	if _, err := apply.Run(context.Background(), p, s.src, s.dst, apply.Options{Report: rep, Transfers: 3}); err != nil {
		t.Fatal(err)
	}
	for _, tr := range p.Transfers {
		if rep.got[tr.Path] != tr.Size {
			t.Errorf("progress of %s: %d bytes, want %d", tr.Path, rep.got[tr.Path], tr.Size)
		}
	}
}

// TestCheckObjects: the check of stored objects finds one with wrong
// bytes and one gone, and passes the others; a store that cannot be read
// stops it with the store's error.
func TestCheckObjects(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	p := s.sync(t)
	items := s.plan(t).Held() // every item, now stored
	if len(items) != len(p.Transfers) {
		t.Fatalf("the next plan keeps %d items, want %d", len(items), len(p.Transfers))
	}
	damaged, gone := p.Transfers[0], p.Transfers[1]
	wrong := bytes.Repeat([]byte{'x'}, int(damaged.Size))
	if _, err := s.dst.Put(ctx, damaged.Path, bytes.NewReader(wrong), damaged.Size, target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.dst.Delete(ctx, gone.Path); err != nil {
		t.Fatal(err)
	}
	bad, err := apply.CheckObjects(ctx, s.dst, items, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 2 || !errors.Is(bad[damaged.Path], source.ErrIntegrity) || !errors.Is(bad[gone.Path], target.ErrNotExist) {
		t.Errorf("findings %v, want %s with wrong bytes and %s gone", bad, damaged.Path, gone.Path)
	}
	if _, err := apply.CheckObjects(ctx, unreadable{s.dst}, items, 4); !errors.Is(err, errRefused) {
		t.Errorf("check of an unreadable store: %v, want its error", err)
	}
}

// unreadable is a store whose objects cannot be opened.
type unreadable struct{ target.Store }

func (unreadable) Open(context.Context, string) (io.ReadCloser, target.Object, error) {
	return nil, target.Object{}, errRefused
}

func readAll(st target.Store, key string) ([]byte, error) {
	rc, _, err := st.Open(context.Background(), key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
