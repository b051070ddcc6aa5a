package apply

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
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

	boom := errors.New("boom")
	var ran atomic.Int32
	err := forEach(ctx, 1000, 2, func(ctx context.Context, i int) error {
		ran.Add(1)
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || ran.Load() > 10 {
		t.Errorf("forEach = %v after %d calls, want %v after a few", err, ran.Load(), boom)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := forEach(cancelled, 5, 2, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("forEach on a cancelled context = %v", err)
	}
}
