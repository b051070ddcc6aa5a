// Package lease keeps two publishers from updating one mirror at the same
// time. A lease is a small object in the target, created only if absent
// (If-None-Match: *), holding its owner and an expiry; the holder renews it
// with If-Match on the ETag it wrote, and another run may take it over only
// once it has expired, again with If-Match, so two contenders can never
// both win.
//
// It does not protect readers (the publish order does) and knows nothing
// about SimpleStreams.
package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/ssmirror/ssmirror/target"
)

// Key is where the lease lives: outside streams/, never served as part of
// the mirror.
const Key = ".ssmirror/lease.json"

// Errors callers branch on.
var (
	// ErrHeld means another publisher holds the lease.
	ErrHeld = errors.New("another publisher holds the mirror's lease")
	// ErrLost means the lease was taken over or could not be renewed; the
	// holder must stop publishing.
	ErrLost = errors.New("lease lost")
)

// Record is the content of the lease object.
type Record struct {
	Owner    string    `json:"owner"`
	Host     string    `json:"host,omitempty"`
	PID      int       `json:"pid,omitempty"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// stale reports whether the holder ran on this host and its process is
// gone (killed, crashed): its lease need not be waited out.
func (r Record) stale() bool {
	host, _ := os.Hostname()
	return r.Host != "" && r.Host == host && r.PID > 0 && !processAlive(r.PID)
}

// Options tunes Acquire.
type Options struct {
	Owner string        // names the holder in messages; default host:pid
	TTL   time.Duration // lifetime between renewals; default 2 minutes
	Wait  time.Duration // how long to wait for a held lease; 0 fails at once
	Poll  time.Duration // how often to look again while waiting; default 2 s
	Now   func() time.Time
}

// Lease is a held lease. Its renewals run until Release.
type Lease struct {
	st    target.Store
	opts  Options
	rec   Record
	mu    sync.Mutex
	etag  string
	done  chan struct{}
	stop  chan struct{}
	err   error
	once  sync.Once
	rwait sync.WaitGroup
}

// Acquire takes the lease on st, waiting up to opts.Wait for a holder to
// release it or for its lease to expire. A held lease gives an error
// wrapping ErrHeld that names the holder and its expiry.
func Acquire(ctx context.Context, st target.Store, opts Options) (*Lease, error) {
	if opts.TTL <= 0 {
		opts.TTL = 2 * time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Owner == "" {
		host, _ := os.Hostname()
		opts.Owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	deadline := opts.Now().Add(opts.Wait)
	for {
		l, holder, err := try(ctx, st, opts)
		if err == nil {
			l.start()
			return l, nil
		}
		if !errors.Is(err, ErrHeld) {
			return nil, err
		}
		if !opts.Now().Before(deadline) {
			return nil, fmt.Errorf("%s/%s: %w: %s since %s, until %s (wait with --wait, or let it expire)",
				st, Key, ErrHeld, holder.Owner, holder.Acquired.UTC().Format(time.RFC3339), holder.Expires.UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(opts.Poll):
		}
	}
}

// try makes one attempt: create the lease, or take over an expired one.
func try(ctx context.Context, st target.Store, opts Options) (*Lease, Record, error) {
	now := opts.Now()
	host, _ := os.Hostname()
	l := &Lease{st: st, opts: opts, rec: Record{Owner: opts.Owner, Host: host, PID: os.Getpid(), Acquired: now, Expires: now.Add(opts.TTL)},
		done: make(chan struct{}), stop: make(chan struct{})}
	err := l.write(ctx, target.PutOptions{IfAbsent: true})
	if err == nil {
		return l, Record{}, nil
	}
	if !errors.Is(err, target.ErrPrecondition) {
		return nil, Record{}, err
	}
	holder, etag, err := read(ctx, st)
	if errors.Is(err, target.ErrNotExist) {
		return try(ctx, st, opts) // released meanwhile: try again at once
	}
	if errors.Is(err, target.ErrPrecondition) {
		// Replaced while we read it: someone else is taking it.
		return nil, Record{Owner: "another publisher (lease changing)", Acquired: now, Expires: now}, ErrHeld
	}
	if err != nil {
		return nil, Record{}, err
	}
	if now.Before(holder.Expires) && !holder.stale() {
		return nil, holder, ErrHeld
	}
	// Expired, or its holder died on this host: take it over, unless
	// someone else does first.
	if err := l.write(ctx, target.PutOptions{IfMatch: etag}); err != nil {
		if errors.Is(err, target.ErrPrecondition) {
			return nil, holder, ErrHeld
		}
		return nil, Record{}, err
	}
	return l, Record{}, nil
}

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
		// Corrupt: treat as expired at its modification time plus a
		// default lifetime.
		rec = Record{Owner: "unknown (unreadable lease)", Acquired: obj.ModTime, Expires: obj.ModTime.Add(2 * time.Minute)}
	}
	return rec, obj.ETag, nil
}

// write stores the record with a precondition and remembers the new ETag.
func (l *Lease) write(ctx context.Context, opts target.PutOptions) error {
	body, _ := json.Marshal(l.rec)
	opts.ContentType = "application/json"
	etag, err := l.st.Put(ctx, Key, bytes.NewReader(body), int64(len(body)), opts)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.etag = etag
	l.mu.Unlock()
	return nil
}

// start renews the lease every third of its lifetime until Release.
func (l *Lease) start() {
	l.rwait.Add(1)
	go func() {
		defer l.rwait.Done()
		t := time.NewTicker(l.opts.TTL / 3)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), l.opts.TTL/3)
			l.mu.Lock()
			etag := l.etag
			l.mu.Unlock()
			valid := l.rec.Expires
			l.rec.Expires = l.opts.Now().Add(l.opts.TTL)
			err := l.write(ctx, target.PutOptions{IfMatch: etag})
			cancel()
			if err == nil {
				continue
			}
			l.rec.Expires = valid
			// Taken over, or close enough to expiry that another run may
			// take it over before the next attempt: stop.
			if errors.Is(err, target.ErrPrecondition) || l.opts.Now().Add(l.opts.TTL/3).After(valid) {
				l.fail(fmt.Errorf("%s/%s: %w: %v", l.st, Key, ErrLost, err))
				return
			}
		}
	}()
}

func (l *Lease) fail(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.done)
	})
}

// Done is closed when the lease is lost; Err then says why.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err returns why the lease was lost, or nil.
func (l *Lease) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

// Release stops renewing and deletes the lease if it is still this one's.
func (l *Lease) Release(ctx context.Context) error {
	close(l.stop)
	l.rwait.Wait()
	if l.Err() != nil {
		return nil
	}
	rec, _, err := read(ctx, l.st)
	if err != nil {
		if errors.Is(err, target.ErrNotExist) {
			return nil
		}
		return err
	}
	if rec.Owner != l.rec.Owner || !rec.Acquired.Equal(l.rec.Acquired) {
		return nil
	}
	l.fail(nil)
	return l.st.Delete(ctx, Key)
}
