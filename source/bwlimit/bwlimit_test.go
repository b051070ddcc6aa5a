package bwlimit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/source/bwlimit"
)

// fakeClock advances only when slept on.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (c *fakeClock) clock() bwlimit.Clock {
	return bwlimit.Clock{
		Now: func() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t },
		Sleep: func(ctx context.Context, d time.Duration) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.t = c.t.Add(d)
			c.slept += d
			return ctx.Err()
		},
	}
}

func (c *fakeClock) elapsed() time.Duration { c.mu.Lock(); defer c.mu.Unlock(); return c.slept }

func at(hhmm string) time.Time {
	t, _ := time.ParseInLocation("2006-01-02 15:04", "2026-03-02 "+hhmm, time.Local)
	return t
}

func constant(r int64) func(time.Time) int64 { return func(time.Time) int64 { return r } }

func read(t *testing.T, r io.Reader, n int) {
	t.Helper()
	got, err := io.ReadAll(r)
	if err != nil || len(got) != n {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, n)
	}
}

func near(got, want time.Duration) bool {
	return got > want-time.Millisecond && got < want+time.Millisecond
}

// TestLimiterRate: reading 20,000 bytes at 1,000 bytes/s takes the time
// the rate allows after the first burst (4 KiB), whether one reader or
// two interleaved ones read them: the bucket is shared.
func TestLimiterRate(t *testing.T) {
	want := time.Duration(float64(20_000-4096) / 1000 * float64(time.Second))

	c := &fakeClock{t: at("12:00")}
	l := bwlimit.New(constant(1000), c.clock())
	read(t, l.Reader(context.Background(), bytes.NewReader(make([]byte, 20_000))), 20_000)
	if got := c.elapsed(); !near(got, want) {
		t.Errorf("one reader: %v, want %v", got, want)
	}
	if l.Rate() != 1000 {
		t.Errorf("Rate() = %d, want 1000", l.Rate())
	}

	c = &fakeClock{t: at("12:00")}
	l = bwlimit.New(constant(1000), c.clock())
	a := l.Reader(context.Background(), bytes.NewReader(make([]byte, 10_000)))
	b := l.Reader(context.Background(), bytes.NewReader(make([]byte, 10_000)))
	buf := make([]byte, 1000)
	total := 0
	for total < 20_000 {
		for _, r := range []io.Reader{a, b} {
			n, err := r.Read(buf)
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			total += n
		}
	}
	if got := c.elapsed(); !near(got, want) {
		t.Errorf("two readers: %v, want %v", got, want)
	}
}

// TestLimiterTimetable: with "08:00,1K 18:00,off", reads before 08:00
// are not held back, reads after it are.
func TestLimiterTimetable(t *testing.T) {
	tt, err := config.ParseTimetable("08:00,1K 18:00,off")
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeClock{t: at("07:59")}
	l := bwlimit.New(tt.At, c.clock())
	if l.Rate() != 0 {
		t.Errorf("Rate() at 07:59 = %d, want 0 (no limit)", l.Rate())
	}
	read(t, l.Reader(context.Background(), bytes.NewReader(make([]byte, 1<<20))), 1<<20)
	if got := c.elapsed(); got != 0 {
		t.Errorf("before 08:00: slept %v, want no wait", got)
	}
	c.mu.Lock()
	c.t = at("08:00")
	c.mu.Unlock()
	if l.Rate() != 1024 {
		t.Errorf("Rate() at 08:00 = %d, want 1024", l.Rate())
	}
	read(t, l.Reader(context.Background(), bytes.NewReader(make([]byte, 4096+10240))), 4096+10240)
	if got, want := c.elapsed(), 10*time.Second; !near(got, want) {
		t.Errorf("after 08:00: %v, want %v", got, want)
	}
}

// TestLimiterCancel: a wait ends when the context does.
func TestLimiterCancel(t *testing.T) {
	l := bwlimit.New(constant(1), bwlimit.Clock{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := io.ReadAll(l.Reader(ctx, bytes.NewReader(make([]byte, 100_000))))
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
