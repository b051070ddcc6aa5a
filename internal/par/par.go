// Package par spreads CPU-bound work over the machine's cores: Each runs a
// function for every index, Pieces makes pieces of output side by side and
// hands them over in order, a bounded number ahead of the reader, so that
// a large output is made on every core without being held whole.
//
// It knows nothing of what the work is, does no I/O and never reorders
// what it hands over.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Each calls fn(0) … fn(n-1) on up to GOMAXPROCS goroutines and returns
// when all have returned.
func Each(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// Pieces makes the pieces 0 … n-1 of an output on up to GOMAXPROCS
// goroutines and hands them over in order (Next). At most a few pieces
// per goroutine are made ahead of the one handed over last.
type Pieces struct {
	n, window int
	build     func(i int, buf []byte) []byte
	slots     []chan []byte // piece i goes to slots[i%window]
	free      chan struct{} // a token per piece that may be made now
	bufs      chan []byte   // buffers of pieces handed over, to reuse
	done      chan struct{}
	next      atomic.Int64 // the next piece to make
	taken     int          // pieces handed over
	last      []byte       // the piece handed over last, emptied
	held      bool         // whether the caller holds a piece
	wg        sync.WaitGroup
	stop      sync.Once
}

// Start starts making the pieces: build(i, buf) appends piece i to buf
// (empty, with the capacity of a piece handed over before) and returns
// it. build runs on other goroutines, several at once. Stop must be
// called when the pieces are no longer wanted.
func Start(n int, build func(i int, buf []byte) []byte) *Pieces {
	workers := max(min(runtime.GOMAXPROCS(0), n), 1)
	window := 4 * workers
	p := &Pieces{n: n, window: window, build: build,
		slots: make([]chan []byte, window), free: make(chan struct{}, window),
		bufs: make(chan []byte, window), done: make(chan struct{})}
	for i := range p.slots {
		p.slots[i] = make(chan []byte, 1)
		p.free <- struct{}{}
	}
	for range workers {
		p.wg.Go(p.work)
	}
	return p
}

// work makes pieces until all are made or Stop is called. A piece is
// taken only with a token, so piece i is made once piece i-window was
// handed over and its slot is empty: the send never blocks.
func (p *Pieces) work() {
	for {
		select {
		case <-p.done:
			return
		case <-p.free:
		}
		i := int(p.next.Add(1)) - 1
		if i >= p.n {
			return
		}
		var buf []byte
		select {
		case buf = <-p.bufs:
		default:
		}
		p.slots[i%p.window] <- p.build(i, buf[:0])
	}
}

// Next returns the next piece, in order, waiting until it is made; ok is
// false after the last. The piece is the caller's until the next call of
// Next or Stop.
func (p *Pieces) Next() (piece []byte, ok bool) {
	if p.held {
		select {
		case p.bufs <- p.last:
		default:
		}
		p.last, p.held = nil, false
		p.free <- struct{}{}
	}
	if p.taken >= p.n {
		return nil, false
	}
	piece = <-p.slots[p.taken%p.window]
	p.taken++
	p.last, p.held = piece[:0], true
	return piece, true
}

// Stop stops making pieces and returns when no more are being made.
func (p *Pieces) Stop() {
	p.stop.Do(func() { close(p.done) })
	p.wg.Wait()
}
