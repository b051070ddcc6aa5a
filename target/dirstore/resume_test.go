package dirstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/target"
)

// setCheckpoint makes resumable Puts record a checkpoint every n bytes for
// the rest of the test (which must not run in parallel).
func setCheckpoint(t *testing.T, n int64) {
	old := Checkpoint
	Checkpoint = n
	t.Cleanup(func() { Checkpoint = old })
}

// resumeStore returns a new store whose resumable Puts record a checkpoint
// every 100 bytes.
func resumeStore(t *testing.T) (*Store, context.Context) {
	setCheckpoint(t, 100)
	return newStore(t).(*Store), context.Background()
}

// putAll makes a PutResumable of data under key whose open gives the body
// from the offset asked, and returns the offsets asked.
func putAll(st *Store, key string, data []byte) ([]int64, error) {
	var asked []int64
	_, err := st.PutResumable(context.Background(), key, int64(len(data)), sha(data), target.PutOptions{}, func(from target.Resumed) (io.Reader, error) {
		asked = append(asked, from.Offset)
		return bytes.NewReader(data[from.Offset:]), nil
	})
	return asked, err
}

// body returns n bytes that differ for each seed.
func body(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

func sha(b []byte) target.Sum {
	h := sha256.Sum256(b)
	return target.Sum{Algo: "sha256", Digest: h[:]}
}

var errBody = errors.New("connection reset by peer")

// chunks gives data in reads of at most n bytes, the last one with
// io.EOF, or, when err is set, err in the read after the last one. Before
// each read it calls seen.
type chunks struct {
	data []byte
	n    int
	err  error
	seen func()
}

func (c *chunks) Read(p []byte) (int, error) {
	if c.seen != nil {
		c.seen()
	}
	if len(c.data) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[k:]
	if len(c.data) == 0 && c.err == nil {
		return k, io.EOF
	}
	return k, nil
}

// recorded returns the offset the resume record of key holds (0: none).
func recorded(t *testing.T, st *Store, key string) int64 {
	t.Helper()
	rec, err := target.ReadResume(context.Background(), st, key)
	if errors.Is(err, target.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatalf("resume record of %s: %v", key, err)
	}
	return rec.Offset
}

// cut makes a PutResumable of data under key that the body cuts off with
// an error after n bytes, and returns the record it kept.
func cut(t *testing.T, st *Store, key string, data []byte, n int) target.ResumeRecord {
	t.Helper()
	ctx := context.Background()
	_, err := st.PutResumable(ctx, key, int64(len(data)), sha(data), target.PutOptions{}, func(from target.Resumed) (io.Reader, error) {
		return &chunks{data: data[from.Offset:n], n: 50, err: errBody}, nil
	})
	if !errors.Is(err, errBody) {
		t.Fatalf("cut-off PutResumable of %s: %v, want the body's error", key, err)
	}
	rec, err := target.ReadResume(ctx, st, key)
	if err != nil || rec.Offset != int64(n) {
		t.Fatalf("resume record of %s: offset %d, %v; want %d", key, rec.Offset, err, n)
	}
	return rec
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	return len(fds)
}

func offsets(o []int64) string { return strings.Trim(fmt.Sprint(o), "[]") }

// TestResumeCheckpoints: a resumable Put records its progress (after an
// fsync) each Checkpoint bytes, not at the end of the body; one cut off
// records exactly where it stopped, and its successor goes on from there,
// with the next checkpoint a Checkpoint later. A body that fails before
// its first byte keeps nothing.
func TestResumeCheckpoints(t *testing.T) {
	st, ctx := resumeStore(t)
	data := body(1000, 1)
	// put stores data from the offset open is asked for, read 50 bytes at
	// a time and ending with end after to bytes; it returns the offsets
	// recorded before each read.
	put := func(key string, to int, end error) ([]int64, target.Resumed, error) {
		var seen []int64
		var asked target.Resumed
		_, err := st.PutResumable(ctx, key, int64(len(data)), sha(data), target.PutOptions{}, func(from target.Resumed) (io.Reader, error) {
			asked = from
			return &chunks{data: data[from.Offset:to], n: 50, err: end, seen: func() { seen = append(seen, recorded(t, st, key)) }}, nil
		})
		return seen, asked, err
	}

	// Whole: a checkpoint at 100, 200, ..., 900; none at 1000 (the last
	// read, at 1000, looks for more data).
	seen, _, err := put("whole", 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := offsets(seen), "0 0 100 100 200 200 300 300 400 400 500 500 600 600 700 700 800 800 900 900 900"; got != want {
		t.Errorf("whole Put: recorded before each read %s, want %s", got, want)
	}
	if got := recorded(t, st, "whole"); got != 0 {
		t.Errorf("a finished Put left a record at %d", got)
	}

	for _, end := range []error{errBody, io.EOF} {
		key, want := "cut-error", errBody
		if end == io.EOF {
			key, want = "cut-eof", io.ErrUnexpectedEOF
		}
		seen, _, err := put(key, 730, end)
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", key, err, want)
		}
		if got, want := offsets(seen), "0 0 100 100 200 200 300 300 400 400 500 500 600 600 700 700"; got != want {
			t.Errorf("%s: recorded before each read %s, want %s", key, got, want)
		}
		rec, err := target.ReadResume(ctx, st, key)
		if err != nil || rec.Offset != 730 {
			t.Fatalf("%s: record at %d (%v), want 730, where the body stopped", key, rec.Offset, err)
		}
		if fi, err := os.Stat(filepath.Join(st.Root(), filepath.FromSlash(rec.Temp))); err != nil || fi.Size() != 730 {
			t.Errorf("%s: kept file %v, want 730 bytes", key, err)
		}
		seen, asked, err := put(key, 1000, nil)
		if err != nil {
			t.Fatalf("%s resumed: %v", key, err)
		}
		if asked.Offset != 730 {
			t.Errorf("%s resumed at %d, want 730", key, asked.Offset)
		}
		if got, want := offsets(seen), "730 730 830 830 930 930 930"; got != want {
			t.Errorf("%s resumed: recorded before each read %s, want %s", key, got, want)
		}
		if got, _ := os.ReadFile(filepath.Join(st.Root(), key)); !bytes.Equal(got, data) {
			t.Errorf("%s resumed: object differs from the body", key)
		}
		if got := recorded(t, st, key); got != 0 {
			t.Errorf("%s: a finished Put left a record at %d", key, got)
		}
	}

	// Nothing stored: nothing kept.
	if _, _, err := put("none", 0, errBody); !errors.Is(err, errBody) {
		t.Fatalf("Put failing at once: %v", err)
	}
	if got := recorded(t, st, "none"); got != 0 {
		t.Errorf("a Put that stored nothing left a record at %d", got)
	}
	checkNoTemp(t, st)
}

// TestResumeLongBody: a resumable body longer than its declared size fails
// as such (not as a checksum mismatch) and keeps nothing, however the
// reads fall.
func TestResumeLongBody(t *testing.T) {
	st := newStore(t).(*Store)
	data := body(1000, 2)
	_, err := st.PutResumable(context.Background(), "long", 1000, sha(data), target.PutOptions{}, func(target.Resumed) (io.Reader, error) {
		return &chunks{data: append(data[:1000:1000], "extra"...), n: 70}, nil
	})
	if err == nil || errors.Is(err, target.ErrChecksum) || !strings.Contains(err.Error(), "longer than the declared 1000 bytes") {
		t.Fatalf("Put of a long body: %v, want it to say the body is longer", err)
	}
	expectNoObject(t, st, "long")
	checkNoTemp(t, st)
}

func expectNoObject(t *testing.T, st *Store, key string) {
	t.Helper()
	if _, err := st.Stat(context.Background(), key); !errors.Is(err, target.ErrNotExist) {
		t.Errorf("Stat(%s) = %v, want ErrNotExist", key, err)
	}
	if got := recorded(t, st, key); got != 0 {
		t.Errorf("%s: record at %d, want none", key, got)
	}
}

// TestResumeStartOver: a source that cannot go on from the kept bytes
// (ErrStartOver) is asked again from 0, and what was kept is dropped; one
// that cannot give the body from 0 either fails the Put, asked once.
func TestResumeStartOver(t *testing.T) {
	st, ctx := resumeStore(t)
	data := body(1000, 3)
	cut(t, st, "item", data, 730)
	var asked []int64
	_, err := st.PutResumable(ctx, "item", 1000, sha(data), target.PutOptions{}, func(from target.Resumed) (io.Reader, error) {
		asked = append(asked, from.Offset)
		if from.Offset > 0 {
			return nil, fmt.Errorf("upstream ignores ranges: %w", target.ErrStartOver)
		}
		return bytes.NewReader(data), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := offsets(asked); got != "730 0" {
		t.Errorf("asked for the body from %s, want 730 then 0", got)
	}
	if got, _ := os.ReadFile(filepath.Join(st.Root(), "item")); !bytes.Equal(got, data) {
		t.Error("object differs from the body")
	}
	if got := recorded(t, st, "item"); got != 0 {
		t.Errorf("record left at %d", got)
	}
	checkNoTemp(t, st)

	asked = nil
	_, err = st.PutResumable(ctx, "other", 1000, sha(data), target.PutOptions{}, func(from target.Resumed) (io.Reader, error) {
		asked = append(asked, from.Offset)
		return nil, target.ErrStartOver
	})
	if !errors.Is(err, target.ErrStartOver) || offsets(asked) != "0" {
		t.Errorf("Put whose body cannot be had: %v, asked from %s; want ErrStartOver, asked once from 0", err, offsets(asked))
	}
	expectNoObject(t, st, "other")
	checkNoTemp(t, st)
}

// TestResumeOpenFails: a body that cannot be opened fails the Put with its
// error, closes what was opened, and leaves what an earlier Put kept for
// the next one; a Put that cannot resume (conditional) fails the same.
func TestResumeOpenFails(t *testing.T) {
	st, ctx := resumeStore(t)
	data := body(1000, 4)
	errOpen := errors.New("upstream: 500 Internal Server Error")
	failing := func(target.Resumed) (io.Reader, error) { return nil, errOpen }
	cut(t, st, "item", data, 730)
	files := openFiles(t)
	for range 3 {
		if _, err := st.PutResumable(ctx, "item", 1000, sha(data), target.PutOptions{}, failing); !errors.Is(err, errOpen) {
			t.Fatalf("PutResumable = %v, want the open error", err)
		}
	}
	if got := openFiles(t); got != files {
		t.Errorf("%d files open after three failed opens, want %d as before", got, files)
	}
	if got := recorded(t, st, "item"); got != 730 {
		t.Errorf("record at %d after failed opens, want 730 kept", got)
	}
	if asked, err := putAll(st, "item", data); err != nil || offsets(asked) != "730" {
		t.Fatalf("PutResumable = %v, asked from %s; want it resumed at 730", err, offsets(asked))
	}
	if _, err := st.PutResumable(ctx, "new", 1000, sha(data), target.PutOptions{IfAbsent: true}, failing); !errors.Is(err, errOpen) {
		t.Errorf("conditional PutResumable = %v, want the open error", err)
	}
	expectNoObject(t, st, "new")
	checkNoTemp(t, st)
}

// TestResumeForeignRecords: a resume record that cannot be read, that is
// another key's, or that names another key's kept file, is dropped; the Put
// sends its body whole, and the other Put's kept bytes stay resumable.
func TestResumeForeignRecords(t *testing.T) {
	st, ctx := resumeStore(t)
	dataA, dataB := body(1000, 5), body(1000, 6)
	bRec := cut(t, st, "d/b", dataB, 730)
	bTemp := filepath.Join(st.Root(), filepath.FromSlash(bRec.Temp))
	bJSON, err := os.ReadFile(filepath.Join(st.Root(), filepath.FromSlash(target.ResumeKey("d/b"))))
	if err != nil {
		t.Fatal(err)
	}
	aRec := target.NewResumeRecord("d/a", 1000, sha(dataA))
	aRec.Offset, aRec.State, aRec.Temp = bRec.Offset, bRec.State, bRec.Temp // b's file
	rk := target.ResumeKey("d/a")
	for name, write := range map[string]func() error{
		"unreadable": func() error {
			_, err := st.Put(ctx, rk, strings.NewReader("{not json"), 9, target.PutOptions{})
			return err
		},
		"another key's": func() error {
			_, err := st.Put(ctx, rk, bytes.NewReader(bJSON), int64(len(bJSON)), target.PutOptions{})
			return err
		},
		"naming another key's file": func() error { return target.WriteResume(ctx, st, aRec) },
	} {
		if err := write(); err != nil {
			t.Fatal(err)
		}
		asked, err := putAll(st, "d/a", dataA)
		if err != nil || offsets(asked) != "0" {
			t.Errorf("%s record: PutResumable = %v, asked from %s; want the whole body sent", name, err, offsets(asked))
		}
		if got, _ := os.ReadFile(filepath.Join(st.Root(), "d", "a")); !bytes.Equal(got, dataA) {
			t.Errorf("%s record: d/a differs from its body", name)
		}
		if _, err := st.Stat(ctx, rk); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("%s record: still there (%v)", name, err)
		}
		if got := recorded(t, st, "d/b"); got != 730 {
			t.Errorf("%s record: d/b's record at %d, want 730", name, got)
		}
		if fi, err := os.Stat(bTemp); err != nil || fi.Size() != 730 {
			t.Errorf("%s record: d/b's kept file: %v, want 730 bytes", name, err)
		}
		st.Delete(ctx, "d/a")
	}
	// DropResume of d/a over b's record removes only that record.
	if _, err := st.Put(ctx, rk, bytes.NewReader(bJSON), int64(len(bJSON)), target.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := st.DropResume(ctx, "d/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat(ctx, rk); !errors.Is(err, target.ErrNotExist) {
		t.Errorf("DropResume left the record (%v)", err)
	}
	if _, err := os.Stat(bTemp); err != nil {
		t.Errorf("DropResume of d/a removed d/b's kept file: %v", err)
	}
	if asked, err := putAll(st, "d/b", dataB); err != nil || offsets(asked) != "730" {
		t.Errorf("d/b: PutResumable = %v, asked from %s; want it resumed at 730", err, offsets(asked))
	}
	checkNoTemp(t, st)
}

// TestProbeClosesFiles: a probe leaves no file open (its flock check
// releases the lock it took).
func TestProbeClosesFiles(t *testing.T) {
	st := newStore(t).(*Store)
	files := openFiles(t)
	for range 3 {
		if _, err := st.Probe(context.Background(), true); err != nil {
			t.Fatal(err)
		}
	}
	if got := openFiles(t); got != files {
		t.Errorf("%d files open after three probes, want %d as before", got, files)
	}
}
