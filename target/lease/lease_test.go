package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
	"github.com/ssmirror/ssmirror/target/s3store"
)

func TestMain(m *testing.M) { s3test.Main(m) }

func stores(t *testing.T) map[string]func(t *testing.T) target.Store {
	return map[string]func(t *testing.T) target.Store{
		"dir": func(t *testing.T) target.Store {
			st, err := dirstore.New(filepath.Join(t.TempDir(), "m"))
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"s3": func(t *testing.T) target.Store {
			srv := s3test.Shared(t)
			t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
			t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
			st, err := s3store.New(context.Background(), s3store.Config{Bucket: srv.NewBucket(t), Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestLease(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			clk := &clock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
			opts := func(owner string) Options {
				return Options{Owner: owner, TTL: time.Hour, Now: clk.now, Poll: 10 * time.Millisecond}
			}
			a, err := Acquire(ctx, st, opts("job-a"))
			if err != nil {
				t.Fatal(err)
			}
			// Held: the second publisher fails with a message naming the
			// holder.
			_, err = Acquire(ctx, st, opts("job-b"))
			if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "job-a") {
				t.Fatalf("second Acquire = %v, want ErrHeld naming job-a", err)
			}
			// Released: the next one gets it.
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			b, err := Acquire(ctx, st, opts("job-b"))
			if err != nil {
				t.Fatalf("after release: %v", err)
			}
			// Expired: racing contenders, exactly one takes it over.
			clk.add(2 * time.Hour)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var winners []*Lease
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l, err := Acquire(ctx, st, opts("racer-"+string(rune('0'+i))))
					if err == nil {
						mu.Lock()
						winners = append(winners, l)
						mu.Unlock()
					} else if !errors.Is(err, ErrHeld) {
						t.Errorf("racer: %v", err)
					}
				}()
			}
			wg.Wait()
			if len(winners) != 1 {
				t.Fatalf("%d contenders took over the expired lease, want 1", len(winners))
			}
			// The old holder's release does not delete the new holder's lease.
			if err := b.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := Acquire(ctx, st, opts("late")); !errors.Is(err, ErrHeld) {
				t.Errorf("after the old holder released, Acquire = %v, want ErrHeld", err)
			}
			winners[0].Release(ctx)
		})
	}
}

// TestLeaseRenewal: a holder keeps its lease past the TTL by renewing it,
// and learns when another run overwrote it.
func TestLeaseRenewal(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			ttl := 600 * time.Millisecond
			a, err := Acquire(ctx, st, Options{Owner: "a", TTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * ttl)
			if _, err := Acquire(ctx, st, Options{Owner: "b", TTL: ttl}); !errors.Is(err, ErrHeld) {
				t.Fatalf("lease not renewed: Acquire = %v", err)
			}
			if a.Err() != nil {
				t.Fatalf("holder lost its lease: %v", a.Err())
			}
			// Another run takes the lease over (as after an expiry, with
			// If-Match on what it read): the holder notices.
			body := `{"owner":"intruder"}`
			for i := 0; ; i++ {
				obj, err := st.Stat(ctx, Key)
				if err != nil {
					t.Fatal(err)
				}
				_, err = st.Put(ctx, Key, strings.NewReader(body), int64(len(body)), target.PutOptions{IfMatch: obj.ETag})
				if err == nil {
					break
				}
				if !errors.Is(err, target.ErrPrecondition) || i == 10 {
					t.Fatal(err) // a renewal may win the race a few times
				}
			}
			select {
			case <-a.Done():
				if !errors.Is(a.Err(), ErrLost) {
					t.Errorf("Err = %v, want ErrLost", a.Err())
				}
			case <-time.After(5 * ttl):
				t.Fatal("holder did not notice it lost the lease")
			}
			a.Release(ctx)
		})
	}
}

// TestWait: a waiting publisher gets the lease when the holder releases.
func TestWait(t *testing.T) {
	ctx := context.Background()
	st := stores(t)["dir"](t)
	a, err := Acquire(ctx, st, Options{Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(100 * time.Millisecond); a.Release(ctx) }()
	b, err := Acquire(ctx, st, Options{Owner: "b", Wait: 5 * time.Second, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("waiting Acquire: %v", err)
	}
	b.Release(ctx)
}

// TestStaleHolder: a lease whose holder process died on this host is taken
// over at once; one held by a live process or another host is not.
func TestStaleHolder(t *testing.T) {
	ctx := context.Background()
	host, _ := os.Hostname()
	for _, c := range []struct {
		rec  Record
		free bool
	}{
		{Record{Owner: "dead", Host: host, PID: deadPID(t)}, true},
		{Record{Owner: "alive", Host: host, PID: os.Getpid()}, false},
		{Record{Owner: "elsewhere", Host: host + "-other", PID: deadPID(t)}, false},
	} {
		st := stores(t)["dir"](t)
		c.rec.Acquired = time.Now()
		c.rec.Expires = time.Now().Add(time.Hour)
		body, _ := json.Marshal(c.rec)
		if _, err := st.Put(ctx, Key, bytes.NewReader(body), int64(len(body)), target.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		l, err := Acquire(ctx, st, Options{Owner: "me"})
		if c.free != (err == nil) {
			t.Errorf("holder %s: Acquire = %v, want free=%v", c.rec.Owner, err, c.free)
		}
		if l != nil {
			l.Release(ctx)
		}
	}
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	return cmd.Process.Pid
}
