package source_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/fakeclock"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source"
)

// A step is one read of a paced body: it takes wait of the fake clock and
// then gives n bytes. A step with block set never returns by itself (a
// connection gone quiet): it ends when its attempt is cancelled. A step
// with late set takes its time without firing the clock's timers, as a
// timer that fires late on a busy machine.
type step struct {
	wait  time.Duration
	n     int
	block bool
	late  bool
}

// paced serves data: its first request's body reads as its steps say and
// then gives the rest at once; later requests (the resume) serve the rest
// at once. It runs on a fake clock; blocked receives each time a blocking
// step starts.
type paced struct {
	data    []byte
	steps   []step
	clk     *fakeclock.Clock
	skew    time.Duration // time that passed without firing timers
	blocked chan struct{}
	// openBlocks makes the first request send no response until it is
	// cancelled (blocked receives when it starts).
	openBlocks bool
	unsized    bool // the responses give no size

	mu     sync.Mutex
	opens  []int64
	closed int             // bodies closed
	fired  []time.Duration // when each timer fired, from the start
}

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newPaced(size int, steps ...step) *paced {
	return &paced{
		data:    upstream.Payload("paced", int64(size)),
		steps:   steps,
		clk:     fakeclock.New(start),
		blocked: make(chan struct{}, 1),
	}
}

// now is the clock the retrying fetcher measures reads by.
func (f *paced) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clk.Now().Add(f.skew)
}

// policy: 2 attempts, no wait between them, the fake clock, an idle
// timeout of idle and a minimum of 1000 bytes a second over window.
func (f *paced) policy(idle, window time.Duration, notify func(string, int, time.Duration, error)) source.RetryPolicy {
	return source.RetryPolicy{
		Attempts:    2,
		IdleTimeout: idle,
		LowSpeed:    source.LowSpeed{Rate: 1000, Window: window},
		Sleep:       func(context.Context, time.Duration) error { return nil },
		Now:         f.now,
		AfterFunc: func(d time.Duration, fn func()) source.Timer {
			return f.clk.AfterFunc(d, func() {
				f.mu.Lock()
				f.fired = append(f.fired, f.clk.Now().Sub(start))
				f.mu.Unlock()
				fn()
			})
		},
		Notify: notify,
	}
}

func (f *paced) String() string { return "paced:" }

func (f *paced) Fetch(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	return f.FetchRange(ctx, p, 0)
}

func (f *paced) FetchRange(ctx context.Context, p string, off int64) (io.ReadCloser, int64, error) {
	f.mu.Lock()
	if f.openBlocks && len(f.opens) == 0 {
		f.opens = append(f.opens, off)
		f.mu.Unlock()
		f.blocked <- struct{}{}
		<-ctx.Done()
		return nil, 0, ctx.Err()
	}
	defer f.mu.Unlock()
	b := &pacedBody{f: f, ctx: ctx, rest: f.data[off:]}
	if len(f.opens) == 0 {
		b.steps = f.steps
	}
	f.opens = append(f.opens, off)
	if f.unsized {
		return b, -1, nil
	}
	return b, int64(len(f.data)), nil
}

type pacedBody struct {
	f     *paced
	ctx   context.Context
	rest  []byte
	steps []step
}

func (b *pacedBody) Close() error {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	b.f.closed++
	return nil
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if len(b.steps) == 0 {
		if len(b.rest) == 0 {
			return 0, io.EOF
		}
		n := copy(p, b.rest)
		b.rest = b.rest[n:]
		return n, nil
	}
	s := b.steps[0]
	b.steps = b.steps[1:]
	switch {
	case s.block:
		b.f.blocked <- struct{}{}
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	case s.late:
		b.f.mu.Lock()
		b.f.skew += s.wait
		b.f.mu.Unlock()
	default:
		b.f.clk.Advance(s.wait)
	}
	n := copy(p[:min(len(p), s.n)], b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

// reads returns n steps of wait and size each.
func reads(n int, wait time.Duration, size int) []step {
	s := make([]step, n)
	for i := range s {
		s[i] = step{wait: wait, n: size}
	}
	return s
}

// TestPacedReads: the idle timeout and the minimum rate on a fake clock,
// to the byte and the nanosecond. A minimum of 1000 bytes a second over a
// window of a second unless a case says otherwise; the first body reads as
// the steps say, then a cut body resumes (at once) where it was cut.
func TestPacedReads(t *testing.T) {
	const idle = 5 * time.Second
	cases := []struct {
		name    string
		size    int
		unsized bool          // the size is not known (no resume: a cut starts over)
		window  time.Duration // 0: a second
		steps   []step
		// advance, for a body that blocks: the fake time the test lets
		// pass, step by step, once the read blocks.
		advance []time.Duration
		pause   time.Duration // the caller's own work after each read
		cut     string        // the error the body was cut with ("": not cut)
		readErr string        // the error the read fails with ("": none)
		at      int64         // where the resume started
		fired   string        // when timers fired, from the start
	}{
		{
			name:  "a window of 999 bytes is cut at its end",
			size:  5000,
			steps: append(reads(9, 100*time.Millisecond, 111), step{wait: 100 * time.Millisecond, n: 0}),
			cut:   "below the minimum rate: 999 bytes in 1s, want at least 1000 bytes/s",
			at:    999,
			fired: "[1s]",
		},
		{
			name:  "1000 bytes in each window are enough",
			size:  5000,
			steps: reads(20, 99*time.Millisecond, 100),
			fired: "[]",
		},
		{
			name: "the count starts again with each window",
			size: 5000,
			// 2000 bytes in 990 ms, 50 more in the next read, which ends
			// the first window at 1089 ms; then 50 bytes every 99 ms: the
			// timer fires in the 11th read (the fake clock jumps to its
			// end), which still gives its bytes.
			steps: append(reads(10, 99*time.Millisecond, 200), reads(12, 99*time.Millisecond, 50)...),
			cut:   "below the minimum rate: 500 bytes in 1s, want at least 1000 bytes/s",
			at:    2600,
			fired: "[2.178s]",
		},
		{
			name: "a read that blocks is cut when the window is over",
			size: 5000,
			// 250 bytes in 500 ms: the window has 500 ms left.
			steps:   append(reads(5, 100*time.Millisecond, 50), step{block: true}),
			advance: []time.Duration{500*time.Millisecond - 1, 1},
			cut:     "below the minimum rate: 250 bytes in 1s, want at least 1000 bytes/s",
			at:      250,
			fired:   "[1s]",
		},
		{
			name: "a window that has its bytes is left to the idle timeout",
			size: 5000,
			// 1000 bytes in 10 ms, then nothing: the rate cannot cut it.
			steps:   []step{{wait: 10 * time.Millisecond, n: 1000}, {block: true}},
			advance: []time.Duration{idle - 1, 1},
			cut:     "stalled: no data for 5s",
			at:      1000,
			fired:   "[5.01s]",
		},
		{
			name: "the last window may be short of bytes",
			size: 1050,
			// 1000 bytes in the first window, the last 50 in a second.
			steps: append(reads(10, 99*time.Millisecond, 100), step{wait: time.Second, n: 50}),
			fired: "[]",
		},
		{
			name: "a window over by a late timer is cut after its read",
			size: 5000,
			// The read takes the window's last 600 ms, but the timer that
			// should have cut it has not fired when it returns.
			steps: append(reads(4, 100*time.Millisecond, 100), step{wait: 600 * time.Millisecond, n: 100, late: true}),
			cut:   "below the minimum rate: 500 bytes in 1s, want at least 1000 bytes/s",
			at:    500,
			fired: "[]",
		},
		{
			// It cannot resume: the read fails, for the caller to fetch
			// the whole file again.
			name:    "a body of unknown size over by a late timer is cut after its read",
			size:    5000,
			unsized: true,
			steps:   append(reads(4, 100*time.Millisecond, 100), step{wait: 600 * time.Millisecond, n: 100, late: true}),
			readErr: "reading at byte 500: below the minimum rate: 500 bytes in 1s, want at least 1000 bytes/s",
			fired:   "[]",
		},
		{
			name: "exactly the minimum in a window over by a late timer is enough",
			size: 5000,
			// As above, but the late read brings the window to 1000 bytes.
			steps: append(reads(4, 100*time.Millisecond, 100), step{wait: 600 * time.Millisecond, n: 600, late: true}),
			fired: "[]",
		},
		{
			name:   "the minimum is the rate times the window",
			size:   5000,
			window: 2 * time.Second,
			// 1350 bytes in 2 s: more than 1000 bytes, fewer than 2000.
			steps: append(reads(9, 200*time.Millisecond, 150), step{wait: 200 * time.Millisecond, n: 0}),
			cut:   "below the minimum rate: 1350 bytes in 2s, want at least 1000 bytes/s",
			at:    1350,
			fired: "[2s]",
		},
		{
			name:   "a long window that has its bytes is not cut",
			size:   5000,
			window: 2 * time.Second,
			// 2000 bytes in each window of 2 s.
			steps: reads(20, 199*time.Millisecond, 200),
			fired: "[]",
		},
		{
			name:  "time between reads does not count",
			size:  3000,
			steps: reads(30, 0, 100),
			pause: time.Second,
			fired: "[]",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newPaced(c.size, c.steps...)
			f.unsized = c.unsized
			window := c.window
			if window == 0 {
				window = time.Second
			}
			var cuts []error
			notify := func(_ string, _ int, _ time.Duration, err error) { cuts = append(cuts, err) }
			rc, _, err := source.NewRetrying(f, f.policy(idle, window, notify)).Fetch(context.Background(), "item")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			type result struct {
				got []byte
				err error
			}
			done := make(chan result, 1)
			go func() {
				var got bytes.Buffer
				buf := make([]byte, 4096)
				for {
					n, err := rc.Read(buf)
					got.Write(buf[:n])
					if err != nil {
						if err == io.EOF {
							err = nil
						}
						done <- result{got.Bytes(), err}
						return
					}
					if c.pause > 0 {
						f.clk.Advance(c.pause)
					}
				}
			}()
			if c.advance != nil {
				<-f.blocked
				for _, d := range c.advance {
					f.clk.Advance(d)
				}
			}
			r := <-done
			if c.readErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), c.readErr) || !errors.Is(r.err, source.ErrTooSlow) || len(cuts) != 0 {
					t.Errorf("read: %v (retries %v), want it to fail saying %q", r.err, cuts, c.readErr)
				}
				return
			}
			if r.err != nil || !bytes.Equal(r.got, f.data) {
				t.Fatalf("read %d of %d bytes, err %v", len(r.got), c.size, r.err)
			}
			switch {
			case c.cut == "" && len(cuts) != 0:
				t.Errorf("cut with %v, want no cut", cuts)
			case c.cut != "" && (len(cuts) != 1 || !strings.Contains(cuts[0].Error(), c.cut)):
				t.Errorf("cut with %v, want one cut saying %q", cuts, c.cut)
			case c.cut != "" && fmt.Sprint(f.opens) != fmt.Sprintf("[0 %d]", c.at):
				t.Errorf("requests at %v, want [0 %d]", f.opens, c.at)
			}
			if got := fmt.Sprint(f.fired); got != c.fired {
				t.Errorf("timers fired at %s, want %s", got, c.fired)
			}
			for _, err := range cuts {
				if !errors.Is(err, source.ErrTooSlow) && !errors.Is(err, source.ErrStalled) {
					t.Errorf("cut with %v, want ErrTooSlow or ErrStalled", err)
				}
			}
		})
	}
}

// TestIdleAroundReads: the idle timeout runs only while a response or a
// read is awaited: not between the response and the first read; a response
// that never comes is cut "before a response" and tried again; a negative
// timeout is none. Retries are told with their attempt number.
func TestIdleAroundReads(t *testing.T) {
	const idle = 5 * time.Second
	for _, c := range []struct {
		name       string
		idle       time.Duration
		openBlocks bool
		cut        string
	}{
		{"the caller waits before the first read", idle, false, ""},
		{"no response", idle, true, "stalled: no data for 5s before a response"},
		{"no idle timeout", -1, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newPaced(3000)
			f.openBlocks = c.openBlocks
			var cuts []string
			notify := func(_ string, attempt int, _ time.Duration, err error) {
				cuts = append(cuts, fmt.Sprintf("#%d %v", attempt, err))
			}
			type opened struct {
				rc  io.ReadCloser
				err error
			}
			done := make(chan opened, 1)
			go func() {
				rc, _, err := source.NewRetrying(f, f.policy(c.idle, time.Second, notify)).Fetch(context.Background(), "item")
				done <- opened{rc, err}
			}()
			if c.openBlocks {
				<-f.blocked
				f.clk.Advance(idle)
			}
			o := <-done
			if o.err != nil {
				t.Fatal(o.err)
			}
			defer o.rc.Close()
			f.clk.Advance(3 * idle) // the caller's own work before it reads
			got, err := io.ReadAll(o.rc)
			if err != nil || !bytes.Equal(got, f.data) {
				t.Fatalf("read %d bytes: %v", len(got), err)
			}
			switch {
			case c.cut == "" && len(cuts) != 0:
				t.Errorf("cut: %v, want no cut", cuts)
			case c.cut != "" && (len(cuts) != 1 || !strings.HasPrefix(cuts[0], "#2 ") || !strings.Contains(cuts[0], c.cut)):
				t.Errorf("cut: %v, want one retry (#2) after %q", cuts, c.cut)
			}
			// Closed, the body closes the response and reads no more.
			o.rc.Close()
			if n, err := o.rc.Read(make([]byte, 10)); n != 0 || !errors.Is(err, os.ErrClosed) {
				t.Errorf("read after Close: %d bytes, %v; want os.ErrClosed", n, err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if responses := len(f.opens) - map[bool]int{true: 1}[c.openBlocks]; f.closed != responses {
				t.Errorf("%d of %d responses closed", f.closed, responses)
			}
		})
	}
}
