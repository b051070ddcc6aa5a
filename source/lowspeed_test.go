package source_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/bwlimit"
)

// trickleRig is the retry rig's upstream read directly (the fault proxy
// buffers what it relays, which would hide a trickle), with the Range
// header of every request recorded.
type trickleRig struct {
	*retryRig
	direct *source.HTTP
	mu     sync.Mutex
	got    []string
}

func newTrickleRig(t *testing.T) *trickleRig {
	r := &trickleRig{retryRig: newRetryRig(t)}
	var err error
	if r.direct, err = source.NewHTTP(r.up.URL+"/", nil); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *trickleRig) ranges() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// trickle makes the upstream answer the first n GETs (ranged ones too
// when ranged is set) with one byte every gap, forever: each byte comes
// well inside the idle timeout, so only a minimum rate can cut the body.
// The others are served normally.
func (r *trickleRig) trickle(n int64, ranged bool, gap time.Duration) *atomic.Int64 {
	var served atomic.Int64
	r.up.SetHook(func(w http.ResponseWriter, req *http.Request) bool {
		rng := req.Header.Get("Range")
		r.mu.Lock()
		r.got = append(r.got, rng)
		r.mu.Unlock()
		if (rng != "" && !ranged) || served.Add(1) > n {
			return false
		}
		upstream.Trickle(w, req, r.body, gap)
		return true
	})
	return &served
}

// lowSpeedPolicy: the rig's idle timeout of a second, which a byte every
// 20 ms never reaches, and a minimum of 10 kB/s over 300 ms, which it
// does not meet.
func (r *retryRig) lowSpeedPolicy() source.RetryPolicy {
	p := r.policy()
	p.LowSpeed = source.LowSpeed{Rate: 10_000, Window: 300 * time.Millisecond}
	return p
}

// TestLowSpeedCutsTrickle: a body that trickles in one byte at a time,
// each just inside the idle timeout, is cut once it falls below the
// minimum rate over the window, and the read resumes with a ranged GET
// from where it was cut.
func TestLowSpeedCutsTrickle(t *testing.T) {
	r := newTrickleRig(t)
	r.trickle(1, false, 20*time.Millisecond)
	got, err := r.fetchAll(t, source.NewRetrying(r.direct, r.lowSpeedPolicy()))
	if err != nil || !bytes.Equal(got, r.body) {
		t.Fatalf("fetch: %v (%d bytes)", err, len(got))
	}
	r.wantRetries(t, 1, source.ErrTooSlow)
	ranges := r.ranges()
	if len(ranges) != 2 || ranges[0] != "" || !strings.HasPrefix(ranges[1], "bytes=") || ranges[1] == "bytes=0-" {
		t.Errorf("Range headers %q, want a plain GET, then one resuming after the bytes that trickled in", ranges)
	}
}

// TestLowSpeedTrickleForeverGivesUp: an upstream that always trickles
// fails the fetch after the policy's attempts, although every attempt
// delivers a few bytes: a trickle is not progress that restarts the count.
func TestLowSpeedTrickleForeverGivesUp(t *testing.T) {
	r := newTrickleRig(t)
	served := r.trickle(1<<30, true, 20*time.Millisecond)
	_, err := r.fetchAll(t, source.NewRetrying(r.direct, r.lowSpeedPolicy()))
	if !errors.Is(err, source.ErrTooSlow) || !errors.Is(err, source.ErrExhausted) {
		t.Fatalf("err = %v, want the minimum rate named and the attempts used", err)
	}
	if n := served.Load(); n > 4 {
		t.Errorf("%d requests, want at most the policy's 4 attempts", n)
	}
}

// TestLimitWaitsAreNotSlowness: a bandwidth limit far below the minimum
// rate does not make the body "too slow" or stalled: the limiter waits
// outside the reads that the low-speed check and the idle timeout time. On
// the fake clock the limiter's waits (100 bytes a second, reads of its 4 KiB
// burst) take 82 s; the reads take none.
func TestLimitWaitsAreNotSlowness(t *testing.T) {
	f := newPaced(3 * 4096)
	var cuts []error
	p := f.policy(5*time.Second, time.Second, func(_ string, _ int, _ time.Duration, err error) { cuts = append(cuts, err) })
	l := bwlimit.New(func(time.Time) int64 { return 100 }, bwlimit.Clock{
		Now:   f.now,
		Sleep: func(_ context.Context, d time.Duration) error { f.clk.Advance(d); return nil },
	})
	rc, _, err := source.NewLimited(source.NewRetrying(f, p), l).Fetch(context.Background(), "item")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, f.data) {
		t.Fatalf("read %d bytes: %v", len(got), err)
	}
	if len(cuts) != 0 || fmt.Sprint(f.fired) != "[]" {
		t.Errorf("cut with %v, timers fired at %v; want no cut", cuts, f.fired)
	}
	if waited, want := f.now().Sub(start), 2*4096*time.Second/100; waited != want {
		t.Errorf("the limiter waited %v, want %v", waited, want)
	}
}
