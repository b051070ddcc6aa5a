// Package lease keeps two publishers from updating one mirror at the same
// time. The lease is one small object in the target (Key). It is created
// only if absent (If-None-Match: *), and every later write of it is
// conditional on the ETag its writer last read or wrote (If-Match), so of
// two contenders racing for the same version at most one wins.
//
// Expiry never compares the clocks of two hosts. The holder rewrites the
// lease every quarter of its TTL with a new renewal number (so a new ETag).
// A contender takes the lease over only after it has seen the same ETag,
// unchanged, for a whole TTL (the longer of its own and the one the holder
// recorded) measured on its own monotonic clock, and then only with If-Match
// on that ETag. The holder, on its own clock, counts from when it sent the
// last renewal the store accepted: once three quarters of a TTL have passed
// without another, it gives the lease up (Done is closed, Err wraps
// ErrLost), and Check and every write through Guard fail from then on. It
// has so stopped a quarter TTL before any contender may take over; that
// quarter covers a write already under way and any difference in the rate
// (not the setting) of the two clocks. What it cannot cover is a holder
// process frozen for longer than that in the middle of a write it already
// sent.
//
// One exception: a lease written on this machine by a process that is gone
// (killed, crashed) is taken over at once. "This machine" means the same
// boot id (/proc/sys/kernel/random/boot_id), PID namespace and machine id
// (/etc/machine-id) as the contender's, so another container or host with
// the same hostname is never taken for it; "gone" means no process has the
// recorded PID, or one that started at another time (a PID reused). Where
// these cannot be read (not Linux), the lease is waited out.
//
// The times written in the lease (acquired, renewed, expires) are the
// holder's clock, for people and for older versions of this package; they
// never decide a takeover. They only tell a contender that was not asked to
// wait whether the lease looks abandoned: then it watches it for one TTL
// rather than give up at once, and gives up as soon as it changes.
//
// The lease does not protect readers (the publish order does) and knows
// nothing about SimpleStreams.
package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ssmirror/ssmirror/target"
)

// Key is where the lease lives: outside streams/, never served as part of
// the mirror.
const Key = ".ssmirror/lease.json"

// DefaultTTL is the TTL when Options.TTL is zero.
const DefaultTTL = 2 * time.Minute

// Errors callers branch on.
var (
	// ErrHeld means another publisher holds the lease.
	ErrHeld = errors.New("another publisher holds the mirror's lease")
	// ErrLost means the lease was taken over, could not be renewed in
	// time, or was released; the holder must stop publishing.
	ErrLost = errors.New("lease lost")
)

// Record is the content of the lease object.
type Record struct {
	Owner string `json:"owner"`
	Host  string `json:"host,omitempty"`
	// MachineID, BootID and PIDNS say where PID and Start are meaningful.
	MachineID string `json:"machine_id,omitempty"`
	BootID    string `json:"boot_id,omitempty"`
	PIDNS     string `json:"pid_ns,omitempty"`
	PID       int    `json:"pid,omitempty"`
	Start     uint64 `json:"start,omitempty"` // process start, clock ticks after boot
	// Seq counts the holder's writes; each one changes the ETag.
	Seq        int64   `json:"seq"`
	TTLSeconds float64 `json:"ttl_seconds,omitempty"`
	// The holder's clock, for people and older versions; never compared
	// with another host's.
	Acquired time.Time `json:"acquired"`
	Renewed  time.Time `json:"renewed"`
	Expires  time.Time `json:"expires"`
}

func (r Record) ttl() time.Duration { return time.Duration(r.TTLSeconds * float64(time.Second)) }

// same reports whether r and w are the same write of the same holder.
func (r Record) same(w Record) bool {
	return r.ownedLike(w) && r.Seq == w.Seq && r.Renewed.Equal(w.Renewed)
}

// ownedLike reports whether r and w were written by the same acquisition.
func (r Record) ownedLike(w Record) bool {
	return r.Owner == w.Owner && r.Acquired.Equal(w.Acquired) && r.PID == w.PID &&
		r.BootID == w.BootID && r.PIDNS == w.PIDNS
}

func (r Record) describe() string {
	s := r.Owner
	if r.Host != "" && r.PID > 0 {
		s += fmt.Sprintf(" (host %s, pid %d)", r.Host, r.PID)
	}
	return s
}

// Clock is the lease's time source. Differences between Now values must
// follow a monotonic clock (time.Now's do); After is time.After on the
// same clock.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options tunes Acquire.
type Options struct {
	Owner string        // names the holder in messages; default host:pid
	TTL   time.Duration // see the package doc; default DefaultTTL
	Wait  time.Duration // how long to wait for a held lease; 0 fails at once
	Poll  time.Duration // how often to look again while waiting; default 2 s
	Clock Clock         // default the system clock
	// Waiting, if set, is called once, with the holder's description,
	// when Acquire first waits for a held lease.
	Waiting func(holder string)
}

// Lease is a held lease. Its renewals run until Release or until it is
// lost.
type Lease struct {
	st    target.Store
	opts  Options
	clk   Clock
	ctx   context.Context // cancelled when the lease ends: stops a renewal in flight
	end   context.CancelFunc
	done  chan struct{}
	err   error
	once  sync.Once
	stop  chan struct{}
	rwait sync.WaitGroup

	mu         sync.Mutex
	rec        Record    // as last written
	etag       string    // of rec
	confirmed  time.Time // when the write of rec was sent
	unsure     *Record   // a later write whose outcome is not known
	unsureSent time.Time // when it was sent
}

// Acquire takes the lease on st, waiting up to opts.Wait for its holder to
// release it or for it to be left unchanged for a TTL (see the package
// doc). A held lease gives an error wrapping ErrHeld that names the holder.
func Acquire(ctx context.Context, st target.Store, opts Options) (*Lease, error) {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	me := self()
	if opts.Owner == "" {
		opts.Owner = fmt.Sprintf("%s:%d", me.host, me.pid)
	}
	clk := opts.Clock
	began := clk.Now()
	var (
		seen      string    // the ETag being watched
		seenAt    time.Time // since when, on clk
		abandoned bool      // it looked abandoned when first seen, and has not changed
	)
	exists := false // the last look found a lease
	waited := false // Acquire has paused for the holder
	for {
		if !exists {
			l, err := claim(ctx, st, opts, target.PutOptions{IfAbsent: true})
			if err == nil {
				return l, nil
			}
			if !errors.Is(err, target.ErrPrecondition) {
				return nil, err
			}
		}
		holder, etag, err := read(ctx, st)
		if exists = !errors.Is(err, target.ErrNotExist); !exists {
			continue // released meanwhile: try again at once
		}
		if err != nil {
			return nil, err
		}
		now := clk.Now()
		local := me.local(holder)
		if etag != seen {
			abandoned = seen == "" && local != alive && !now.Before(holder.Expires)
			seen, seenAt = etag, now
		}
		ttl := max(opts.TTL, holder.ttl())
		if local == gone || now.Sub(seenAt) >= ttl {
			l, err := claim(ctx, st, opts, target.PutOptions{IfMatch: etag})
			if err == nil {
				return l, nil
			}
			if !errors.Is(err, target.ErrPrecondition) {
				return nil, err
			}
			continue // changed meanwhile: look again
		}
		giveUp := began.Add(opts.Wait)
		if abandoned {
			giveUp = later(giveUp, seenAt.Add(ttl))
		}
		if !now.Before(giveUp) {
			return nil, fmt.Errorf("%s/%s: %w: %s, since %s; it may be taken over once unchanged for %s (wait with --wait)",
				st, Key, ErrHeld, holder.describe(), holder.Acquired.UTC().Format(time.RFC3339), ttl)
		}
		if opts.Waiting != nil && !waited {
			opts.Waiting(holder.describe())
		}
		waited = true
		pause := min(opts.Poll, seenAt.Add(ttl).Sub(now), giveUp.Sub(now))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-clk.After(pause):
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// newLease returns a lease whose first record is ready to write.
func newLease(st target.Store, opts Options) *Lease {
	me := self()
	now := opts.Clock.Now()
	ctx, end := context.WithCancel(context.Background())
	return &Lease{st: st, opts: opts, clk: opts.Clock, ctx: ctx, end: end,
		done: make(chan struct{}), stop: make(chan struct{}),
		rec: Record{Owner: opts.Owner, Host: me.host, MachineID: me.machineID, BootID: me.bootID, PIDNS: me.pidNS,
			PID: me.pid, Start: me.start, TTLSeconds: opts.TTL.Seconds(), Acquired: now, Renewed: now, Expires: now.Add(opts.TTL)}}
}

// claim writes a new lease: where there is none (IfAbsent), or over the
// version a takeover watched (IfMatch).
func claim(ctx context.Context, st target.Store, opts Options, cond target.PutOptions) (*Lease, error) {
	l := newLease(st, opts)
	if err := l.write(ctx, l.rec, cond); err != nil {
		l.end()
		return nil, err
	}
	l.start()
	return l, nil
}

// read returns the lease and its ETag. An unreadable lease is returned as
// a record naming no process, which is waited out like any other.
func read(ctx context.Context, st target.Store) (Record, string, error) {
	rc, obj, err := st.Open(ctx, Key)
	if err != nil {
		return Record{}, "", err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 1<<16))
	if err != nil {
		return Record{}, "", err
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		rec = Record{Owner: "unknown (unreadable lease)"}
	}
	return rec, obj.ETag, nil
}

// write stores rec with a precondition and, when the store accepted it,
// makes it the lease's last confirmed version, confirmed as of when it was
// sent. A reply can be lost although the store took the write: a retry of
// it, or the next renewal, then fails its precondition. So a precondition
// failure reads the lease back; if it holds this very record, the write
// is confirmed; if it holds the record of an earlier write whose outcome
// was unknown, that one is, as of when it was sent, and write returns an
// error so that the caller tries again with the right ETag.
func (l *Lease) write(ctx context.Context, rec Record, opts target.PutOptions) error {
	body, _ := json.Marshal(rec)
	opts.ContentType = "application/json"
	sent := l.clk.Now()
	etag, err := l.st.Put(ctx, Key, bytes.NewReader(body), int64(len(body)), opts)
	if errors.Is(err, target.ErrPrecondition) {
		cur, curETag, rerr := read(ctx, l.st)
		l.mu.Lock()
		unsure, unsureSent := l.unsure, l.unsureSent
		l.mu.Unlock()
		switch {
		case rerr != nil:
		case cur.same(rec):
			etag, err = curETag, nil
		case unsure != nil && cur.same(*unsure):
			l.confirm(*unsure, curETag, unsureSent)
			return fmt.Errorf("%s/%s: an earlier write, whose reply was lost, had been stored", l.st, Key)
		}
	}
	if err != nil {
		if !errors.Is(err, target.ErrPrecondition) {
			l.mu.Lock()
			l.unsure, l.unsureSent = &rec, sent
			l.mu.Unlock()
		}
		return err
	}
	l.confirm(rec, etag, sent)
	return nil
}

func (l *Lease) confirm(rec Record, etag string, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rec, l.etag, l.confirmed, l.unsure = rec, etag, sent, nil
}

// interval is how often the holder renews; safe is how long after the
// last confirmed renewal it still holds the lease.
func (l *Lease) interval() time.Duration { return l.opts.TTL / 4 }
func (l *Lease) safe() time.Duration     { return l.opts.TTL - l.opts.TTL/4 }

// start renews the lease every interval until Release, or until it is
// lost: taken over, or not renewed within safe.
func (l *Lease) start() {
	l.rwait.Add(1)
	go func() {
		defer l.rwait.Done()
		next := l.clk.Now().Add(l.interval())
		for {
			l.mu.Lock()
			until := l.confirmed.Add(l.safe())
			l.mu.Unlock()
			wake := next
			if until.Before(wake) {
				wake = until
			}
			select {
			case <-l.stop:
				return
			case <-l.done:
				return
			case <-l.clk.After(wake.Sub(l.clk.Now())):
			}
			if l.Check() != nil {
				return
			}
			now := l.clk.Now()
			next = now.Add(l.interval())
			if err := l.renew(until.Sub(now)); errors.Is(err, target.ErrPrecondition) {
				l.fail(fmt.Errorf("%s/%s: %w: taken over by another publisher (%w)", l.st, Key, ErrLost, err))
				return
			}
			// Another error (the store unreachable, 503s): try again at
			// the next interval; Check gives the lease up in time.
		}
	}()
}

// renew writes the next version of the record, giving up after limit.
func (l *Lease) renew(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(l.ctx, limit)
	defer cancel()
	l.mu.Lock()
	rec, etag := l.rec, l.etag
	l.mu.Unlock()
	now := l.clk.Now()
	rec.Seq++
	rec.Renewed, rec.Expires = now, now.Add(l.opts.TTL)
	return l.write(ctx, rec, target.PutOptions{IfMatch: etag})
}

func (l *Lease) fail(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.done)
		l.end()
	})
}

// Check returns nil while the lease is certainly held: not lost, not
// released, and renewed within three quarters of a TTL on this holder's
// clock. Otherwise the lease is given up (Done is closed) and Check
// returns an error wrapping ErrLost. It sends no request.
func (l *Lease) Check() error {
	select {
	case <-l.done:
		return l.err
	default:
	}
	l.mu.Lock()
	confirmed := l.confirmed
	l.mu.Unlock()
	if since := l.clk.Now().Sub(confirmed); since >= l.safe() {
		l.fail(fmt.Errorf("%s/%s: %w: not renewed for %s (renewals fail; another publisher may take it over after %s)",
			l.st, Key, ErrLost, since.Round(time.Second), l.opts.TTL))
	}
	return l.Err()
}

// Done is closed when the lease is lost or released; Err then says why.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err returns why the lease was lost or released, or nil while it is held.
func (l *Lease) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

// errReleased is Err after Release.
var errReleased = fmt.Errorf("%w: released", ErrLost)

// Release stops renewing and deletes the lease if it is still this one's.
// Writes through Guard fail from then on.
func (l *Lease) Release(ctx context.Context) error {
	close(l.stop)
	l.rwait.Wait()
	if l.Check() != nil {
		return nil // lost: the lease is no longer ours to delete
	}
	l.fail(errReleased)
	rec, _, err := read(ctx, l.st)
	if err != nil {
		if errors.Is(err, target.ErrNotExist) {
			return nil
		}
		return err
	}
	l.mu.Lock()
	mine := rec.ownedLike(l.rec)
	l.mu.Unlock()
	if !mine {
		return nil
	}
	return l.st.Delete(ctx, Key)
}

// Guard returns st with every Put and Delete preceded by Check: once the
// lease is no longer certainly held, nothing more is written through it
// (the error wraps ErrLost). Reads pass through. It adds no request. The
// returned store is a target.Resumer when st is one, its PutResumable and
// DropResume guarded the same way.
func (l *Lease) Guard(st target.Store) target.Store {
	if r, ok := st.(target.Resumer); ok {
		return guardedResumer{guarded{st, l}, r}
	}
	return guarded{st, l}
}

type guardedResumer struct {
	guarded
	r target.Resumer
}

func (g guardedResumer) PutResumable(ctx context.Context, key string, size int64, sum target.Sum, opts target.PutOptions, open target.OpenFunc) (string, error) {
	if err := g.l.Check(); err != nil {
		return "", fmt.Errorf("%s: not written: %w", key, err)
	}
	return g.r.PutResumable(ctx, key, size, sum, opts, open)
}

func (g guardedResumer) DropResume(ctx context.Context, key string) error {
	if err := g.l.Check(); err != nil {
		return fmt.Errorf("%s: resume record not dropped: %w", key, err)
	}
	return g.r.DropResume(ctx, key)
}

type guarded struct {
	target.Store
	l *Lease
}

func (g guarded) Put(ctx context.Context, key string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	if err := g.l.Check(); err != nil {
		return "", fmt.Errorf("%s: not written: %w", key, err)
	}
	return g.Store.Put(ctx, key, body, size, opts)
}

func (g guarded) Delete(ctx context.Context, key string) error {
	if err := g.l.Check(); err != nil {
		return fmt.Errorf("%s: not deleted: %w", key, err)
	}
	return g.Store.Delete(ctx, key)
}
