// Package fakeclock is a clock for tests that moves only when the test
// says: code under test waits on After or sets timers with AfterFunc, the
// test calls Advance and then Settle to let it run to its next wait. It replaces sleeps and
// wall-clock windows, so a test's outcome never depends on how fast the
// machine is.
//
// It is a test helper; nothing in the product imports it.
package fakeclock

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Clock is a fake clock. Its methods are safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

// A waiter is a channel of After or a timer of AfterFunc.
type waiter struct {
	at time.Time
	ch chan time.Time
	t  *Timer
}

// New returns a clock showing t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// After is time.After on this clock: the channel receives once Advance has
// moved the clock d on (at once when d <= 0).
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// AfterFunc is time.AfterFunc on this clock: f runs once Advance has moved
// the clock d on, in the goroutine that called Advance, after the clock's
// lock is released (f may use the clock).
func (c *Clock) AfterFunc(d time.Duration, f func()) *Timer {
	t := &Timer{c: c, f: f}
	t.Reset(d)
	return t
}

// Timer is a timer of AfterFunc. Stop and Reset report, as time.Timer's
// do, whether the timer was still waiting.
type Timer struct {
	c *Clock
	f func()
}

// Stop keeps the timer from firing.
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.drop(t)
}

// Reset makes the timer fire d from now instead.
func (t *Timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.c.drop(t)
	t.c.waiters = append(t.c.waiters, waiter{at: t.c.now.Add(d), t: t})
	return was
}

// drop removes t's waiter, if any, and reports whether there was one.
func (c *Clock) drop(t *Timer) bool {
	for i, w := range c.waiters {
		if w.t == t {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock on by d and fires the timers that are due: the
// channels of After first, then the functions of AfterFunc, in the order
// they are due (timers due at the same time in the order they were set).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	var due []waiter
	for _, w := range c.waiters {
		switch {
		case w.at.After(c.now):
			kept = append(kept, w)
		case w.t != nil:
			due = append(due, w)
		default:
			w.ch <- c.now
		}
	}
	c.waiters = kept
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b waiter) int { return a.at.Compare(b.at) })
	for _, w := range due {
		w.t.f()
	}
}

// Waiters returns the number of timers not yet fired.
func (c *Clock) Waiters() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.waiters) }

// Settle waits until at least n timers wait on the clock (the goroutines
// owning them did what the last Advance let them do), or until done is
// closed (nil: never), and reports which. If neither happens within a
// minute the test fails: that is a hang, not a timing assertion.
func (c *Clock) Settle(tb testing.TB, n int, done <-chan struct{}) bool {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-done:
			return false
		default:
		}
		if c.Waiters() >= n {
			return true
		}
		if time.Now().After(deadline) {
			tb.Fatalf("fakeclock: %d timers wait, want %d", c.Waiters(), n)
		}
		time.Sleep(200 * time.Microsecond)
	}
}
