package ui

import (
	"io"
	"sync"

	"github.com/ssmirror/ssmirror/internal/redact"
)

// LockedWriter serializes the writes of several goroutines to one writer,
// which Redirect can replace for a while, and redacts every URL written
// through it (redact.Text: passwords, signed-URL tokens). The commands'
// stdout and stderr are two; the logger writes to a third, that a sync
// run points at its text reporter so that log lines go above the progress
// bars instead of through them. Every line the commands print goes
// through one of them, so none shows a secret that a URL carried.
type LockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLockedWriter returns a LockedWriter that writes to w.
func NewLockedWriter(w io.Writer) *LockedWriter { return &LockedWriter{w: w} }

func (l *LockedWriter) Write(p []byte) (int, error) {
	if _, err := l.WriteString(string(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString is Write of a string (io.StringWriter), without a copy.
func (l *LockedWriter) WriteString(s string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := io.WriteString(l.w, redact.Text(s)); err != nil {
		return 0, err
	}
	return len(s), nil
}

// Underlying returns the writer the writes go to now.
func (l *LockedWriter) Underlying() io.Writer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w
}

// Redirect sends the writes to w until the returned function is called.
func (l *LockedWriter) Redirect(w io.Writer) (restore func()) {
	l.mu.Lock()
	prev := l.w
	l.w = w
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.w = prev
		l.mu.Unlock()
	}
}
