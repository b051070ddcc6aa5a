package lease

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/fakeclock"
	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
	"github.com/ssmirror/ssmirror/target/s3store"
)

func TestMain(m *testing.M) { s3test.Main(m) }

func dirStore(t *testing.T) target.Store {
	st, err := dirstore.New(filepath.Join(t.TempDir(), "m"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// s3Bucket returns a new bucket on the real S3 server, and a store on it
// reached through endpoint (the server's, or a fault proxy's).
func s3Bucket(t *testing.T) (bucket string, open func(endpoint string) target.Store, endpoint string) {
	srv := s3test.Shared(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	bucket = srv.NewBucket(t)
	return bucket, func(endpoint string) target.Store {
		st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: endpoint, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}, srv.Endpoint
}

func stores() map[string]func(t *testing.T) target.Store {
	return map[string]func(t *testing.T) target.Store{
		"dir": dirStore,
		"s3": func(t *testing.T) target.Store {
			_, open, endpoint := s3Bucket(t)
			return open(endpoint)
		},
	}
}

var epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func holderOf(t *testing.T, st target.Store) Record {
	t.Helper()
	rec, _, err := read(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func putRecord(t *testing.T, st target.Store, rec any, opts target.PutOptions) {
	t.Helper()
	body, _ := json.Marshal(rec)
	if _, err := st.Put(context.Background(), Key, bytes.NewReader(body), int64(len(body)), opts); err != nil {
		t.Fatal(err)
	}
}

// TestLease: a held lease fails a second publisher at once with a message
// naming the holder; a released one is free; a holder's release never
// deletes a lease another publisher wrote meanwhile.
func TestLease(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			clk := fakeclock.New(epoch)
			opts := func(owner string) Options { return Options{Owner: owner, Clock: clk} }
			a, err := Acquire(ctx, st, opts("job-a"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Acquire(ctx, st, opts("job-b"))
			if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "job-a") {
				t.Fatalf("second Acquire = %v, want ErrHeld naming job-a", err)
			}
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(a.Check(), ErrLost) {
				t.Errorf("Check after Release = %v, want ErrLost", a.Check())
			}
			b, err := Acquire(ctx, st, opts("job-b"))
			if err != nil {
				t.Fatalf("after release: %v", err)
			}
			// Another writer replaces the lease (If-Match on what it read):
			// b's release leaves it.
			obj, err := st.Stat(ctx, Key)
			if err != nil {
				t.Fatal(err)
			}
			putRecord(t, st, map[string]any{"owner": "intruder"}, target.PutOptions{IfMatch: obj.ETag})
			if err := b.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if got := holderOf(t, st).Owner; got != "intruder" {
				t.Errorf("after the old holder released, the lease is %q's, want intruder's", got)
			}
		})
	}
}

// TestTakeover: a lease nobody renews is taken over once it has stayed
// unchanged for a whole TTL on the contender's clock, not before, and of
// several racing contenders exactly one gets it.
func TestTakeover(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			clk := fakeclock.New(epoch)
			// Left by a run on another host that died; its own clock said it
			// expired an hour ago.
			putRecord(t, st, Record{Owner: "dead", Host: "elsewhere", PID: 1, BootID: "other-boot",
				Acquired: epoch.Add(-2 * time.Hour), Expires: epoch.Add(-time.Hour)}, target.PutOptions{})
			ttl := time.Minute
			type result struct {
				l   *Lease
				err error
			}
			results := make(chan result, 4)
			returned := make(chan struct{}) // closed by the first racer to return
			var once sync.Once
			for i := range 4 {
				go func() {
					l, err := Acquire(ctx, st, Options{Owner: fmt.Sprint("racer-", i), TTL: ttl, Poll: 10 * time.Second, Clock: clk})
					results <- result{l, err}
					once.Do(func() { close(returned) })
				}()
			}
			for _, d := range []time.Duration{0, ttl - time.Second} {
				clk.Advance(d)
				if !clk.Settle(t, 4, returned) {
					r := <-results
					t.Fatalf("a contender returned before a TTL passed: %v, %v", r.l, r.err)
				}
			}
			clk.Advance(time.Second)
			var winners []*Lease
			for range 4 {
				r := <-results
				switch {
				case r.err == nil:
					winners = append(winners, r.l)
				case !errors.Is(r.err, ErrHeld):
					t.Errorf("racer: %v", r.err)
				}
			}
			if len(winners) != 1 {
				t.Fatalf("%d contenders took over, want 1", len(winners))
			}
			if got := holderOf(t, st).Owner; got != winners[0].opts.Owner {
				t.Errorf("lease is %q's, want the winner's (%s)", got, winners[0].opts.Owner)
			}
			winners[0].Release(ctx)
		})
	}
}

// TestSkewedContender: a contender whose clock is 3 minutes ahead of the
// holder's does not take the lease while the holder renews it, whether it
// was asked to wait or not.
func TestSkewedContender(t *testing.T) {
	for name, open := range stores() {
		for _, wait := range []time.Duration{0, 10 * time.Minute} {
			t.Run(fmt.Sprintf("%s/wait=%s", name, wait), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				st := open(t)
				hclk, cclk := fakeclock.New(epoch), fakeclock.New(epoch.Add(3*time.Minute))
				holder, err := Acquire(ctx, st, Options{Owner: "holder", Clock: hclk})
				if err != nil {
					t.Fatal(err)
				}
				defer holder.Release(context.Background())
				done := make(chan struct{})
				var cerr error
				go func() {
					defer close(done)
					var l *Lease
					l, cerr = Acquire(ctx, st, Options{Owner: "contender", Wait: wait, Poll: 10 * time.Second, Clock: cclk})
					if l != nil {
						l.Release(context.Background())
					}
				}()
				// Ten minutes, in steps of 10 s on both clocks.
				for range 60 {
					if !cclk.Settle(t, 1, done) {
						break
					}
					hclk.Advance(10 * time.Second)
					hclk.Settle(t, 1, holder.Done())
					cclk.Advance(10 * time.Second)
				}
				cancel()
				<-done
				if cerr == nil {
					t.Fatal("the contender took the lease while the holder renewed it")
				}
				if wait == 0 && !errors.Is(cerr, ErrHeld) {
					t.Errorf("contender: %v, want ErrHeld", cerr)
				}
				if err := holder.Check(); err != nil {
					t.Errorf("holder: %v", err)
				}
				if got := holderOf(t, st).Owner; got != "holder" {
					t.Errorf("lease is %q's", got)
				}
			})
		}
	}
}

// TestSameMachine: a lease whose holder process is gone is taken over at
// once only when it was written on this machine: same boot id, PID
// namespace and machine id. The same hostname is not enough. A holder that
// runs (checked by its PID and start time) is waited for.
func TestSameMachine(t *testing.T) {
	me := self()
	if runtime.GOOS != "linux" {
		t.Skip("the process of a lease is only identified on Linux")
	}
	if me.bootID == "" || me.pidNS == "" {
		t.Fatalf("boot id %q, PID namespace %q: want both read on Linux", me.bootID, me.pidNS)
	}
	child := exec.Command("sleep", "600")
	if err := child.Start(); err != nil {
		t.Skip("cannot run sleep:", err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	cst, ok := procStat(child.Process.Pid)
	if !ok {
		t.Fatal("cannot read the child's /proc stat")
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	deadPID := dead.Process.Pid
	here := func(pid int, start uint64) map[string]any {
		return map[string]any{"owner": "other", "host": me.host, "machine_id": me.machineID,
			"boot_id": me.bootID, "pid_ns": me.pidNS, "pid": pid, "start": start,
			"acquired": epoch, "expires": epoch.Add(time.Hour)}
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	for _, c := range []struct {
		name string
		rec  map[string]any
		free bool
	}{
		{"dead here", here(deadPID, 0), true},
		{"running here", here(child.Process.Pid, cst.start), false},
		{"PID reused", here(child.Process.Pid, cst.start+1), true},
		{"other machine id", with(here(deadPID, 0), "machine_id", "0123456789abcdef0123456789abcdef"), false},
		{"other boot", with(here(deadPID, 0), "boot_id", "00000000-0000-0000-0000-000000000000"), false},
		{"other PID namespace", with(here(deadPID, 0), "pid_ns", "pid:[1]"), false},
		{"hostname only", map[string]any{"owner": "other", "host": me.host, "pid": deadPID, "acquired": epoch, "expires": epoch.Add(time.Hour)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			st := dirStore(t)
			clk := fakeclock.New(epoch)
			putRecord(t, st, c.rec, target.PutOptions{})
			l, err := Acquire(ctx, st, Options{Owner: "me", Clock: clk})
			if c.free != (err == nil) {
				t.Errorf("Acquire = %v, want free=%v", err, c.free)
			}
			if err != nil && !errors.Is(err, ErrHeld) {
				t.Errorf("Acquire = %v, want ErrHeld", err)
			}
			if l != nil {
				l.Release(ctx)
			}
		})
	}
	// And the real thing: the running child is seen as gone once killed.
	child.Process.Kill()
	child.Wait()
	st := dirStore(t)
	putRecord(t, st, here(child.Process.Pid, cst.start), target.PutOptions{})
	l, err := Acquire(context.Background(), st, Options{Owner: "me", Clock: fakeclock.New(epoch)})
	if err != nil {
		t.Fatalf("after its holder was killed: %v", err)
	}
	l.Release(context.Background())
}

// failingPuts is a store whose lease writes fail while on is set.
type failingPuts struct {
	target.Store
	mu sync.Mutex
	on bool
}

func (f *failingPuts) set(on bool) { f.mu.Lock(); f.on = on; f.mu.Unlock() }

func (f *failingPuts) Put(ctx context.Context, key string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	f.mu.Lock()
	on := f.on
	f.mu.Unlock()
	if on && key == Key {
		return "", errors.New("503 SlowDown: Please reduce your request rate")
	}
	return f.Store.Put(ctx, key, body, size, opts)
}

// s3Failing opens a real S3 bucket behind the fault proxy, whose PUTs of
// the lease answer code once failing is switched on.
func s3Failing(code int) func(t *testing.T) (target.Store, target.Store, func(bool)) {
	return func(t *testing.T) (target.Store, target.Store, func(bool)) {
		_, open, endpoint := s3Bucket(t)
		proxy := faultproxy.Start(t, endpoint)
		var rule *faultproxy.Rule
		return open(proxy.URL), open(endpoint), func(on bool) {
			if on && rule == nil {
				rule = proxy.Add(&faultproxy.Rule{Method: "PUT", Path: "/.ssmirror/lease.json", Fault: faultproxy.Status, Code: code})
			}
		}
	}
}

// TestRenewalsFail: a holder whose renewals keep failing (503, or 403 from
// an S3 server: not a precondition) keeps the lease while it still may,
// gives it up before a contender could take it over, and writes nothing
// through Guard after. The S3 case puts the fault proxy in front of the
// real server; its 403 is what the client gives up on at once (it retries
// a 503 for seconds of real time first, then fails the same way, which
// the "s3 503" case shows).
func TestRenewalsFail(t *testing.T) {
	cases := map[string]func(t *testing.T) (holder, direct target.Store, failing func(bool)){
		"dir": func(t *testing.T) (target.Store, target.Store, func(bool)) {
			st := dirStore(t)
			f := &failingPuts{Store: st}
			return f, st, f.set
		},
		"s3":     s3Failing(http.StatusForbidden),
		"s3 503": s3Failing(http.StatusServiceUnavailable),
	}
	for name, open := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, direct, failing := open(t)
			clk := fakeclock.New(epoch)
			ttl := 2 * time.Minute
			l, err := Acquire(ctx, st, Options{Owner: "holder", TTL: ttl, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release(ctx)
			clk.Settle(t, 1, nil)
			failing(true)
			g := l.Guard(st)
			// Two renewals fail (at 30 s and 60 s): still held.
			for range 2 {
				clk.Advance(ttl / 4)
				if !clk.Settle(t, 1, l.Done()) {
					t.Fatalf("gave up after a failed renewal at %s: %v", clk.Now().Sub(epoch), l.Err())
				}
			}
			if err := l.Check(); err != nil {
				t.Fatalf("Check at %s: %v", clk.Now().Sub(epoch), err)
			}
			if _, err := g.Put(ctx, "streams/v1/a.json", strings.NewReader("a"), 1, target.PutOptions{}); err != nil {
				t.Fatalf("write while held: %v", err)
			}
			// At 90 s, a quarter TTL before anyone may take over, it stops by
			// itself.
			clk.Advance(ttl / 4)
			if clk.Settle(t, 1, l.Done()) {
				t.Fatalf("still holding the lease %s after its last renewal", clk.Now().Sub(epoch))
			}
			if !errors.Is(l.Err(), ErrLost) {
				t.Errorf("Err = %v, want ErrLost", l.Err())
			}
			for _, key := range []string{"streams/v1/products.json", "streams/v1/index.json"} {
				if _, err := g.Put(ctx, key, strings.NewReader("x"), 1, target.PutOptions{}); !errors.Is(err, ErrLost) {
					t.Errorf("Put %s after the lease was lost = %v, want ErrLost", key, err)
				}
				if _, err := direct.Stat(ctx, key); !errors.Is(err, target.ErrNotExist) {
					t.Errorf("%s written after the lease was lost (%v)", key, err)
				}
			}
			if err := g.Delete(ctx, "streams/v1/a.json"); !errors.Is(err, ErrLost) {
				t.Errorf("Delete after the lease was lost = %v, want ErrLost", err)
			}
		})
	}
}

// TestLostWritesNothing: a holder whose renewal hangs (its process or its
// network stalled) while a contender takes the lease over after a TTL
// writes no products file or index after that, although its renewal never
// returned an error.
func TestLostWritesNothing(t *testing.T) {
	ctx := context.Background()
	_, open, endpoint := s3Bucket(t)
	proxy := faultproxy.Start(t, endpoint)
	direct := open(endpoint)
	hclk, cclk := fakeclock.New(epoch), fakeclock.New(epoch.Add(-time.Hour))
	ttl := 2 * time.Minute
	st := open(proxy.URL)
	holder, err := Acquire(ctx, st, Options{Owner: "holder", TTL: ttl, Clock: hclk})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release(ctx)
	hclk.Settle(t, 1, nil)
	stall := proxy.Add(&faultproxy.Rule{Method: "PUT", Path: "/.ssmirror/lease.json", Fault: faultproxy.StallHeaders})
	hclk.Advance(ttl / 4)
	<-stall.Matched() // the renewal is sent, and hangs
	// A contender watches the lease for a TTL and takes it over.
	got := make(chan error, 1)
	go func() {
		l, err := Acquire(ctx, direct, Options{Owner: "contender", TTL: ttl, Wait: 2 * ttl, Poll: 10 * time.Second, Clock: cclk})
		if l != nil {
			defer l.Release(ctx)
		}
		got <- err
	}()
	for range ttl / (10 * time.Second) {
		cclk.Settle(t, 1, nil)
		hclk.Advance(10 * time.Second)
		cclk.Advance(10 * time.Second)
	}
	if err := <-got; err != nil {
		t.Fatalf("contender: %v", err)
	}
	// The holder has heard nothing back, yet writes nothing.
	g := holder.Guard(st)
	for _, key := range []string{"streams/v1/products.json", "streams/v1/index.json"} {
		if _, err := g.Put(ctx, key, strings.NewReader("x"), 1, target.PutOptions{}); !errors.Is(err, ErrLost) {
			t.Errorf("Put %s = %v, want ErrLost", key, err)
		}
		if _, err := direct.Stat(ctx, key); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("%s written after the lease was lost (%v)", key, err)
		}
	}
	select {
	case <-holder.Done():
	default:
		t.Error("Done not closed")
	}
}

// TestLostReply: a renewal the store took whose reply was lost (the
// client's retry then fails its If-Match) does not lose the lease.
func TestLostReply(t *testing.T) {
	ctx := context.Background()
	_, open, endpoint := s3Bucket(t)
	proxy := faultproxy.Start(t, endpoint)
	st := open(proxy.URL)
	clk := fakeclock.New(epoch)
	l, err := Acquire(ctx, st, Options{Owner: "holder", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	clk.Settle(t, 1, nil)
	lost := proxy.Add(&faultproxy.Rule{Method: "PUT", Path: "/.ssmirror/lease.json", Nth: 1, Fault: faultproxy.Reset, AfterForward: true})
	for range 3 {
		clk.Advance(DefaultTTL / 4)
		if !clk.Settle(t, 1, l.Done()) {
			t.Fatalf("lease lost: %v", l.Err())
		}
	}
	if lost.Applied() != 1 {
		t.Fatalf("the fault was applied %d times", lost.Applied())
	}
	if got := holderOf(t, st); got.Owner != "holder" || got.Seq < 2 {
		t.Errorf("lease is %+v, want holder's, renewed", got)
	}
}

// TestUnreadable: a lease that names no process, one that is not JSON or
// one written on this machine without a PID, is waited out like any other
// (unchanged for a TTL), then taken over, by a publisher not asked to wait
// too since it looks abandoned.
func TestUnreadable(t *testing.T) {
	me := self()
	noPID, _ := json.Marshal(map[string]any{"owner": "other", "host": me.host, "machine_id": me.machineID,
		"boot_id": me.bootID, "pid_ns": me.pidNS, "acquired": epoch.Add(-2 * time.Hour), "expires": epoch.Add(-time.Hour)})
	for name, content := range map[string]string{"not JSON": "{garbage", "no PID": string(noPID)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := dirStore(t)
			if _, err := st.Put(ctx, Key, strings.NewReader(content), int64(len(content)), target.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			clk := fakeclock.New(epoch)
			got, done := make(chan error, 1), make(chan struct{})
			go func() {
				defer close(done)
				l, err := Acquire(ctx, st, Options{Owner: "me", Poll: time.Minute, Clock: clk})
				if l != nil {
					l.Release(ctx)
				}
				got <- err
			}()
			if !clk.Settle(t, 1, done) {
				t.Fatalf("Acquire did not wait: %v", <-got)
			}
			clk.Advance(DefaultTTL)
			if err := <-got; err != nil {
				t.Fatalf("Acquire = %v", err)
			}
		})
	}
}

// TestWait: a waiting publisher says once whom it waits for, looks again
// every 2 s (the default Poll), and gets the lease when the holder
// releases.
func TestWait(t *testing.T) {
	ctx := context.Background()
	st := &countingOpens{Store: dirStore(t)}
	clk := fakeclock.New(epoch)
	a := holding(t, st, "a", clk)
	got := make(chan error, 1)
	var waiting []string // written before b's first pause, read after its end
	go func() {
		b, err := Acquire(ctx, st, Options{Owner: "b", Wait: time.Hour, Clock: clk,
			Waiting: func(holder string) { waiting = append(waiting, holder) }})
		if b != nil {
			b.Release(ctx)
		}
		got <- err
	}()
	clk.Settle(t, 2, nil) // a's renewal, b's poll
	reads := st.count()
	clk.Advance(time.Second)
	clk.Settle(t, 2, nil)
	if n := st.count(); n != reads {
		t.Errorf("the waiting publisher read the lease %d times in its first second, want none", n-reads)
	}
	clk.Advance(time.Second)
	clk.Settle(t, 2, nil) // b looked again and waits on
	if n := st.count(); n != reads+1 {
		t.Errorf("the waiting publisher read the lease %d times at 2 s, want once", n-reads)
	}
	a.Release(ctx)
	clk.Advance(2 * time.Second)
	if err := <-got; err != nil {
		t.Fatalf("waiting Acquire: %v", err)
	}
	if len(waiting) != 1 || !strings.HasPrefix(waiting[0], "a (host ") {
		t.Errorf("Waiting called with %q, want once with the holder a", waiting)
	}
}

func TestProcStat(t *testing.T) {
	st, ok := procStat(os.Getpid())
	if !ok {
		t.Skip("no /proc here")
	}
	if st.start == 0 || st.state == 'Z' {
		t.Errorf("procStat(self) = %+v", st)
	}
	if !running(os.Getpid(), st.start) || running(os.Getpid(), st.start+1) {
		t.Error("running(self) wrong")
	}
}

// countingOpens counts the reads of the lease.
type countingOpens struct {
	target.Store
	mu    sync.Mutex
	reads int
}

func (c *countingOpens) Open(ctx context.Context, key string) (io.ReadCloser, target.Object, error) {
	if key == Key {
		c.mu.Lock()
		c.reads++
		c.mu.Unlock()
	}
	return c.Store.Open(ctx, key)
}

func (c *countingOpens) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.reads }

// TestDefaults: without options the lease names this host and process and
// has a TTL of DefaultTTL.
func TestDefaults(t *testing.T) {
	st := dirStore(t)
	l, err := Acquire(context.Background(), st, Options{Clock: fakeclock.New(epoch)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	rec := holderOf(t, st)
	if want := fmt.Sprintf("%s:%d", hostname(), os.Getpid()); rec.Owner != want {
		t.Errorf("owner %q, want %q", rec.Owner, want)
	}
	if rec.ttl() != DefaultTTL || !rec.Expires.Equal(epoch.Add(DefaultTTL)) {
		t.Errorf("TTL %s, expires %s; want %s from %s", rec.ttl(), rec.Expires, DefaultTTL, epoch)
	}
}

// holding returns the lease owner acquired on st, on clk.
func holding(t *testing.T, st target.Store, owner string, clk *fakeclock.Clock) *Lease {
	t.Helper()
	l, err := Acquire(context.Background(), st, Options{Owner: owner, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestTakenOver: a holder whose renewal finds the lease rewritten by
// another publisher gives it up at that renewal, saying so, and its release
// leaves the other's lease.
func TestTakenOver(t *testing.T) {
	ctx := context.Background()
	clk := fakeclock.New(epoch)
	st := dirStore(t)
	l := holding(t, st, "holder", clk)
	clk.Settle(t, 1, nil)
	obj, err := st.Stat(ctx, Key)
	if err != nil {
		t.Fatal(err)
	}
	putRecord(t, st, map[string]any{"owner": "other"}, target.PutOptions{IfMatch: obj.ETag})
	clk.Advance(DefaultTTL / 4)
	if clk.Settle(t, 1, l.Done()) {
		t.Fatal("still held after the renewal found the lease taken over")
	}
	if err := l.Err(); !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "taken over") {
		t.Errorf("Err = %v, want ErrLost saying it was taken over", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := holderOf(t, st).Owner; got != "other" {
		t.Errorf("lease is %q's, want other's", got)
	}
}

// TestReleaseGone: releasing a lease someone deleted meanwhile succeeds.
func TestReleaseGone(t *testing.T) {
	ctx := context.Background()
	st := dirStore(t)
	l := holding(t, st, "holder", fakeclock.New(epoch))
	if err := st.Delete(ctx, Key); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Errorf("Release of a deleted lease = %v", err)
	}
	if !errors.Is(l.Check(), ErrLost) {
		t.Errorf("Check after Release = %v, want ErrLost", l.Check())
	}
}

// TestGuardResumer: the guard of a store that resumes Puts resumes them
// too while the lease is held, and refuses them, writing nothing, once it
// is not.
func TestGuardResumer(t *testing.T) {
	ctx := context.Background()
	st := dirStore(t)
	l := holding(t, st, "holder", fakeclock.New(epoch))
	g, ok := l.Guard(st).(target.Resumer)
	if !ok {
		t.Fatal("the guard of a Resumer is not a Resumer")
	}
	data := []byte("item")
	sum := sha256.Sum256(data)
	put := func(key string) error {
		_, err := g.PutResumable(ctx, key, int64(len(data)), target.Sum{Algo: "sha256", Digest: sum[:]}, target.PutOptions{},
			func(from target.Resumed) (io.Reader, error) { return bytes.NewReader(data[from.Offset:]), nil })
		return err
	}
	if err := put("streams/v1/a"); err != nil {
		t.Fatalf("PutResumable while held: %v", err)
	}
	if err := g.DropResume(ctx, "streams/v1/a"); err != nil {
		t.Fatalf("DropResume while held: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := put("streams/v1/b"); !errors.Is(err, ErrLost) {
		t.Errorf("PutResumable after release = %v, want ErrLost", err)
	}
	if _, err := st.Stat(ctx, "streams/v1/b"); !errors.Is(err, target.ErrNotExist) {
		t.Errorf("written after release (%v)", err)
	}
	if err := g.DropResume(ctx, "streams/v1/a"); !errors.Is(err, ErrLost) {
		t.Errorf("DropResume after release = %v, want ErrLost", err)
	}
}

// TestFirstLine: an ident part is the first of its files that exists and
// holds more than white space, trimmed.
func TestFirstLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	blank, id, other := write("blank", " \n"), write("id", "  0123abcd\n"), write("other", "ffff\n")
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		paths []string
		want  string
	}{
		{[]string{id}, "0123abcd"},
		{[]string{missing, id, other}, "0123abcd"},
		{[]string{blank, other}, "ffff"},
		{[]string{missing, blank}, ""},
	} {
		if got := firstLine(c.paths...); got != c.want {
			t.Errorf("firstLine(%v) = %q, want %q", c.paths, got, c.want)
		}
	}
}

// TestDescribe: a holder is named by its owner, with its host and PID when
// the lease records both.
func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		rec  Record
		want string
	}{
		{Record{Owner: "job", Host: "h1", PID: 12}, "job (host h1, pid 12)"},
		{Record{Owner: "job", Host: "h1"}, "job"},
		{Record{Owner: "job", PID: 12}, "job"},
	} {
		if got := c.rec.describe(); got != c.want {
			t.Errorf("describe(%+v) = %q, want %q", c.rec, got, c.want)
		}
	}
}

// lostReply is a store that takes the next lease write but fails it as if
// its reply was lost, once lose is called.
type lostReply struct {
	target.Store
	mu   sync.Mutex
	lose bool
}

func (s *lostReply) loseNext() { s.mu.Lock(); s.lose = true; s.mu.Unlock() }

func (s *lostReply) Put(ctx context.Context, key string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	etag, err := s.Store.Put(ctx, key, body, size, opts)
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == Key && s.lose && err == nil {
		s.lose = false
		return "", errors.New("read tcp: connection reset by peer")
	}
	return etag, err
}

// TestLostReplyNotRetried: a renewal the store took whose reply was lost,
// and that the client did not retry, is found stored when the next
// renewal fails its If-Match; the lease stays held and the renewal after
// that succeeds.
func TestLostReplyNotRetried(t *testing.T) {
	ctx := context.Background()
	st := &lostReply{Store: dirStore(t)}
	clk := fakeclock.New(epoch)
	l := holding(t, st, "holder", clk)
	defer l.Release(ctx)
	clk.Settle(t, 1, nil)
	st.loseNext()
	for i := range 3 {
		clk.Advance(DefaultTTL / 4)
		if !clk.Settle(t, 1, l.Done()) {
			t.Fatalf("lease lost at renewal %d: %v", i+1, l.Err())
		}
	}
	if got := holderOf(t, st); got.Seq != 2 {
		t.Errorf("lease at renewal %d, want 2 (the lost reply's, then one more)", got.Seq)
	}
	if err := l.Check(); err != nil {
		t.Errorf("Check = %v", err)
	}
}
