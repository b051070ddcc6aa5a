package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ssmirror/ssmirror/plan"
)

// textReport writes one line per finished object to w.
type textReport struct {
	mu sync.Mutex
	w  io.Writer
}

func (r *textReport) line(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, format+"\n", a...)
}

func (r *textReport) TransferStarted(plan.Transfer) func(int64) { return nil }

func (r *textReport) TransferDone(t plan.Transfer, err error, d time.Duration) {
	if err != nil {
		r.line("FAILED %s: %v", t.Path, err)
		return
	}
	r.line("copied %s (%s) in %s", t.Path, plan.Bytes(t.Size), d.Round(time.Millisecond))
}

func (r *textReport) Published(m plan.Meta, err error) {
	if err != nil {
		r.line("FAILED to publish %s: %v", m.Key, err)
		return
	}
	r.line("published %s (%s)", m.Key, plan.Bytes(m.Size))
}

func (r *textReport) Deleted(d plan.Delete, err error) {
	if err != nil {
		r.line("could not delete %s (left for a later run): %v", d.Path, err)
		return
	}
	r.line("deleted %s (%s)", d.Path, d.Reason)
}
