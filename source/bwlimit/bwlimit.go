// Package bwlimit caps the rate at which many readers together read: one
// token bucket shared by every transfer, whose rate may change with the
// time of day (a timetable, as rclone's --bwlimit).
package bwlimit

import (
	"context"
	"io"
	"sync"
	"time"
)

// minBurst is the smallest burst (and largest read) of a limited reader.
const minBurst = 4 << 10

// Limiter hands out bytes at a rate. Its methods may be called from
// several goroutines at once.
type Limiter struct {
	rate  func(time.Time) int64
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu     sync.Mutex
	cur    int64   // the rate the bucket was last filled at
	tokens float64 // may be negative: bytes read ahead of the rate
	last   time.Time
}

// Clock is the time a Limiter uses; tests replace it. The zero value is
// the real clock.
type Clock struct {
	Now func() time.Time
	// Sleep waits d or until ctx is done (then returns ctx's error).
	Sleep func(ctx context.Context, d time.Duration) error
}

// New returns a limiter whose rate at a time is rate(t) bytes a second;
// 0 or less means no limit then.
func New(rate func(time.Time) int64, c Clock) *Limiter {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = Sleep
	}
	return &Limiter{rate: rate, now: c.Now, sleep: c.Sleep}
}

// Sleep waits d or until ctx is done (then it returns ctx's error): the
// real clock's sleep, also used by the retries of package source.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// burst is the bucket's size at rate r: a tenth of a second's worth.
func burst(r int64) int64 { return max(r/10, minBurst) }

// Rate returns the rate in effect now, in bytes a second; 0 is no limit.
func (l *Limiter) Rate() int64 { return max(l.rate(l.now()), 0) }

// Chunk returns the most bytes one read should ask for, so that a read
// never takes much more than the bucket holds.
func (l *Limiter) Chunk() int {
	if r := l.Rate(); r > 0 {
		return int(burst(r))
	}
	return 1 << 30
}

// Wait accounts for n bytes just read and sleeps until the rate allows
// them (or ctx is done: then it returns ctx's error).
func (l *Limiter) Wait(ctx context.Context, n int) error {
	l.mu.Lock()
	now := l.now()
	r := l.rate(now)
	if r <= 0 {
		l.cur, l.tokens, l.last = 0, 0, now
		l.mu.Unlock()
		return nil
	}
	b := float64(burst(r))
	switch {
	case l.cur <= 0:
		l.tokens = b // limited from now on: a full bucket
	default:
		if el := now.Sub(l.last); el > 0 {
			l.tokens += el.Seconds() * float64(l.cur)
		}
		l.tokens = min(l.tokens, b) // a debt is kept across a change of rate
	}
	l.cur = r
	l.last = now
	l.tokens -= float64(n)
	var d time.Duration
	if l.tokens < 0 {
		d = time.Duration(-l.tokens / float64(r) * float64(time.Second))
	}
	l.mu.Unlock()
	return l.sleep(ctx, d)
}

// Reader returns a reader of r whose reads l paces; ctx ends the waits.
func (l *Limiter) Reader(ctx context.Context, r io.Reader) io.Reader {
	return &reader{l: l, ctx: ctx, r: r}
}

type reader struct {
	l   *Limiter
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (r *reader) Read(p []byte) (int, error) {
	if c := r.l.Chunk(); len(p) > c {
		p = p[:c]
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if werr := r.l.Wait(r.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}
