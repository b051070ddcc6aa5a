// Package fakeclock is a clock for tests that moves only when the test
// says: code under test waits on After, the test calls Advance and then
// Settle to let it run to its next wait. It replaces sleeps and
// wall-clock windows, so a test's outcome never depends on how fast the
// machine is.
//
// It is a test helper; nothing in the product imports it.
package fakeclock

import (
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

type waiter struct {
	at time.Time
	ch chan time.Time
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
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock on by d and fires the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
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
