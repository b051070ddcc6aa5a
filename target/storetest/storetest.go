// Package storetest is the conformance suite for target.Store
// implementations. A Store package runs it from its tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) target.Store { return newEmptyStore(t) })
//	}
//
// newStore must return a new, empty store for each call; subtests run in
// parallel. RunOptions adds store-specific checks, such as verifying that a
// failed Put left no temporary files or incomplete multipart uploads.
package storetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ssmirror/ssmirror/target"
)

// Options tunes the suite for a store.
type Options struct {
	// LargeSize is the body size of the large-object tests. It should
	// exceed the store's multipart part size several times so those tests
	// exercise multipart uploads. Default: DefaultLargeSize.
	LargeSize int64

	// CheckClean, if set, is called after every Put that must fail (and at
	// the end of the tests that expect success) and should fail t if the
	// store left anything behind: temporary files, incomplete multipart
	// uploads, ...
	CheckClean func(t *testing.T, s target.Store)

	// NoMeta says the store may keep no metadata (Stat returns none).
	NoMeta bool
}

// DefaultLargeSize is the default Options.LargeSize: a bit over two 5 MiB
// parts (the S3 minimum part size) so the upload has three parts.
const DefaultLargeSize = 11<<20 + 12345

// Run runs the conformance suite with default options.
func Run(t *testing.T, newStore func(t *testing.T) target.Store) {
	RunOptions(t, newStore, Options{})
}

// errBody is the error the failing test bodies return.
var errBody = errors.New("storetest: injected body error")

// RunOptions runs the conformance suite.
func RunOptions(t *testing.T, newStore func(t *testing.T) target.Store, opts Options) {
	if opts.LargeSize == 0 {
		opts.LargeSize = DefaultLargeSize
	}
	checkClean := func(t *testing.T, s target.Store) {
		t.Helper()
		if opts.CheckClean != nil {
			opts.CheckClean(t, s)
		}
	}
	ctx := context.Background()
	large := randomBytes(opts.LargeSize, 1)

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		keys := map[string][]byte{
			"a":                     []byte("A"),
			"streams/v1/index.json": []byte(`{"index":{}}`),
			"images/foo:bar/20240101_01:02/root.tar.xz": randomBytes(70000, 2),
			"deep/nested/dir/x/y/z.bin":                 randomBytes(1234, 3),
			"empty":                                     {},
			"with space/and+plus=%20.txt":               []byte("odd but legal"),
			"unicode/ünï.txt":                           []byte("u"),
		}
		for k, v := range keys {
			mustPut(t, s, k, v, sum(v))
		}
		for k, v := range keys {
			got, obj := mustRead(t, s, k)
			if !bytes.Equal(got, v) {
				t.Errorf("Open(%q) = %d bytes, want %d", k, len(got), len(v))
			}
			if obj.Key != k || obj.Size != int64(len(v)) {
				t.Errorf("Open(%q) object = %+v, want key %q size %d", k, obj, k, len(v))
			}
		}
		// Put without a digest, then overwrite.
		mustPut(t, s, "a", []byte("second"), nil)
		if got, _ := mustRead(t, s, "a"); string(got) != "second" {
			t.Errorf("after overwrite Open(a) = %q, want %q", got, "second")
		}
		mustPut(t, s, "a", []byte("third"), sum([]byte("third")))
		if got, _ := mustRead(t, s, "a"); string(got) != "third" {
			t.Errorf("after overwrite Open(a) = %q, want %q", got, "third")
		}
		objs := list(t, s, "")
		if len(objs) != len(keys) {
			t.Errorf("List found %d objects, want %d: %v", len(objs), len(keys), objKeys(objs))
		}
		checkClean(t, s)
	})

	t.Run("ContentTypeAndCacheControl", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := []byte(`{"format":"products:1.0"}`)
		if _, err := s.Put(ctx, "streams/v1/x.json", bytes.NewReader(data), int64(len(data)), target.PutOptions{
			ContentType: "application/json", CacheControl: "max-age=60", SHA256: sum(data),
		}); err != nil {
			t.Fatalf("Put with ContentType/CacheControl: %v", err)
		}
		if got, _ := mustRead(t, s, "streams/v1/x.json"); !bytes.Equal(got, data) {
			t.Errorf("content = %q, want %q", got, data)
		}
	})

	t.Run("StatAndMeta", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.Stat(ctx, "missing"); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("Stat(missing) = %v, want ErrNotExist", err)
		}
		data := []byte("with metadata")
		meta := map[string]string{"origin": "upstream-a"}
		tag, err := s.Put(ctx, "m/x", bytes.NewReader(data), int64(len(data)), target.PutOptions{Meta: meta})
		if err != nil {
			t.Fatal(err)
		}
		obj, err := s.Stat(ctx, "m/x")
		if err != nil {
			t.Fatal(err)
		}
		if obj.Key != "m/x" || obj.Size != int64(len(data)) || obj.ETag == "" || obj.ETag != tag {
			t.Errorf("Stat = %+v; Put returned ETag %q", obj, tag)
		}
		if _, o, err := s.Open(ctx, "m/x"); err != nil || o.ETag != tag {
			t.Errorf("Open ETag %q, Put returned %q (%v)", o.ETag, tag, err)
		}
		if obj.SHA256 != "" {
			t.Errorf("Stat SHA256 = %q for an object stored without one", obj.SHA256)
		}
		// A Put that verified a SHA-256 remembers it (single and
		// multipart uploads alike).
		for _, n := range []int64{10, opts.LargeSize} {
			body := randomBytes(n, 7)
			mustPut(t, s, "m/sum", body, sum(body))
			got, err := s.Stat(ctx, "m/sum")
			if want := fmt.Sprintf("%x", sum(body)); err != nil || got.SHA256 != want {
				t.Errorf("%d bytes: Stat SHA256 = %q (%v), want %s", n, got.SHA256, err, want)
			}
		}
		if opts.NoMeta {
			return
		}
		if obj.Meta["origin"] != "upstream-a" {
			t.Errorf("Stat meta = %v, want %v", obj.Meta, meta)
		}
		// The listing reports the same ETag.
		if l := list(t, s, "m/x"); len(l) != 1 || l[0].ETag != obj.ETag {
			t.Errorf("List ETag = %v, Stat ETag %q", l, obj.ETag)
		}
	})

	t.Run("Conditional", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		put := func(body string, o target.PutOptions) error {
			_, err := s.Put(ctx, "lease", strings.NewReader(body), int64(len(body)), o)
			return err
		}
		if err := put("one", target.PutOptions{IfAbsent: true}); err != nil {
			t.Fatalf("IfAbsent on a missing key: %v", err)
		}
		if err := put("two", target.PutOptions{IfAbsent: true}); !errors.Is(err, target.ErrPrecondition) {
			t.Errorf("IfAbsent on an existing key = %v, want ErrPrecondition", err)
		}
		first, err := s.Stat(ctx, "lease")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := mustRead(t, s, "lease"); string(got) != "one" {
			t.Errorf("content = %q after a refused write", got)
		}
		if err := put("three", target.PutOptions{IfMatch: first.ETag}); err != nil {
			t.Fatalf("IfMatch with the current ETag: %v", err)
		}
		if err := put("four", target.PutOptions{IfMatch: first.ETag}); !errors.Is(err, target.ErrPrecondition) {
			t.Errorf("IfMatch with a stale ETag = %v, want ErrPrecondition", err)
		}
		if got, _ := mustRead(t, s, "lease"); string(got) != "three" {
			t.Errorf("content = %q, want three", got)
		}
		if _, err := s.Put(ctx, "absent", strings.NewReader("x"), 1, target.PutOptions{IfMatch: first.ETag}); !errors.Is(err, target.ErrPrecondition) {
			t.Errorf("IfMatch on a missing key = %v, want ErrPrecondition", err)
		}
		// Racing IfAbsent writers: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprint(i)
				if _, err := s.Put(ctx, "race", strings.NewReader(body), int64(len(body)), target.PutOptions{IfAbsent: true}); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if !errors.Is(err, target.ErrPrecondition) {
					t.Errorf("racing IfAbsent: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("%d IfAbsent writers won, want 1", wins)
		}
		checkClean(t, s)
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		// Inserted out of order; '-' < '.' < '/' < '0' < 'a' in byte order,
		// so a store that walks directories naively gets this wrong.
		keys := []string{"e", "d/ab", "d/a0", "d.txt", "dd/x", "d/a/b", "d/a-b", "d/a.txt", "d/a/c:d/e"}
		for i, k := range keys {
			mustPut(t, s, k, randomBytes(int64(10+i), uint64(i)), nil)
		}
		size := map[string]int64{}
		for i, k := range keys {
			size[k] = int64(10 + i)
		}
		sorted := slices.Clone(keys)
		slices.Sort(sorted)
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"", sorted},
			{"d/", []string{"d/a-b", "d/a.txt", "d/a/b", "d/a/c:d/e", "d/a0", "d/ab"}},
			{"d/a", []string{"d/a-b", "d/a.txt", "d/a/b", "d/a/c:d/e", "d/a0", "d/ab"}},
			{"d/a/", []string{"d/a/b", "d/a/c:d/e"}},
			{"d/a/c", []string{"d/a/c:d/e"}},
			{"d", []string{"d.txt", "d/a-b", "d/a.txt", "d/a/b", "d/a/c:d/e", "d/a0", "d/ab", "dd/x"}},
			{"dd", []string{"dd/x"}},
			{"d.txt", []string{"d.txt"}},
			{"e", []string{"e"}},
			{"nope", nil},
			{"nope/", nil},
			{"d/a/b/", nil},
			{"e/", nil},
		} {
			objs := list(t, s, tc.prefix)
			if got := objKeys(objs); !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
			}
			for _, o := range objs {
				if o.Size != size[o.Key] {
					t.Errorf("List(%q): %s has size %d, want %d", tc.prefix, o.Key, o.Size, size[o.Key])
				}
				if o.ModTime.IsZero() {
					t.Errorf("List(%q): %s has no ModTime", tc.prefix, o.Key)
				}
			}
		}
		// fn's error stops the listing and is returned.
		stop := errors.New("stop")
		n := 0
		err := s.List(ctx, "", func(target.Object) error {
			n++
			if n == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 2 {
			t.Errorf("List with failing fn: err %v after %d calls, want %v after 2", err, n, stop)
		}
	})

	t.Run("ListAfter", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		rl, ok := s.(target.RangeLister)
		if !ok {
			t.Skipf("%T does not implement target.RangeLister", s)
		}
		keys := []string{"a", "b/1", "b/2", "b0", "c.txt", "c/x"}
		for i, k := range keys {
			mustPut(t, s, k, randomBytes(int64(1+i), uint64(i)), nil)
		}
		for _, tc := range []struct {
			prefix, after string
			want          []string
		}{
			{"", "", keys},
			{"", "a", keys[1:]},
			{"", "b", keys[1:]}, // after need not exist
			{"", "b/1", keys[2:]},
			{"", "b/2", keys[3:]},
			{"", "c/x", nil},
			{"", "z", nil},
			{"b/", "b/1", []string{"b/2"}},
			{"c", "a", []string{"c.txt", "c/x"}},
		} {
			var got []string
			err := rl.ListAfter(ctx, tc.prefix, tc.after, func(o target.Object) error {
				got = append(got, o.Key)
				return nil
			})
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("ListAfter(%q, %q) = %q, %v; want %q", tc.prefix, tc.after, got, err, tc.want)
			}
		}
		stop := errors.New("stop")
		err := rl.ListAfter(ctx, "", "b/1", func(o target.Object) error {
			if o.Key != "b/2" {
				t.Errorf("ListAfter(\"\", \"b/1\") started at %s, want b/2", o.Key)
			}
			return stop
		})
		if !errors.Is(err, stop) {
			t.Errorf("ListAfter with failing fn: err %v, want %v", err, stop)
		}
	})

	t.Run("ListEmpty", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if objs := list(t, s, ""); len(objs) != 0 {
			t.Errorf("List on an empty store = %v", objKeys(objs))
		}
	})

	t.Run("OpenAt", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ro, ok := s.(target.RangeOpener)
		if !ok {
			t.Skipf("%T does not implement target.RangeOpener", s)
		}
		data := randomBytes(10000, 7)
		mustPut(t, s, "d/obj", data, nil)
		for _, off := range []int64{0, 1, 4096, 9999} {
			rc, obj, err := ro.OpenAt(ctx, "d/obj", off)
			if err != nil {
				t.Errorf("OpenAt(%d): %v", off, err)
				continue
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data[off:]) {
				t.Errorf("OpenAt(%d) read %d bytes, %v; want the %d from offset %d", off, len(got), err, len(data)-int(off), off)
			}
			if obj.Size != int64(len(data)) || obj.Key != "d/obj" {
				t.Errorf("OpenAt(%d) describes %+v, want the whole object of %d bytes", off, obj, len(data))
			}
		}
		for _, off := range []int64{-1, 10000, 20000} {
			if rc, _, err := ro.OpenAt(ctx, "d/obj", off); err == nil {
				rc.Close()
				t.Errorf("OpenAt(%d) of a 10000-byte object succeeded", off)
			} else if !strings.Contains(err.Error(), "d/obj") {
				t.Errorf("OpenAt(%d) error %q does not name the key", off, err)
			}
		}
		if _, _, err := ro.OpenAt(ctx, "d/missing", 5); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("OpenAt of a missing key = %v, want an error wrapping ErrNotExist", err)
		}
	})

	t.Run("OpenMissing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustPut(t, s, "dir/present", []byte("x"), nil)
		for _, k := range []string{"missing", "dir/missing", "no/such/dir/key", "dir"} {
			r, _, err := s.Open(ctx, k)
			if err == nil {
				r.Close()
				t.Errorf("Open(%q) succeeded", k)
			} else if !errors.Is(err, target.ErrNotExist) {
				t.Errorf("Open(%q) = %v, want an error wrapping ErrNotExist", k, err)
			} else if !strings.Contains(err.Error(), k) {
				t.Errorf("Open(%q) error %q does not name the key", k, err)
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if err := s.Delete(ctx, "missing"); err != nil {
			t.Errorf("Delete(missing) = %v", err)
		}
		if err := s.Delete(ctx, "no/such/dir/key"); err != nil {
			t.Errorf("Delete(no/such/dir/key) = %v", err)
		}
		mustPut(t, s, "a/b/c", []byte("x"), nil)
		mustPut(t, s, "a/d", []byte("y"), nil)
		if err := s.Delete(ctx, "a/b/c"); err != nil {
			t.Fatalf("Delete(a/b/c) = %v", err)
		}
		expectMissing(t, s, "a/b/c")
		if got := objKeys(list(t, s, "")); !slices.Equal(got, []string{"a/d"}) {
			t.Errorf("after Delete, List = %q, want [a/d]", got)
		}
		if err := s.Delete(ctx, "a/b/c"); err != nil {
			t.Errorf("second Delete(a/b/c) = %v", err)
		}
		// The key can be written again.
		mustPut(t, s, "a/b/c", []byte("z"), nil)
		if got, _ := mustRead(t, s, "a/b/c"); string(got) != "z" {
			t.Errorf("after re-Put, Open = %q", got)
		}
	})

	t.Run("InvalidKeys", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for _, k := range []string{"", "/abs", "../up", "a/../b", "a//b", "a/./b", "a/", "a\\b", "a\x00b", "a\nb"} {
			if _, err := s.Put(ctx, k, strings.NewReader("x"), 1, target.PutOptions{}); err == nil {
				t.Errorf("Put(%q) succeeded, want an invalid key error", k)
			}
			if r, _, err := s.Open(ctx, k); err == nil {
				r.Close()
				t.Errorf("Open(%q) succeeded, want an invalid key error", k)
			}
		}
		if objs := list(t, s, ""); len(objs) != 0 {
			t.Errorf("List after invalid Puts = %q", objKeys(objs))
		}
	})

	// failing runs a Put that must fail, with and without a previous
	// object at the key, and checks the error and that the key is
	// unchanged.
	failing := func(t *testing.T, name string, size int64, body func() io.Reader, digest []byte, check func(t *testing.T, err error)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, old := range []bool{false, true} {
				s := newStore(t)
				const key = "images/x:y/obj.bin"
				oldData := []byte("previous content")
				if old {
					mustPut(t, s, key, oldData, sum(oldData))
				}
				_, err := s.Put(ctx, key, body(), size, target.PutOptions{SHA256: digest})
				if err == nil {
					t.Fatalf("Put (old object: %v) succeeded, want an error", old)
				}
				if !strings.Contains(err.Error(), key) {
					t.Errorf("Put error %q does not name the key", err)
				}
				check(t, err)
				if old {
					if got, _ := mustRead(t, s, key); !bytes.Equal(got, oldData) {
						t.Errorf("after failed Put the key holds %d bytes, want the previous %q", len(got), oldData)
					}
					if got := objKeys(list(t, s, "")); !slices.Equal(got, []string{key}) {
						t.Errorf("after failed Put, List = %q, want [%s]", got, key)
					}
				} else {
					expectMissing(t, s, key)
					if got := list(t, s, ""); len(got) != 0 {
						t.Errorf("after failed Put, List = %q, want nothing", objKeys(got))
					}
				}
				checkClean(t, s)
			}
		})
	}
	isChecksum := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target.ErrChecksum) {
			t.Errorf("Put error = %v, want one wrapping ErrChecksum", err)
		}
	}
	isBodyErr := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, errBody) {
			t.Errorf("Put error = %v, want one wrapping the body's error", err)
		}
	}
	anyErr := func(*testing.T, error) {}
	small := randomBytes(100000, 4)
	wrong := sum([]byte("something else"))

	failing(t, "WrongSHA256", int64(len(small)), func() io.Reader { return bytes.NewReader(small) }, wrong, isChecksum)
	failing(t, "WrongSHA256Empty", 0, func() io.Reader { return bytes.NewReader(nil) }, wrong, isChecksum)
	failing(t, "BodyErrorMidway", int64(len(small)), func() io.Reader {
		return io.MultiReader(bytes.NewReader(small[:len(small)/2]), errReader{})
	}, sum(small), isBodyErr)
	failing(t, "BodyErrorMidwayNoDigest", int64(len(small)), func() io.Reader {
		return io.MultiReader(bytes.NewReader(small[:len(small)/2]), errReader{})
	}, nil, isBodyErr)
	// A verifying reader returns an error instead of its last bytes.
	failing(t, "BodyErrorAtEnd", int64(len(small)), func() io.Reader {
		return io.MultiReader(bytes.NewReader(small[:len(small)-1]), errReader{})
	}, nil, isBodyErr)
	failing(t, "BodyErrorWithLastBytes", int64(len(small)), func() io.Reader {
		return &dataThenErr{data: small}
	}, nil, isBodyErr)
	failing(t, "ShortBody", int64(len(small)), func() io.Reader { return bytes.NewReader(small[:len(small)-10]) }, nil, anyErr)
	failing(t, "ShortBodyWithDigest", int64(len(small)), func() io.Reader { return bytes.NewReader(small[:len(small)-10]) }, sum(small), anyErr)
	failing(t, "LongBody", int64(len(small)-10), func() io.Reader { return bytes.NewReader(small) }, nil, anyErr)

	t.Run("Large", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const key = "images/big/root.tar.xz"
		mustPut(t, s, key, large, sum(large))
		got, obj := mustRead(t, s, key)
		if !bytes.Equal(got, large) {
			t.Errorf("large round trip: got %d bytes, want %d (equal length: %v)", len(got), len(large), len(got) == len(large))
		}
		if obj.Size != int64(len(large)) {
			t.Errorf("Open size = %d, want %d", obj.Size, len(large))
		}
		if objs := list(t, s, "images/"); len(objs) != 1 || objs[0].Size != int64(len(large)) {
			t.Errorf("List = %+v", objs)
		}
		// Without a digest too.
		mustPut(t, s, key+".2", large, nil)
		if got, _ := mustRead(t, s, key+".2"); !bytes.Equal(got, large) {
			t.Errorf("large round trip without digest differs")
		}
		checkClean(t, s)
	})

	failing(t, "LargeWrongSHA256", int64(len(large)), func() io.Reader { return bytes.NewReader(large) }, wrong, isChecksum)
	failing(t, "LargeBodyErrorMidway", int64(len(large)), func() io.Reader {
		return io.MultiReader(bytes.NewReader(large[:len(large)*2/3]), errReader{})
	}, sum(large), isBodyErr)
	failing(t, "LargeBodyErrorAtEnd", int64(len(large)), func() io.Reader {
		return io.MultiReader(bytes.NewReader(large[:len(large)-1]), errReader{})
	}, nil, isBodyErr)
	failing(t, "LargeShortBody", int64(len(large)), func() io.Reader { return bytes.NewReader(large[:len(large)-1]) }, nil, anyErr)
	failing(t, "LargeLongBody", int64(len(large)-1), func() io.Reader { return bytes.NewReader(large) }, nil, anyErr)

	// A resumable Put checks and keys its record on the item's SHA-256, or
	// (a catalog without one) its strongest other checksum.
	for _, algo := range []string{"sha256", "md5"} {
		resumable(t, ctx, newStore, checkClean, large, algo)
	}

	t.Run("CancelledContext", func(t *testing.T) {
		t.Parallel()
		for _, data := range [][]byte{small, large} {
			for _, old := range []bool{false, true} {
				s := newStore(t)
				const key = "k"
				if old {
					mustPut(t, s, key, []byte("old"), nil)
				}
				// Cancelled before the call.
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				_, err := s.Put(cctx, key, bytes.NewReader(data), int64(len(data)), target.PutOptions{SHA256: sum(data)})
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Put with cancelled context = %v, want context.Canceled", err)
				}
				// Cancelled while the body is read.
				cctx, cancel = context.WithCancel(ctx)
				body := &cancelAfter{r: bytes.NewReader(data), n: len(data) / 2, cancel: cancel}
				_, err = s.Put(cctx, key, body, int64(len(data)), target.PutOptions{SHA256: sum(data)})
				cancel()
				t.Logf("Put of %d bytes cancelled midway: %v", len(data), err) // shown if what follows fails
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Put cancelled midway (%d bytes) = %v, want context.Canceled", len(data), err)
				}
				if old {
					if got, _ := mustRead(t, s, key); string(got) != "old" {
						t.Errorf("after cancelled Put the key holds %d bytes, want the old content", len(got))
					}
				} else {
					expectMissing(t, s, key)
				}
				checkClean(t, s)
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 16
		var wg sync.WaitGroup
		data := make([][]byte, n)
		errs := make([]error, n)
		for i := range n {
			size := int64(1000 * (i + 1))
			if i == 0 {
				size = int64(len(large))
			}
			data[i] = randomBytes(size, uint64(100+i))
			wg.Go(func() {
				_, errs[i] = s.Put(ctx, fmt.Sprintf("c/%02d/file:%d", i, i), bytes.NewReader(data[i]), size, target.PutOptions{SHA256: sum(data[i])})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("concurrent Put %d: %v", i, err)
			}
		}
		for i := range n {
			if got, _ := mustRead(t, s, fmt.Sprintf("c/%02d/file:%d", i, i)); !bytes.Equal(got, data[i]) {
				t.Errorf("concurrent Put %d: content differs", i)
			}
		}
		if objs := list(t, s, "c/"); len(objs) != n {
			t.Errorf("List found %d objects, want %d", len(objs), n)
		}
		checkClean(t, s)
	})

	t.Run("String", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if s.String() == "" {
			t.Error("String() is empty")
		}
	})
}

// resumable checks a Resumer keeps a cut-off Put of large checked and
// keyed by its algo checksum ("sha256": opts.SHA256 set as well), resumes
// it with the kept state, and drops it for other bytes, on cancel or on
// request.
func resumable(t *testing.T, ctx context.Context, newStore func(*testing.T) target.Store, checkClean func(*testing.T, target.Store), large []byte, algo string) {
	t.Run("Resumable/"+algo, func(t *testing.T) {
		t.Parallel()
		sumOf := func(b []byte) target.Sum {
			if algo == "md5" {
				h := md5.Sum(b)
				return target.Sum{Algo: algo, Digest: h[:]}
			}
			return target.Sum{Algo: algo, Digest: sum(b)}
		}
		optsOf := func(b []byte) target.PutOptions {
			if algo == "sha256" {
				return target.PutOptions{SHA256: sum(b)}
			}
			return target.PutOptions{}
		}
		s := newStore(t)
		r, ok := s.(target.Resumer)
		if !ok {
			t.Skip("not a target.Resumer")
		}
		const key = "images/resumed/root.tar.xz"
		size := int64(len(large))
		cut := func() target.ResumeRecord {
			t.Helper()
			_, err := r.PutResumable(ctx, key, size, sumOf(large), optsOf(large), func(from target.Resumed) (io.Reader, error) {
				return io.MultiReader(bytes.NewReader(large[from.Offset:len(large)*2/3]), errReader{}), nil
			})
			if !errors.Is(err, errBody) {
				t.Fatalf("cut-off PutResumable: %v, want the body's error", err)
			}
			expectMissing(t, s, key)
			rec, err := target.ReadResume(ctx, s, key)
			if err != nil || rec.Offset <= 0 || rec.Offset > int64(len(large)*2/3) {
				t.Fatalf("resume record after the cut: %+v, %v; want some of the %d bytes read", rec.Offset, err, len(large)*2/3)
			}
			return rec
		}
		// Resumed: open is asked for the rest, with the state of the kept bytes.
		rec := cut()
		_, err := r.PutResumable(ctx, key, size, sumOf(large), optsOf(large), func(from target.Resumed) (io.Reader, error) {
			h, err := sumOf(large).Restore(from.State)
			if from.Offset != rec.Offset || err != nil || !bytes.Equal(h.Sum(nil), sumOf(large[:from.Offset]).Digest) {
				t.Errorf("resumed at %d (%v), want %d with the %s state of those bytes", from.Offset, err, rec.Offset, algo)
			}
			return bytes.NewReader(large[from.Offset:]), nil
		})
		if err != nil {
			t.Fatalf("resumed PutResumable: %v", err)
		}
		if got, _ := mustRead(t, s, key); !bytes.Equal(got, large) {
			t.Errorf("resumed object differs from the body")
		}
		if _, err := target.ReadResume(ctx, s, key); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("resume record after completion: %v, want none", err)
		}
		checkClean(t, s)
		// Another digest: what was kept is dropped, the body sent whole.
		s.Delete(ctx, key)
		cut()
		other := randomBytes(size, 2)
		_, err = r.PutResumable(ctx, key, size, sumOf(other), optsOf(other), func(from target.Resumed) (io.Reader, error) {
			if from.Offset != 0 {
				t.Errorf("a Put of other bytes resumed at %d", from.Offset)
			}
			return bytes.NewReader(other[from.Offset:]), nil
		})
		if err != nil {
			t.Fatalf("PutResumable of other bytes: %v", err)
		}
		if got, _ := mustRead(t, s, key); !bytes.Equal(got, other) {
			t.Errorf("object differs from the other body")
		}
		checkClean(t, s)
		// Cancelled part way (the run interrupted): nothing is kept, not
		// even what an earlier cut-off Put kept.
		s.Delete(ctx, key)
		cut()
		cctx, cancel := context.WithCancel(ctx)
		_, err = r.PutResumable(cctx, key, size, sumOf(large), optsOf(large), func(from target.Resumed) (io.Reader, error) {
			return &cancelAfter{r: bytes.NewReader(large[from.Offset:]), n: len(large) / 6, cancel: cancel}, nil
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled PutResumable: %v, want context.Canceled", err)
		}
		expectMissing(t, s, key)
		if _, err := target.ReadResume(ctx, s, key); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("resume record after a cancelled Put: %v, want none", err)
		}
		checkClean(t, s)
		// Dropped.
		cut()
		if err := r.DropResume(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := target.ReadResume(ctx, s, key); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("resume record after DropResume: %v, want none", err)
		}
		checkClean(t, s)
	})
}

func sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(n int64, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustPut(t *testing.T, s target.Store, key string, data, digest []byte) {
	t.Helper()
	if _, err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), target.PutOptions{SHA256: digest}); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

func mustRead(t *testing.T, s target.Store, key string) ([]byte, target.Object) {
	t.Helper()
	r, obj, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return b, obj
}

func expectMissing(t *testing.T, s target.Store, key string) {
	t.Helper()
	r, _, err := s.Open(context.Background(), key)
	if err == nil {
		b, _ := io.ReadAll(r)
		r.Close()
		t.Errorf("Open(%q) found %d bytes, want ErrNotExist", key, len(b))
	} else if !errors.Is(err, target.ErrNotExist) {
		t.Errorf("Open(%q) = %v, want ErrNotExist", key, err)
	}
}

func list(t *testing.T, s target.Store, prefix string) []target.Object {
	t.Helper()
	var objs []target.Object
	if err := s.List(context.Background(), prefix, func(o target.Object) error {
		objs = append(objs, o)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return objs
}

func objKeys(objs []target.Object) []string {
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

// errReader always fails with errBody.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBody }

// dataThenErr returns all of data together with errBody in one Read.
type dataThenErr struct {
	data []byte
	done bool
}

func (d *dataThenErr) Read(p []byte) (int, error) {
	if d.done {
		return 0, errBody
	}
	n := copy(p, d.data)
	d.data = d.data[n:]
	if len(d.data) == 0 {
		d.done = true
		return n, errBody
	}
	return n, nil
}

// cancelAfter calls cancel once n bytes have been read, then keeps
// returning data.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}
