package fakeclock

import (
	"fmt"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestAfter: a channel of After receives once the clock has moved d on,
// and at once for d <= 0.
func TestAfter(t *testing.T) {
	c := New(epoch)
	if got := <-c.After(0); !got.Equal(epoch) {
		t.Fatalf("After(0) gave %v, want %v", got, epoch)
	}
	ch := c.After(time.Second)
	c.Advance(time.Second - 1)
	select {
	case <-ch:
		t.Fatal("After(1s) fired 1 ns early")
	default:
	}
	c.Advance(1)
	if got := <-ch; !got.Equal(epoch.Add(time.Second)) {
		t.Fatalf("After(1s) gave %v", got)
	}
	if c.Waiters() != 0 {
		t.Fatalf("%d waiters after it fired", c.Waiters())
	}
}

// TestAfterFunc: timers fire in the order they are due, after the clock's
// lock is released (a function may use the clock); Stop and Reset report,
// as time.Timer's do, whether the timer was still waiting.
func TestAfterFunc(t *testing.T) {
	c := New(epoch)
	var fired []string
	mark := func(name string) func() {
		return func() { fired = append(fired, fmt.Sprintf("%s@%v", name, c.Now().Sub(epoch))) }
	}
	late := c.AfterFunc(3*time.Second, mark("late"))
	early := c.AfterFunc(2*time.Second, mark("early"))
	stopped := c.AfterFunc(time.Second, mark("stopped"))
	if !stopped.Stop() {
		t.Error("Stop of a waiting timer reported false")
	}
	if stopped.Stop() {
		t.Error("a second Stop reported true")
	}
	c.Advance(time.Second)
	if len(fired) != 0 {
		t.Fatalf("fired %v after 1s, want nothing", fired)
	}
	if !late.Reset(time.Second) { // now due at 2s, with early, but later set
		t.Error("Reset of a waiting timer reported false")
	}
	c.Advance(5 * time.Second)
	if got, want := fmt.Sprint(fired), "[early@6s late@6s]"; got != want {
		t.Errorf("fired %s, want %s", got, want)
	}
	if early.Stop() || early.Reset(time.Second) {
		t.Error("Stop or Reset of a timer that fired reported true")
	}
	c.Advance(time.Second)
	if got, want := fmt.Sprint(fired), "[early@6s late@6s early@7s]"; got != want {
		t.Errorf("after Reset of a fired timer, fired %s, want %s", got, want)
	}
}
