package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ssmirror/ssmirror/source/bwlimit"
	"github.com/ssmirror/ssmirror/source/catalog"
)

// Sentinel errors of retrying and resuming fetches.
var (
	// ErrStalled is wrapped when a response or a body makes no progress for
	// the idle timeout. It is transient.
	ErrStalled = errors.New("stalled")
	// ErrTooSlow is wrapped when a body arrives slower than the policy's
	// LowSpeed rate over its window. It is transient.
	ErrTooSlow = errors.New("below the minimum rate")
	// ErrNoResume is wrapped when a source cannot continue a file from an
	// offset (it ignored the Range request, or answered another range or
	// total size). The whole file must be fetched again.
	ErrNoResume = errors.New("cannot resume")
	// ErrExhausted is wrapped when a Retrying fetcher gave up after its
	// attempts. Classify reports it as not transient: retrying again would
	// multiply the policy's attempts.
	ErrExhausted = errors.New("retries exhausted")
)

// RangeFetcher is implemented by fetchers that can open a file at an offset,
// which lets a Retrying fetcher resume a body that fails mid-stream.
type RangeFetcher interface {
	Fetcher
	// FetchRange opens path at byte offset and returns a reader of the rest
	// of the file and the size of the whole file. When the source cannot
	// serve exactly that (offset to the end of the file) the error wraps
	// ErrNoResume.
	FetchRange(ctx context.Context, path string, offset int64) (rc io.ReadCloser, total int64, err error)
}

// StatusError is an HTTP response status a fetch did not expect (404 and
// 410 are reported as ErrNotExist instead).
type StatusError struct {
	URL        string        // the request URL, without credentials or query
	Code       int           // e.g. 503
	Status     string        // e.g. "503 Service Unavailable"
	S3Code     string        // the <Code> of an S3 XML error body, e.g. "SlowDown"
	RetryAfter time.Duration // the Retry-After header, 0 when absent
	Range      int64         // the offset of a ranged request, -1 for a plain GET
}

func (e *StatusError) Error() string {
	s := "GET " + e.URL
	if e.Range >= 0 {
		s += fmt.Sprintf(" (bytes=%d-)", e.Range)
	}
	s += ": " + e.Status
	if e.S3Code != "" {
		s += " (" + e.S3Code + ")"
	}
	return s
}

// Transient reports whether the status may go away on its own: 5xx
// (including 503 SlowDown), 429 Too Many Requests and 408 Request Timeout.
func (e *StatusError) Transient() bool {
	return e.Code >= 500 || e.Code == http.StatusTooManyRequests || e.Code == http.StatusRequestTimeout
}

var s3CodeRE = regexp.MustCompile(`<Code>([A-Za-z0-9.]{1,64})</Code>`)

// newStatusError describes resp (whose status was not expected) and closes
// its body. offset is the start of a ranged request, -1 for none.
func newStatusError(u *url.URL, resp *http.Response, offset int64) *StatusError {
	defer resp.Body.Close()
	e := &StatusError{URL: redactURL(u), Code: resp.StatusCode, Status: resp.Status, Range: offset}
	if e.Status == "" {
		e.Status = strconv.Itoa(resp.StatusCode)
	}
	if strings.Contains(resp.Header.Get("Content-Type"), "xml") {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if m := s3CodeRE.FindSubmatch(head); m != nil {
			e.S3Code = string(m[1])
		}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(ra); err == nil && s > 0 {
			e.RetryAfter = time.Duration(min(s, 3600)) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			e.RetryAfter = max(time.Until(t), 0)
		}
	}
	return e
}

// FetchRange implements RangeFetcher: a GET with "Range: bytes=offset-",
// accepted only as a 206 whose Content-Range starts at offset and runs to
// the end of the file.
func (h *HTTP) FetchRange(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	if err := catalog.ValidPath(p); err != nil {
		return nil, 0, err
	}
	u := h.Root.ResolveReference(&url.URL{Path: p})
	name := fmt.Sprintf("GET %s (bytes=%d-)", redactURL(u), offset)
	if offset < 0 {
		return nil, 0, fmt.Errorf("%s: %w: negative offset", name, ErrNoResume)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	resp, err := h.do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	fail := func(format string, a ...any) (io.ReadCloser, int64, error) {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("%s: %w: "+format, append([]any{name, ErrNoResume}, a...)...)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusNotFound, http.StatusGone:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("%s: %s: %w", name, resp.Status, ErrNotExist)
	case http.StatusOK:
		return fail("the server ignored the Range request (%s instead of 206 Partial Content)", resp.Status)
	case http.StatusRequestedRangeNotSatisfiable:
		return fail("%s", resp.Status)
	default:
		return nil, 0, newStatusError(u, resp, offset)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return fail("unrequested Content-Encoding %q", ce)
	}
	cr := resp.Header.Get("Content-Range")
	start, end, total, ok := parseContentRange(cr)
	switch {
	case !ok:
		return fail("malformed Content-Range %q", cr)
	case start != offset || end != total-1:
		return fail("Content-Range %q, want bytes %d-%d/%d", cr, offset, total-1, total)
	case resp.ContentLength >= 0 && resp.ContentLength != total-offset:
		return fail("Content-Length %d, but Content-Range %q", resp.ContentLength, cr)
	}
	return resp.Body, total, nil
}

// parseContentRange parses "bytes START-END/TOTAL" (a known total).
func parseContentRange(s string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(a, 10, 64)
	end, err2 = strconv.ParseInt(b, 10, 64)
	total, err3 = strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || start < 0 || end < start || total <= end {
		return 0, 0, 0, false
	}
	return start, end, total, true
}

// FetchRange implements RangeFetcher by seeking.
func (d Dir) FetchRange(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	rc, size, err := d.Fetch(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	f := rc.(*os.File)
	if offset < 0 || offset > size {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w: offset %d outside the file's %d bytes", f.Name(), ErrNoResume, offset, size)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return f, size, nil
}

// Defaults of RetryPolicy.
const (
	DefaultAttempts    = 5
	DefaultBaseDelay   = time.Second
	DefaultMaxDelay    = 30 * time.Second
	DefaultIdleTimeout = 60 * time.Second
)

// RetryPolicy says how a Retrying fetcher retries. The zero value uses the
// defaults.
type RetryPolicy struct {
	// Attempts is the number of tries in a row that may fail before the
	// fetch gives up (the first try included); a body that makes progress
	// between failures starts a new count (with LowSpeed, progress is at
	// least its window's worth of bytes: a trickle does not count). <1 means DefaultAttempts.
	Attempts int
	// BaseDelay and MaxDelay bound the wait before retry n:
	// min(MaxDelay, BaseDelay*2^(n-1)), of which a uniformly random part
	// is slept (full jitter) unless NoJitter. 0 means the defaults.
	BaseDelay, MaxDelay time.Duration
	NoJitter            bool
	// IdleTimeout fails a response or body read that makes no progress for
	// this long (ErrStalled, transient). 0 means DefaultIdleTimeout;
	// negative disables it.
	IdleTimeout time.Duration
	// LowSpeed, when set, fails a body that arrives slower than its rate
	// over its window (ErrTooSlow, transient), as curl's --speed-limit and
	// --speed-time do; the zero value disables it.
	LowSpeed LowSpeed

	// Sleep waits d or until ctx is done (then returns ctx's error); nil
	// uses a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now and AfterFunc are the clock that times reads for IdleTimeout
	// and LowSpeed; nil uses time.Now and time.AfterFunc. Tests replace
	// them.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) Timer
	// Rand returns a number in [0, 1) for jitter; nil uses math/rand/v2.
	Rand func() float64
	// Notify, if set, is told before each retry: the path, the number of
	// the attempt about to be made (2 for the first retry), the wait and
	// the error that caused it. It may be called from several goroutines.
	Notify func(path string, attempt int, wait time.Duration, err error)
}

// Timer is a timer of RetryPolicy.AfterFunc, as *time.Timer is: Stop and
// Reset report whether it was still waiting.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// LowSpeed is a minimum transfer rate: a body that delivers fewer than
// Rate bytes a second over Window of time spent waiting for it is cut.
// Time the caller spends between reads (writing to a store, waiting for a
// bandwidth limit) does not count.
type LowSpeed struct {
	Rate   int64 // bytes per second
	Window time.Duration
}

// on reports whether the check is enabled.
func (l LowSpeed) on() bool { return l.Rate > 0 && l.Window > 0 }

// need is the number of bytes a window must deliver.
func (l LowSpeed) need() int64 { return max(int64(float64(l.Rate)*l.Window.Seconds()), 1) }

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts < 1 {
		p.Attempts = DefaultAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.IdleTimeout == 0 {
		p.IdleTimeout = DefaultIdleTimeout
	}
	if p.Sleep == nil {
		p.Sleep = bwlimit.Sleep
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.AfterFunc == nil {
		p.AfterFunc = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
	return p
}

// Delay returns the wait before retry n (1 for the first retry) after
// err: capped exponential backoff with full jitter, but at least the
// server's Retry-After (itself capped by MaxDelay).
func (p RetryPolicy) Delay(n int, err error) time.Duration {
	p = p.withDefaults()
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d = min(d, p.MaxDelay/2) * 2 // no overflow
	}
	d = min(d, p.MaxDelay)
	if !p.NoJitter {
		d = time.Duration(p.Rand() * float64(d))
	}
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > d {
		d = min(se.RetryAfter, p.MaxDelay)
	}
	return d
}

// Classify reports whether err is transient: another attempt at the same
// fetch (or, for a body that failed and could not be resumed, at the whole
// file) may succeed. Transient: connection errors (refused, reset, broken
// pipe), timeouts, stalls (ErrStalled), bodies below the minimum rate (ErrTooSlow), truncated bodies, HTTP 5xx
// (including 503 SlowDown), 429 and 408. Not transient: nil, missing files
// (ErrNotExist), other statuses (403, 401, 400...), unsafe paths, invalid
// catalogs, integrity failures, TLS certificate errors, context
// cancellation or deadline, too many redirects, refused encodings, and
// errors of a Retrying fetcher that already used its attempts
// (ErrExhausted).
func Classify(err error) bool {
	if err == nil {
		return false
	}
	var (
		se   *StatusError
		dns  *net.DNSError
		cert *tls.CertificateVerificationError
		uae  x509.UnknownAuthorityError
		hn   x509.HostnameError
		ci   x509.CertificateInvalidError
		ne   net.Error
		op   *net.OpError
	)
	switch {
	case errors.Is(err, ErrExhausted),
		errors.Is(err, ErrNotExist),
		errors.Is(err, ErrIntegrity),
		errors.Is(err, catalog.ErrUnsafePath),
		errors.Is(err, catalog.ErrInvalid):
		return false
	case errors.Is(err, ErrStalled), errors.Is(err, ErrTooSlow):
		return true
	case errors.Is(err, context.Canceled), inChain(err, context.DeadlineExceeded):
		return false // the caller's context, not the network
	case errors.As(err, &se):
		return se.Transient()
	case errors.As(err, &cert), errors.As(err, &uae), errors.As(err, &hn), errors.As(err, &ci):
		return false
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENETDOWN):
		return true
	case errors.As(err, &dns):
		return dns.IsTimeout || dns.IsTemporary
	case errors.As(err, &ne) && ne.Timeout():
		return true // e.g. the client's ResponseHeaderTimeout
	case errors.As(err, &op):
		return true // any other socket-level failure
	}
	return false
}

// inChain reports whether target itself is in err's chain. (errors.Is
// would also match net/http's response-header timeout, which claims to be
// context.DeadlineExceeded although no caller's deadline passed.)
func inChain(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if inChain(e, target) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

// NewRetrying returns a fetcher that retries f's transient failures
// (Classify) with p's backoff, fails responses and reads that stall for
// p.IdleTimeout, and resumes a body that fails mid-stream where it broke
// when f is a RangeFetcher and the size is known. A body that cannot be
// resumed returns the error (still transient: the caller may restart the
// whole file). Errors of the returned bodies do not name the file: callers
// (source.Read, the verifying reader) do.
func NewRetrying(f Fetcher, p RetryPolicy) Fetcher {
	return &retrying{f: f, p: p.withDefaults()}
}

type retrying struct {
	f Fetcher
	p RetryPolicy
}

// String implements Fetcher.
func (r *retrying) String() string { return r.f.String() }

func (r *retrying) stalled() error {
	return fmt.Errorf("%w: no data for %v", ErrStalled, r.p.IdleTimeout)
}

func (r *retrying) tooSlow(n int64, d time.Duration) error {
	return fmt.Errorf("%w: %d bytes in %v, want at least %d bytes/s", ErrTooSlow, n, d.Round(time.Millisecond), r.p.LowSpeed.Rate)
}

func (r *retrying) name(p string) string { return strings.TrimSuffix(r.f.String(), "/") + "/" + p }

// Fetch implements Fetcher.
func (r *retrying) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	b := &body{r: r, ctx: ctx, path: p, size: -1}
	if err := b.open(nil); err != nil {
		return nil, 0, err
	}
	return b, b.size, nil
}

// FetchRange implements RangeFetcher when the wrapped fetcher does: the
// file from offset on, retried and resumed as Fetch is; otherwise it
// refuses with ErrNoResume.
func (r *retrying) FetchRange(ctx context.Context, p string, offset int64) (io.ReadCloser, int64, error) {
	if _, ok := r.f.(RangeFetcher); !ok || offset < 0 {
		return nil, 0, fmt.Errorf("%s: %w: ranged reads not supported", r.name(p), ErrNoResume)
	}
	if offset == 0 {
		return r.Fetch(ctx, p)
	}
	b := &body{r: r, ctx: ctx, path: p, size: -1, off: offset, failOff: offset}
	if err := b.open(nil); err != nil {
		return nil, 0, err
	}
	return b, b.size, nil
}

// body is the reader a Retrying fetch returns: it reads the current
// attempt's body under the idle timeout and, when a read fails with a
// transient error, opens the file again where it broke.
type body struct {
	r    *retrying
	ctx  context.Context // the caller's
	path string
	size int64 // -1 when the source does not say

	rc     io.ReadCloser // the current attempt's body
	cancel context.CancelCauseFunc
	actx   context.Context // the current attempt's context
	timer  Timer           // idle timer of the current attempt; nil if disabled
	slow   Timer           // low-speed timer of the current attempt; nil if disabled

	// The current low-speed window: time spent in reads, bytes they gave.
	winWaited  time.Duration
	winBytes   int64
	armedBytes atomic.Int64 // winBytes, for the low-speed timer

	cond *Validators // the first try is conditional on these, if set
	got  Validators  // the validators of what the first try opened

	off      int64 // bytes delivered
	failures int   // failed tries in a row without progress
	failOff  int64 // off at the last failure
	failed   error // a read failure not yet handled (bytes came with it)
	err      error // final
}

// open opens the file at b.off, retrying transient failures; cause is the
// failure that made it necessary (nil for the first try).
func (b *body) open(cause error) error {
	rf, _ := b.r.f.(RangeFetcher)
	for {
		if cause != nil {
			b.failures++
			if b.failures >= b.r.p.Attempts {
				return fmt.Errorf("%w: %w after %d attempt%s", cause, ErrExhausted, b.failures, map[bool]string{true: "s"}[b.failures > 1])
			}
			wait := b.r.p.Delay(b.failures, cause)
			if b.r.p.Notify != nil {
				b.r.p.Notify(b.path, b.failures+1, wait, cause)
			}
			if err := b.r.p.Sleep(b.ctx, wait); err != nil {
				return fmt.Errorf("%w (while waiting to retry after: %v)", err, cause)
			}
		}
		actx, cancel := context.WithCancelCause(b.ctx)
		var timer Timer
		if idle := b.r.p.IdleTimeout; idle > 0 {
			timer = b.r.p.AfterFunc(idle, func() { cancel(b.r.stalled()) })
		}
		var (
			rc   io.ReadCloser
			size int64
			err  error
		)
		switch {
		case b.off == 0 && b.cond != nil:
			rc, size, b.got, err = b.r.f.(ConditionalFetcher).FetchIfChanged(actx, b.path, *b.cond)
		case b.off == 0:
			rc, size, err = b.r.f.Fetch(actx, b.path)
		default:
			rc, size, err = rf.FetchRange(actx, b.path, b.off)
		}
		if timer != nil {
			timer.Stop()
		}
		if err == nil && b.off == 0 && b.size >= 0 && size != b.size {
			rc.Close()
			err = fmt.Errorf("%s: size changed from %d to %d bytes between attempts", b.r.name(b.path), b.size, size)
		}
		if err == nil && b.off > 0 && b.size >= 0 && size != b.size {
			rc.Close()
			err = fmt.Errorf("%s: %w: the file now has %d bytes, not %d", b.r.name(b.path), ErrNoResume, size, b.size)
		}
		if err != nil {
			stall := context.Cause(actx)
			cancel(nil)
			if errors.Is(stall, ErrStalled) && b.ctx.Err() == nil {
				err = fmt.Errorf("%s: %w before a response", b.r.name(b.path), stall)
			}
			if b.off > 0 && !Classify(err) {
				// The resume itself was refused: report the break (still
				// transient: the whole file may be fetched again) and why.
				return fmt.Errorf("%w; resume refused: %v", cause, err)
			}
			if !Classify(err) || b.ctx.Err() != nil {
				return err
			}
			cause = err
			continue
		}
		b.rc, b.size, b.actx, b.cancel, b.timer = rc, size, actx, cancel, timer
		b.slow, b.winWaited, b.winBytes = nil, 0, 0
		if ls := b.r.p.LowSpeed; ls.on() {
			b.slow = b.r.p.AfterFunc(time.Hour, func() {
				cancel(b.r.tooSlow(b.armedBytes.Load(), ls.Window))
			})
			b.slow.Stop()
		}
		return nil
	}
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	for b.err == nil {
		if cause := b.failed; cause != nil {
			b.failed = nil
			b.err = b.resume(cause)
			continue
		}
		if b.timer != nil {
			b.timer.Reset(b.r.p.IdleTimeout)
		}
		ls := b.r.p.LowSpeed
		slowArmed := b.slow != nil && b.winBytes < ls.need()
		if slowArmed {
			b.armedBytes.Store(b.winBytes)
			// Nothing more can arrive in this window while the read
			// blocks: cut it when the window is over.
			b.slow.Reset(ls.Window - b.winWaited)
		}
		began := b.r.p.Now()
		n, err := b.rc.Read(p)
		if b.timer != nil && !b.timer.Stop() && err == nil {
			err = b.r.stalled() // it fired: this attempt is being cancelled
		}
		if slowArmed && !b.slow.Stop() && err == nil {
			err = b.r.tooSlow(b.winBytes, ls.Window)
		}
		b.off += int64(n)
		if b.slow != nil {
			b.winWaited += b.r.p.Now().Sub(began)
			b.winBytes += int64(n)
			if b.winWaited >= ls.Window {
				if b.winBytes < ls.need() && err == nil && (b.size < 0 || b.off < b.size) {
					err = b.r.tooSlow(b.winBytes, b.winWaited)
				}
				b.winWaited, b.winBytes = 0, 0
			}
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF && (b.size < 0 || b.off >= b.size):
			return n, io.EOF
		case b.size >= 0 && b.off == b.size:
			// Every promised byte arrived (the caller checks them): an
			// error after them does not need another request.
			return n, io.EOF
		case err == io.EOF:
			err = fmt.Errorf("body ended early: %w", io.ErrUnexpectedEOF)
		}
		if cause := context.Cause(b.actx); (errors.Is(cause, ErrStalled) || errors.Is(cause, ErrTooSlow)) && b.ctx.Err() == nil {
			err = cause
		}
		b.failed = err
		if n > 0 {
			return n, nil // the failure is handled on the next call
		}
	}
	return 0, b.err
}

// resume handles a read failure: it closes the broken attempt and opens
// the file again at the current offset, or says why it cannot.
func (b *body) resume(cause error) error {
	b.closeAttempt()
	where := fmt.Sprintf("reading at byte %d", b.off)
	if b.size >= 0 {
		where += fmt.Sprintf(" of %d", b.size)
	}
	if b.ctx.Err() != nil || !Classify(cause) {
		return fmt.Errorf("%s: %w", where, cause)
	}
	if _, ok := b.r.f.(RangeFetcher); b.off > 0 && (!ok || b.size < 0) {
		return fmt.Errorf("%s: %w (%s cannot resume a file of unknown size or without ranged reads)", where, cause, b.r.f)
	}
	progress := int64(1)
	if ls := b.r.p.LowSpeed; ls.on() {
		progress = ls.need() // a trickle is no progress
	}
	if b.off-b.failOff >= progress {
		b.failures = 0 // progress since the last failure
	}
	b.failOff = b.off
	if err := b.open(cause); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

func (b *body) closeAttempt() error {
	if b.rc == nil {
		return nil
	}
	if b.timer != nil {
		b.timer.Stop()
	}
	if b.slow != nil {
		b.slow.Stop()
	}
	err := b.rc.Close()
	b.cancel(nil)
	b.rc = nil
	return err
}

// Close implements io.Closer.
func (b *body) Close() error {
	if b.err == nil {
		b.err = os.ErrClosed
	}
	return b.closeAttempt()
}
