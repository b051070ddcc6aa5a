package par

import (
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachCallsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		calls := make([]atomic.Int32, n)
		Each(n, func(i int) { calls[i].Add(1) })
		for i := range calls {
			if got := calls[i].Load(); got != 1 {
				t.Fatalf("n=%d: fn(%d) called %d times, want 1", n, i, got)
			}
		}
	}
}

// TestPiecesInOrder: every piece is handed over once, in order, whatever
// order the goroutines finish them in, with every GOMAXPROCS.
func TestPiecesInOrder(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		for _, n := range []int{0, 1, 3, 17, 500} {
			t.Run(fmt.Sprintf("procs%d/n%d", procs, n), func(t *testing.T) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				p := Start(n, func(i int, buf []byte) []byte {
					if len(buf) != 0 {
						t.Errorf("piece %d: given a buffer of length %d, want 0", i, len(buf))
					}
					if i%3 == 0 {
						time.Sleep(time.Duration(i%5) * 100 * time.Microsecond)
					}
					return strconv.AppendInt(buf, int64(i), 10)
				})
				defer p.Stop()
				for i := range n {
					piece, ok := p.Next()
					if !ok || string(piece) != strconv.Itoa(i) {
						t.Fatalf("piece %d: got %q, %v", i, piece, ok)
					}
				}
				if piece, ok := p.Next(); ok {
					t.Fatalf("after the last piece: got %q, want none", piece)
				}
			})
		}
	}
}

// TestPiecesBounded: no piece is made more than a window ahead of the
// one handed over, so an output is not held whole.
func TestPiecesBounded(t *testing.T) {
	var made atomic.Int64
	p := Start(1000, func(i int, buf []byte) []byte {
		made.Add(1)
		return append(buf, 'x')
	})
	defer p.Stop()
	limit := int64(p.window)
	for i := range 1000 {
		if _, ok := p.Next(); !ok {
			t.Fatalf("piece %d missing", i)
		}
		if m := made.Load(); m > int64(i+1)+limit {
			t.Fatalf("after %d pieces handed over, %d made: more than %d ahead", i+1, m, limit)
		}
	}
}

// TestPiecesStopEarly: Stop returns while pieces are still wanted by
// nobody, and the goroutines end.
func TestPiecesStopEarly(t *testing.T) {
	before := runtime.NumGoroutine()
	p := Start(1_000_000, func(i int, buf []byte) []byte { return append(buf, 'x') })
	for range 10 {
		p.Next()
	}
	p.Stop()
	p.Stop() // twice is harmless
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Stop, %d before Start", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
}
