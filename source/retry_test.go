package source_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
)

const itemPath = "jammy/amd64/20250615/squashfs"

// retryRig is an upstream mirror behind a fault proxy, read through a
// Retrying HTTP fetcher whose waits are recorded instead of slept.
type retryRig struct {
	up    *upstream.Server
	proxy *faultproxy.Proxy
	body  []byte
	http  *source.HTTP

	mu      sync.Mutex
	waits   []time.Duration
	retries []error // the errors that caused retries
}

func newRetryRig(t *testing.T) *retryRig {
	t.Helper()
	r := &retryRig{body: upstream.Payload(itemPath, 100_000)}
	r.up = upstream.Serve(t, &upstream.Tree{Files: map[string][]byte{itemPath: r.body}})
	r.proxy = faultproxy.Start(t, r.up.URL)
	client := source.DefaultHTTPClient()
	// A fresh connection per request: otherwise net/http itself retries a
	// GET whose reused connection was reset, and the fetcher never sees it.
	client.Transport.(*http.Transport).DisableKeepAlives = true
	var err error
	if r.http, err = source.NewHTTP(r.proxy.URL+"/", client); err != nil {
		t.Fatal(err)
	}
	return r
}

// policy: 4 attempts, a 1s idle timeout (long enough that no ordinary
// read trips it on a loaded machine), waits recorded, not slept.
func (r *retryRig) policy() source.RetryPolicy {
	return source.RetryPolicy{
		Attempts:    4,
		BaseDelay:   10 * time.Millisecond,
		MaxDelay:    time.Second,
		IdleTimeout: time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error {
			r.mu.Lock()
			r.waits = append(r.waits, d)
			r.mu.Unlock()
			return ctx.Err()
		},
		Notify: func(path string, attempt int, wait time.Duration, err error) {
			r.mu.Lock()
			r.retries = append(r.retries, err)
			r.mu.Unlock()
		},
	}
}

func (r *retryRig) fetchAll(t *testing.T, f source.Fetcher) ([]byte, error) {
	t.Helper()
	rc, size, err := f.Fetch(context.Background(), itemPath)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size != int64(len(r.body)) {
		t.Errorf("size = %d, want %d", size, len(r.body))
	}
	sum := sha256.Sum256(r.body)
	v := source.NewVerifyingReader(rc, "item", int64(len(r.body)), catalog.Checksum{Algo: "sha256", Hex: hex.EncodeToString(sum[:])})
	return io.ReadAll(v)
}

func (r *retryRig) wantRetries(t *testing.T, n int, is error) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.retries) != n {
		t.Fatalf("%d retries (%v), want %d", len(r.retries), r.retries, n)
	}
	for _, err := range r.retries {
		if is != nil && !errors.Is(err, is) {
			t.Errorf("retry after %v, want an error wrapping %v", err, is)
		}
		if !source.Classify(err) {
			t.Errorf("retried a non-transient error: %v", err)
		}
	}
}

// ranges returns the Range header of every request the proxy received.
func (r *retryRig) ranges() []string {
	var out []string
	for _, req := range r.proxy.Requests() {
		out = append(out, req.Header.Get("Range"))
	}
	return out
}

func TestRetryResetThenOK(t *testing.T) {
	r := newRetryRig(t)
	rule := r.proxy.Add(&faultproxy.Rule{Path: itemPath, First: 1, Fault: faultproxy.Reset})
	got, err := r.fetchAll(t, source.NewRetrying(r.http, r.policy()))
	if err != nil || !bytes.Equal(got, r.body) {
		t.Fatalf("fetch: %v (%d bytes)", err, len(got))
	}
	if rule.Applied() != 1 || rule.Seen() != 2 {
		t.Errorf("reset applied %d of %d requests, want 1 of 2", rule.Applied(), rule.Seen())
	}
	r.wantRetries(t, 1, syscall.ECONNRESET)

	// Without the wrapper the same fault is an error.
	r.proxy.Add(&faultproxy.Rule{Path: itemPath, First: 1, Fault: faultproxy.Reset})
	if _, err := r.fetchAll(t, r.http); !errors.Is(err, syscall.ECONNRESET) || !source.Classify(err) {
		t.Errorf("bare fetcher: %v, want a transient connection reset", err)
	}
}

func TestRetryTruncatedBodyResumesWithRange(t *testing.T) {
	r := newRetryRig(t)
	r.proxy.Add(&faultproxy.Rule{Path: itemPath, First: 1, Fault: faultproxy.Truncate, After: 30_000})
	got, err := r.fetchAll(t, source.NewRetrying(r.http, r.policy()))
	if err != nil || !bytes.Equal(got, r.body) {
		t.Fatalf("fetch: %v (%d bytes)", err, len(got))
	}
	if got, want := strings.Join(r.ranges(), ","), ",bytes=30000-"; got != want {
		t.Errorf("Range headers %q, want %q", got, want)
	}
	r.wantRetries(t, 1, io.ErrUnexpectedEOF)

	// Truncated twice at different places: two resumes.
	r.proxy.Clear()
	r.proxy.Add(&faultproxy.Rule{Path: itemPath, Nth: 1, Fault: faultproxy.Truncate, After: 1})
	r.proxy.Add(&faultproxy.Rule{Path: itemPath, Nth: 1, Fault: faultproxy.Truncate, After: 50_000})
	before := len(r.proxy.Requests())
	if got, err := r.fetchAll(t, source.NewRetrying(r.http, r.policy())); err != nil || !bytes.Equal(got, r.body) {
		t.Fatalf("fetch: %v (%d bytes)", err, len(got))
	}
	if got, want := strings.Join(r.ranges()[before:], ","), ",bytes=1-,bytes=50001-"; got != want {
		t.Errorf("Range headers %q, want %q", got, want)
	}
}

func TestRetryStalls(t *testing.T) {
	cases := []struct {
		name   string
		fault  faultproxy.Fault
		after  int64
		ranges string
	}{
		{"headers", faultproxy.StallHeaders, 0, ","},
		{"body from the start", faultproxy.StallBody, 0, ","},
		{"body midway", faultproxy.StallBody, 20_000, ",bytes=20000-"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRetryRig(t)
			// The stall never ends by itself: only the idle timeout, which
			// cancels the attempt, lets the fetch go on.
			r.proxy.Add(&faultproxy.Rule{Path: itemPath, First: 1, Fault: c.fault, After: c.after})
			got, err := r.fetchAll(t, source.NewRetrying(r.http, r.policy()))
			if err != nil || !bytes.Equal(got, r.body) {
				t.Fatalf("fetch: %v (%d bytes)", err, len(got))
			}
			r.wantRetries(t, 1, source.ErrStalled)
			if got := strings.Join(r.ranges(), ","); got != c.ranges {
				t.Errorf("Range headers %q, want %q", got, c.ranges)
			}
		})
	}

	// With a single attempt, a stall ends the read with a clear error.
	r := newRetryRig(t)
	r.proxy.Add(&faultproxy.Rule{Path: itemPath, Fault: faultproxy.StallBody, After: 10})
	p := r.policy()
	p.Attempts = 1
	_, err := r.fetchAll(t, source.NewRetrying(r.http, p))
	if !errors.Is(err, source.ErrStalled) ||
		err.Error() != "item: reading at byte 10 of 100000: stalled: no data for 1s: retries exhausted after 1 attempt" {
		t.Errorf("err = %v", err)
	}
}

func TestRetrySlowDown(t *testing.T) {
	r := newRetryRig(t)
	rule := r.proxy.Add(&faultproxy.Rule{Path: itemPath, First: 2, Fault: faultproxy.Status, RetryAfter: 300 * time.Millisecond})
	p := r.policy()
	p.Rand = func() float64 { return 0.5 }
	got, err := r.fetchAll(t, source.NewRetrying(r.http, p))
	if err != nil || !bytes.Equal(got, r.body) {
		t.Fatalf("fetch: %v", err)
	}
	if rule.Applied() != 2 || r.proxy.Total() != 3 {
		t.Errorf("SlowDown applied %d times, %d requests; want 2, 3", rule.Applied(), r.proxy.Total())
	}
	r.wantRetries(t, 2, nil)
	var se *source.StatusError
	if !errors.As(r.retries[0], &se) || se.Code != 503 || se.S3Code != "SlowDown" ||
		!strings.Contains(se.Error(), "503 Service Unavailable (SlowDown)") {
		t.Errorf("retry cause %v, want a 503 SlowDown StatusError", r.retries[0])
	}
	// The server's Retry-After (rounded up to 1s) outweighs the backoff.
	if fmt.Sprint(r.waits) != "[1s 1s]" {
		t.Errorf("waits %v, want [1s 1s]", r.waits)
	}
}

func TestRetryPermanentErrorsNotRetried(t *testing.T) {
	r := newRetryRig(t)
	f := source.NewRetrying(r.http, r.policy())
	_, _, err := f.Fetch(context.Background(), "missing/file")
	if !errors.Is(err, source.ErrNotExist) || r.proxy.Total() != 1 {
		t.Errorf("404: %v after %d requests, want ErrNotExist after 1", err, r.proxy.Total())
	}
	r.proxy.Add(&faultproxy.Rule{Fault: faultproxy.Status, Code: 403})
	_, _, err = f.Fetch(context.Background(), itemPath)
	var se *source.StatusError
	if !errors.As(err, &se) || se.Code != 403 || se.S3Code != "AccessDenied" || r.proxy.Total() != 2 {
		t.Errorf("403: %v after %d requests, want AccessDenied after 2", err, r.proxy.Total())
	}
	if _, _, err := f.Fetch(context.Background(), "../escape"); !errors.Is(err, catalog.ErrUnsafePath) || r.proxy.Total() != 2 {
		t.Errorf("unsafe path: %v", err)
	}
	r.wantRetries(t, 0, nil)
}

func TestRetryGivesUp(t *testing.T) {
	r := newRetryRig(t)
	r.proxy.Add(&faultproxy.Rule{Fault: faultproxy.Status, Code: 500})
	p := r.policy()
	p.Attempts = 3
	_, _, err := source.NewRetrying(r.http, p).Fetch(context.Background(), itemPath)
	want := "GET " + r.proxy.URL + "/" + itemPath + ": 500 Internal Server Error (InternalError): retries exhausted after 3 attempts"
	if !errors.Is(err, source.ErrExhausted) || err.Error() != want || source.Classify(err) {
		t.Errorf("err = %v\nwant %s, not transient", err, want)
	}
	if r.proxy.Total() != 3 || len(r.waits) != 2 {
		t.Errorf("%d requests, %d waits; want 3, 2", r.proxy.Total(), len(r.waits))
	}
}

func TestRetryContextCancel(t *testing.T) {
	// The waits and the idle timeout are an hour: only the cancellation
	// can end these calls (a test that hangs here has failed).
	r := newRetryRig(t)
	rule := r.proxy.Add(&faultproxy.Rule{Fault: faultproxy.Status})
	p := r.policy()
	p.Sleep = nil // really sleep: an hour between attempts
	p.BaseDelay, p.MaxDelay, p.NoJitter = time.Hour, time.Hour, true
	p.IdleTimeout = time.Hour
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Notify = func(string, int, time.Duration, error) { cancel() } // the deadline passes during the first wait
	_, _, err := source.NewRetrying(r.http, p).Fetch(expiring{parent}, itemPath)
	if !errors.Is(err, context.DeadlineExceeded) || source.Classify(err) || !strings.Contains(err.Error(), "503") || rule.Applied() != 1 {
		t.Errorf("err = %v after %d requests, want the deadline after 1, naming the 503 it was retrying", err, rule.Applied())
	}

	// Cancelled in the middle of a stalled body.
	r.proxy.Clear()
	r.proxy.Add(&faultproxy.Rule{Fault: faultproxy.StallBody, After: 1000})
	p.Notify = nil
	ctx, cancelRead := context.WithCancel(context.Background())
	defer cancelRead()
	rc, _, err := source.NewRetrying(r.http, p).Fetch(ctx, itemPath)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatalf("the bytes before the stall: %v", err)
	}
	cancelRead() // the proxy holds the rest
	n, err := io.Copy(io.Discard, rc)
	if n != 0 || !errors.Is(err, context.Canceled) || source.Classify(err) {
		t.Errorf("read %d more bytes, err %v; want none and a cancellation", n, err)
	}
}

// expiring is a context whose deadline passes when its parent is
// cancelled: a deadline the test controls.
type expiring struct{ context.Context }

func (c expiring) Err() error {
	if c.Context.Err() != nil {
		return context.DeadlineExceeded
	}
	return nil
}

func TestResumeRefusedWhenServerIgnoresRange(t *testing.T) {
	r := newRetryRig(t)
	r.up.SetHook(func(w http.ResponseWriter, req *http.Request) bool {
		if req.Header.Get("Range") == "" {
			return false
		}
		w.Write(r.body) // 200 with the whole file
		return true
	})
	r.proxy.Add(&faultproxy.Rule{Path: itemPath, First: 1, Fault: faultproxy.Truncate, After: 30_000})
	f := source.NewRetrying(r.http, r.policy())
	_, err := r.fetchAll(t, f)
	want := "item: reading at byte 30000 of 100000: unexpected EOF; resume refused: GET " + r.proxy.URL + "/" + itemPath +
		" (bytes=30000-): cannot resume: the server ignored the Range request (200 OK instead of 206 Partial Content)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || !source.Classify(err) {
		t.Errorf("err is not a transient truncation: the caller should fetch the whole item again")
	}
	// Which it can.
	if got, err := r.fetchAll(t, f); err != nil || !bytes.Equal(got, r.body) {
		t.Errorf("second fetch: %v", err)
	}
}

func TestHTTPFetchRange(t *testing.T) {
	r := newRetryRig(t)
	ctx := context.Background()
	rc, total, err := r.http.FetchRange(ctx, itemPath, 99_990)
	if err != nil || total != 100_000 {
		t.Fatalf("FetchRange: %v, total %d", err, total)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, r.body[99_990:]) {
		t.Errorf("got %d bytes", len(got))
	}
	if _, _, err := r.http.FetchRange(ctx, "nope", 5); !errors.Is(err, source.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	// Answers that must not be taken for the rest of the file.
	bad := map[string]struct {
		status       int
		contentRange string
		want         string
	}{
		"other start":   {206, "bytes 0-99999/100000", `Content-Range "bytes 0-99999/100000", want bytes 10-99999/100000`},
		"short range":   {206, "bytes 10-500/100000", `Content-Range "bytes 10-500/100000", want bytes 10-99999/100000`},
		"unknown total": {206, "bytes 10-99999/*", `malformed Content-Range "bytes 10-99999/*"`},
		"none":          {206, "", `malformed Content-Range ""`},
		"not satisfied": {416, "bytes */100000", "416 Requested Range Not Satisfiable"},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			r.up.SetHook(func(w http.ResponseWriter, req *http.Request) bool {
				if c.contentRange != "" {
					w.Header().Set("Content-Range", c.contentRange)
				}
				w.WriteHeader(c.status)
				w.Write(r.body[10:])
				return true
			})
			_, _, err := r.http.FetchRange(ctx, itemPath, 10)
			if !errors.Is(err, source.ErrNoResume) || !strings.Contains(err.Error(), c.want) ||
				!strings.Contains(err.Error(), "/"+itemPath+" (bytes=10-)") || source.Classify(err) {
				t.Errorf("err = %v, want ErrNoResume naming the URL and %q", err, c.want)
			}
		})
	}
	// The right range, but encoded: its bytes are not the file's.
	r.up.SetHook(func(w http.ResponseWriter, req *http.Request) bool {
		w.Header().Set("Content-Range", "bytes 10-99999/100000")
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(r.body[10:])
		return true
	})
	if _, _, err := r.http.FetchRange(ctx, itemPath, 10); !errors.Is(err, source.ErrNoResume) || !strings.Contains(err.Error(), `unrequested Content-Encoding "gzip"`) {
		t.Errorf("gzip-encoded range: %v, want ErrNoResume naming the encoding", err)
	}
	r.up.SetHook(func(w http.ResponseWriter, req *http.Request) bool {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return true
	})
	if _, _, err := r.http.FetchRange(ctx, itemPath, 10); !source.Classify(err) || !strings.Contains(err.Error(), "(bytes=10-): 503") {
		t.Errorf("503 on a range: %v", err)
	}
}

// TestDirFetchRange: a directory source reads a file from any offset up to
// its end (an empty rest), refuses one outside it with ErrNoResume, and an
// unsafe path.
func TestDirFetchRange(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "f"), []byte("0123456789"), 0o644)
	d := source.Dir{Root: dir}
	for offset, want := range map[int64]string{0: "0123456789", 4: "456789", 10: ""} {
		rc, total, err := d.FetchRange(context.Background(), "a/f", offset)
		if err != nil {
			t.Errorf("FetchRange at %d: %v", offset, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != want || total != 10 {
			t.Errorf("FetchRange at %d = %q (of %d), %v; want %q of 10", offset, got, total, err, want)
		}
	}
	for _, offset := range []int64{-1, 11} {
		if _, _, err := d.FetchRange(context.Background(), "a/f", offset); !errors.Is(err, source.ErrNoResume) {
			t.Errorf("FetchRange at %d = %v, want ErrNoResume", offset, err)
		}
	}
	if _, _, err := d.FetchRange(context.Background(), "a/../f", 0); !errors.Is(err, catalog.ErrUnsafePath) {
		t.Errorf("unsafe: %v", err)
	}
}

// flaky serves data; every body it opens fails after failAfter bytes (0:
// never) with failErr (nil: a connection reset). It records the offsets
// opened.
type flaky struct {
	data      []byte
	failAfter int
	failErr   error
	mu        sync.Mutex
	opens     []int64
}

func (f *flaky) open(ctx context.Context, off int64) io.ReadCloser {
	f.mu.Lock()
	f.opens = append(f.opens, off)
	f.mu.Unlock()
	err := f.failErr
	if err == nil {
		err = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	}
	return &flakyBody{ctx: ctx, data: f.data[off:], left: f.failAfter, err: err}
}

func (f *flaky) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	return f.open(ctx, 0), int64(len(f.data)), nil
}

func (f *flaky) String() string { return "flaky:" }

type rangedFlaky struct{ *flaky }

func (f rangedFlaky) FetchRange(ctx context.Context, p string, off int64) (io.ReadCloser, int64, error) {
	return f.open(ctx, off), int64(len(f.data)), nil
}

type flakyBody struct {
	ctx  context.Context
	data []byte
	left int
	err  error
}

func (b *flakyBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	if b.left > 0 && len(p) > b.left {
		p = p[:b.left]
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	if b.left > 0 {
		if b.left -= n; b.left == 0 {
			return n, b.err
		}
	}
	return n, nil
}

func (b *flakyBody) Close() error { return nil }

func TestResumeNeedsProgressNotLuck(t *testing.T) {
	data := upstream.Payload("x", 1000)
	p := source.RetryPolicy{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}

	// Every body breaks after 100 bytes, but each resume makes progress:
	// two attempts in a row are never both failures without progress. (The
	// last break comes with the last bytes: no request after it.)
	f := &flaky{data: data, failAfter: 100}
	rc, _, err := source.NewRetrying(rangedFlaky{f}, p).Fetch(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v, %d bytes", err, len(got))
	}
	if fmt.Sprint(f.opens) != "[0 100 200 300 400 500 600 700 800 900]" {
		t.Errorf("opened at %v", f.opens)
	}

	// A body that ends cleanly but early is truncated too.
	f = &flaky{data: data, failAfter: 600, failErr: io.EOF}
	rc, _, _ = source.NewRetrying(rangedFlaky{f}, p).Fetch(context.Background(), "x")
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) || fmt.Sprint(f.opens) != "[0 600]" {
		t.Errorf("early EOF: %v, %d bytes, opened at %v", err, len(got), f.opens)
	}

	// A fetcher without ranged reads: the error is returned, transient,
	// for the caller to fetch the whole file again.
	f = &flaky{data: data, failAfter: 100}
	rc, _, _ = source.NewRetrying(f, p).Fetch(context.Background(), "x")
	got, err = io.ReadAll(rc)
	if len(got) != 100 || !errors.Is(err, syscall.ECONNRESET) || !source.Classify(err) ||
		!strings.Contains(err.Error(), "reading at byte 100 of 1000:") || !strings.Contains(err.Error(), "flaky: cannot resume") {
		t.Errorf("read %d bytes, err %v", len(got), err)
	}
	// Read after Close fails.
	rc.Close()
	if _, err := rc.Read(make([]byte, 1)); err == nil {
		t.Error("read after Close succeeded")
	}
}

func TestRetryDelay(t *testing.T) {
	p := source.RetryPolicy{BaseDelay: time.Second, MaxDelay: 10 * time.Second, NoJitter: true}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, p.Delay(n, nil))
	}
	if fmt.Sprint(got) != "[1s 2s 4s 8s 10s 10s]" {
		t.Errorf("delays %v", got)
	}
	if d := p.Delay(1000, nil); d != 10*time.Second {
		t.Errorf("delay 1000 = %v", d)
	}
	p.NoJitter = false
	p.Rand = func() float64 { return 0.25 }
	if d := p.Delay(3, nil); d != time.Second {
		t.Errorf("jittered delay = %v, want 1s (a quarter of 4s)", d)
	}
	slow := &source.StatusError{Code: 503, RetryAfter: 7 * time.Second}
	if d := p.Delay(1, slow); d != 7*time.Second {
		t.Errorf("Retry-After 7s: delay %v", d)
	}
	slow.RetryAfter = time.Hour
	if d := p.Delay(1, slow); d != 10*time.Second {
		t.Errorf("Retry-After 1h: delay %v, want the 10s cap", d)
	}
	// Default jitter stays within the cap.
	p.Rand = nil
	for range 100 {
		if d := p.Delay(2, nil); d < 0 || d >= 2*time.Second {
			t.Fatalf("jittered delay %v outside [0, 2s)", d)
		}
	}
}

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("GET http://x/y: %w", err) }
	transient := []error{
		wrap(syscall.ECONNRESET), wrap(syscall.ECONNREFUSED), wrap(syscall.EPIPE),
		wrap(io.ErrUnexpectedEOF), wrap(io.EOF),
		wrap(&source.StatusError{Code: 500}), wrap(&source.StatusError{Code: 503, S3Code: "SlowDown"}),
		wrap(&source.StatusError{Code: 429}), wrap(&source.StatusError{Code: 502}),
		wrap(fmt.Errorf("%w: no data", source.ErrStalled)),
		&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("something")},
		&net.DNSError{Err: "server misbehaving", IsTemporary: true},
		wrap(timeoutErr{}),
	}
	permanent := []error{
		nil, errors.New("whatever"),
		wrap(source.ErrNotExist), wrap(&source.StatusError{Code: 403}), wrap(&source.StatusError{Code: 404}),
		wrap(&source.StatusError{Code: 400}), wrap(catalog.ErrUnsafePath), wrap(catalog.ErrInvalid),
		wrap(source.ErrIntegrity), wrap(source.ErrNoResume),
		wrap(context.Canceled), wrap(context.DeadlineExceeded),
		fmt.Errorf("%w: %w after 5 attempts", &source.StatusError{Code: 503}, source.ErrExhausted),
		&net.DNSError{Err: "no such host", IsNotFound: true},
		wrap(x509.UnknownAuthorityError{}),
	}
	for _, err := range transient {
		if !source.Classify(err) {
			t.Errorf("Classify(%v) = false, want transient", err)
		}
	}
	for _, err := range permanent {
		if source.Classify(err) {
			t.Errorf("Classify(%v) = true, want permanent", err)
		}
	}
}

// TestClassifyRealTimeout: the client's own response-header timeout is a
// transient error.
func TestClassifyRealTimeout(t *testing.T) {
	r := newRetryRig(t)
	r.proxy.Add(&faultproxy.Rule{Fault: faultproxy.StallHeaders}) // until the client gives up
	client := source.DefaultHTTPClient()
	client.Transport.(*http.Transport).ResponseHeaderTimeout = 100 * time.Millisecond
	f, _ := source.NewHTTP(r.proxy.URL+"/", client)
	_, _, err := f.Fetch(context.Background(), itemPath)
	if err == nil || !strings.Contains(err.Error(), "timeout awaiting response headers") || !source.Classify(err) {
		t.Errorf("err = %v, want a transient header timeout", err)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout awaiting response headers" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestFileReplacedBetweenAttempts: a file that upstream replaces while it
// is read is never stitched together from two versions. A retry from the
// start that finds another size, and a resume that finds another total
// size, fail the read naming both sizes, after one more request.
func TestFileReplacedBetweenAttempts(t *testing.T) {
	p := source.RetryPolicy{Attempts: 5, Sleep: func(context.Context, time.Duration) error { return nil }}
	cases := []struct {
		name    string
		breakAt int
		want    string
	}{
		// The first body breaks before its first byte: the retry opens the
		// file from the start.
		{"from the start", 0, "size changed from 1000 to 1200 bytes between attempts"},
		// It breaks after 100 bytes: the retry resumes at byte 100.
		{"resumed", 100, "resume refused: scripted:/item: cannot resume: the file now has 1200 bytes, not 1000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := upstream.Payload("old", 1000)
			f := &scripted{data: old, replaced: upstream.Payload("new", 1200), script: []int{c.breakAt}}
			rc, size, err := source.NewRetrying(rangedScripted{f}, p).Fetch(context.Background(), "item")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("read %d of %d bytes, err %v; want an error saying %q", len(got), size, err, c.want)
			}
			if len(got) != c.breakAt || !bytes.Equal(got, old[:c.breakAt]) {
				t.Errorf("read %d bytes, want only the %d of the old file", len(got), c.breakAt)
			}
			if len(f.opens) != 2 {
				t.Errorf("%d requests, want 2 (no retry once the file is known to have changed)", f.opens)
			}
		})
	}
}

// scripted serves data; its n-th request's body breaks (a connection
// reset) after script[n] bytes, or runs to the end where script[n] is
// -1 or the script is over. With replaced set, every request after the
// first serves replaced instead (upstream replaced the file). After 10
// requests it fails for good, so that a retry loop that never gives up
// fails the test instead of hanging it.
type scripted struct {
	data     []byte
	replaced []byte
	script   []int
	opens    []int64
}

func (f *scripted) open(ctx context.Context, off int64) (io.ReadCloser, int64, error) {
	n := len(f.opens)
	f.opens = append(f.opens, off)
	if n >= 10 {
		return nil, 0, errors.New("scripted: too many requests")
	}
	data := f.data
	if n > 0 && f.replaced != nil {
		data = f.replaced
	}
	rest := data[off:]
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	switch {
	case n >= len(f.script) || f.script[n] < 0:
		return io.NopCloser(bytes.NewReader(rest)), int64(len(data)), nil
	case f.script[n] == 0:
		return io.NopCloser(iotest.ErrReader(reset)), int64(len(data)), nil
	}
	return &flakyBody{ctx: ctx, data: rest, left: f.script[n], err: reset}, int64(len(data)), nil
}

func (f *scripted) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	return f.open(ctx, 0)
}

func (f *scripted) String() string { return "scripted:" }

type rangedScripted struct{ *scripted }

func (f rangedScripted) FetchRange(ctx context.Context, p string, off int64) (io.ReadCloser, int64, error) {
	return f.open(ctx, off)
}

// TestRetryProgress: how many failures in a row a body may have, and
// where each retry starts. A break before the first byte is retried from
// the start even where the upstream has no ranged reads; one byte of
// progress counts as progress; failures with no progress give up after
// Attempts tries.
func TestRetryProgress(t *testing.T) {
	cases := []struct {
		name     string
		size     int
		ranged   bool
		attempts int
		script   []int
		opens    string
		err      error
	}{
		{"break before the first byte, no ranged reads", 1000, false, 2, []int{0}, "[0 0]", nil},
		{"one byte at a time", 5, true, 2, []int{1, 1, 1, 1}, "[0 1 2 3 4]", nil},
		{"no progress after a resume", 1000, true, 3, []int{100, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "[0 100 100]", source.ErrExhausted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := upstream.Payload("x", int64(c.size))
			f := &scripted{data: data, script: c.script}
			var fetcher source.Fetcher = f
			if c.ranged {
				fetcher = rangedScripted{f}
			}
			p := source.RetryPolicy{Attempts: c.attempts, Sleep: func(context.Context, time.Duration) error { return nil }}
			rc, _, err := source.NewRetrying(fetcher, p).Fetch(context.Background(), "x")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if c.err == nil && (err != nil || !bytes.Equal(got, data)) {
				t.Errorf("read %d of %d bytes, err %v; want all of them", len(got), c.size, err)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("err = %v, want %v", err, c.err)
			}
			if fmt.Sprint(f.opens) != c.opens {
				t.Errorf("requests at %v, want %s", f.opens, c.opens)
			}
		})
	}
}

// TestStatusErrorNamesRange: a failed GET names the range it asked for,
// from byte 0 too; a plain GET names none.
func TestStatusErrorNamesRange(t *testing.T) {
	srv := upstream.Serve(t, &upstream.Tree{Files: map[string][]byte{"f": []byte("data")}})
	srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return true
	})
	h, err := source.NewHTTP(srv.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, _, err = h.FetchRange(ctx, "f", 0)
	if want := "GET " + srv.Root() + "f (bytes=0-): 503"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("FetchRange from 0: %v, want %q...", err, want)
	}
	_, _, err = h.Fetch(ctx, "f")
	if want := "GET " + srv.Root() + "f: 503"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Fetch: %v, want %q...", err, want)
	}
}

// TestDefaultHTTPClient: the default client gives up on a server that
// sends no headers for a minute, and has no overall timeout.
func TestDefaultHTTPClient(t *testing.T) {
	c := source.DefaultHTTPClient()
	if tr := c.Transport.(*http.Transport); tr.ResponseHeaderTimeout != time.Minute || c.Timeout != 0 {
		t.Errorf("ResponseHeaderTimeout %v, Timeout %v; want a minute and none", tr.ResponseHeaderTimeout, c.Timeout)
	}
}
