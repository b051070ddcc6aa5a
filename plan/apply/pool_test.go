package apply

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestForEach: every index runs once without errors; the first error
// stops the handing out of work and is returned; a cancelled parent
// context is reported.
func TestForEach(t *testing.T) {
	ctx := context.Background()
	var seen [100]atomic.Int32
	if err := forEach(ctx, len(seen), 7, func(_ context.Context, i int) error { seen[i].Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("index %d ran %d times", i, n)
		}
	}

	// Index 3 fails; every later index waits for the pool's context to be
	// cancelled, so each worker holds at most one of them and no more are
	// handed out once the error is in: index 3 runs, and none after 4.
	boom := errors.New("boom")
	var ran [1000]atomic.Int32
	safety := make(chan struct{}) // a safety net, not a measurement
	stop := time.AfterFunc(10*time.Second, func() { close(safety) })
	defer stop.Stop()
	var gaveUp atomic.Bool
	err := forEach(ctx, len(ran), 2, func(ctx context.Context, i int) error {
		ran[i].Add(1)
		switch {
		case i == 3:
			return boom
		case i > 3 && !gaveUp.Load():
			select {
			case <-ctx.Done():
			case <-safety:
				if !gaveUp.Swap(true) {
					t.Errorf("index %d: the pool's context was not cancelled after the error", i)
				}
			}
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("forEach = %v, want %v", err, boom)
	}
	for i := range ran {
		if n := ran[i].Load(); n > 1 || i == 3 && n != 1 || i > 4 && n != 0 {
			t.Errorf("index %d ran %d times after the error at index 3", i, n)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := forEach(cancelled, 5, 2, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("forEach on a cancelled context = %v", err)
	}
}
