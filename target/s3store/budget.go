package s3store

import "sync"

// DefaultMemory is the default Config.Memory: the bytes of object data a
// Store buffers at once across all its uploads.
const DefaultMemory = 48 << 20

// budget is a weighted semaphore bounding the bytes of upload buffers in
// use across every Put of a Store, so memory stays flat whatever the
// number of concurrent transfers and the size of items.
type budget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	free  int64
	total int64
	peak  int64 // most bytes ever taken at once (for tests)
}

func newBudget(n int64) *budget {
	b := &budget{free: n, total: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire waits until n bytes are free and takes them. A request larger
// than the whole budget waits until nothing else is taken, then proceeds
// alone, so that no object is too large to upload.
func (b *budget) acquire(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.free < min(n, b.total) {
		b.cond.Wait()
	}
	b.take(n)
}

func (b *budget) take(n int64) {
	b.free -= n
	b.peak = max(b.peak, b.total-b.free)
}

// tryAcquire takes n bytes if they are free now.
func (b *budget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.free < n {
		return false
	}
	b.take(n)
	return true
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// slabs recycles buffers of one part size, so that a long run does not
// leave the garbage collector a heap of dead part-sized buffers: with the
// budget, this keeps the memory of uploads near the budget itself.
type slabs struct {
	size int64
	pool sync.Pool
}

// get returns a buffer of n bytes: a recycled slab when n fits one and is
// large enough to matter, else a new slice.
func (p *slabs) get(n int64) []byte {
	if n > p.size || n < 1<<20 {
		return make([]byte, n)
	}
	if b, ok := p.pool.Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, p.size)
}

// put returns a buffer obtained from get.
func (p *slabs) put(b []byte) {
	if int64(cap(b)) == p.size {
		b = b[:cap(b)]
		p.pool.Put(&b)
	}
}
