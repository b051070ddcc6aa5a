package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds ssmirror once per test run, for tests that need a real
// process (signals, concurrent publishers).
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ssmirror-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "ssmirror")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("building ssmirror: %v", binErr)
	}
	return binPath
}

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr output
}

// output is a process's output, which a test may read while the process
// writes it.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wants []want
}

type want struct {
	s    string
	seen chan struct{}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	o.wants = slices.DeleteFunc(o.wants, func(w want) bool {
		if strings.Contains(o.buf.String(), w.s) {
			close(w.seen)
			return true
		}
		return false
	})
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Shows returns a channel closed once the output contains s.
func (o *output) Shows(s string) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	w := want{s, make(chan struct{})}
	if strings.Contains(o.buf.String(), s) {
		close(w.seen)
	} else {
		o.wants = append(o.wants, w)
	}
	return w.seen
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), args...)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

// waitWithin waits for the process to exit, for at most d: a safety net
// against a hang, not a measurement. On a hang it kills the process and
// reports false.
func (p *proc) waitWithin(d time.Duration) (int, bool) {
	done := make(chan int, 1)
	go func() { done <- p.wait() }()
	select {
	case code := <-done:
		return code, true
	case <-time.After(d):
		p.cmd.Process.Kill()
		return <-done, false
	}
}

func (p *proc) wait() int {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// slowItems makes the upstream hold every item response until release is
// closed, and reports when the first item was requested.
func slowItems(f *fixture) (requested <-chan struct{}, release func()) {
	req := make(chan struct{})
	rel := make(chan struct{})
	var once, ronce sync.Once
	f.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/streams/") {
			return false
		}
		once.Do(func() { close(req) })
		select {
		case <-rel:
		case <-r.Context().Done():
		}
		return false
	})
	return req, func() { ronce.Do(func() { close(rel) }) }
}

// TestInterrupt: SIGINT and SIGTERM during transfers stop the run with
// status 130 and publish nothing.
func TestInterrupt(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			f := newFixture(t)
			requested, release := slowItems(f)
			defer release()
			dir := filepath.Join(t.TempDir(), "m")
			p := start(t, nil, "sync", "--keyring", f.keyring, f.srv.Root(), dir)
			select {
			case <-requested:
			case <-time.After(30 * time.Second):
				t.Fatal("no item was requested")
			}
			p.cmd.Process.Signal(sig)
			code, ok := p.waitWithin(30 * time.Second)
			if !ok {
				t.Fatal("ssmirror did not stop after the signal")
			}
			if code != 130 {
				t.Errorf("exit %d, want 130\n%s", code, p.stderr.String())
			}
			st, _ := dirstore.New(dir)
			var objs []string
			st.List(context.Background(), "", func(o target.Object) error { objs = append(objs, o.Key); return nil })
			for _, k := range objs {
				if strings.HasPrefix(k, "streams/") {
					t.Errorf("published %s although interrupted", k)
				}
			}
			if hasKey(st, ".ssmirror/lease.json") {
				t.Error("the lease was not released")
			}
		})
	}
}

// TestConcurrentPublishers: while one sync runs, a second against the same
// target fails at once with a clear message, or waits with --wait, saying
// whom it waits for, and then finds the mirror complete.
func TestConcurrentPublishers(t *testing.T) {
	for _, tc := range targets() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dst, flags, st := tc.open(t)
			var env []string
			if tc.name == "s3" {
				env = []string{"AWS_ACCESS_KEY_ID=" + os.Getenv("AWS_ACCESS_KEY_ID"), "AWS_SECRET_ACCESS_KEY=" + os.Getenv("AWS_SECRET_ACCESS_KEY")}
			}
			args := append(append([]string{"sync", "--keyring", f.keyring}, flags...), f.srv.Root(), dst)
			args = append(args, maasFilter...)
			requested, release := slowItems(f)
			defer release()
			a := start(t, env, args...)
			<-requested
			b := start(t, env, args...)
			if code := b.wait(); code != 1 || !strings.Contains(b.stderr.String(), "another publisher holds the mirror's lease") {
				t.Errorf("second publisher: exit %d\n%s", code, b.stderr.String())
			}
			c := start(t, env, append([]string{"sync", "--wait", "60s"}, args[1:]...)...)
			<-c.stderr.Shows("waiting for the lease") // c found a's lease
			release()
			if code := a.wait(); code != 0 {
				t.Fatalf("first publisher: exit %d\n%s", code, a.stderr.String())
			}
			if code := c.wait(); code != 0 || !strings.Contains(c.stdout.String(), "nothing to do") {
				t.Errorf("waiting publisher: exit %d\n%s%s", code, c.stdout.String(), c.stderr.String())
			}
			if !strings.Contains(c.stderr.String(), fmt.Sprintf("pid %d)", a.cmd.Process.Pid)) {
				t.Errorf("the waiting publisher does not name the holder (pid %d):\n%s", a.cmd.Process.Pid, c.stderr.String())
			}
			f.checkMirror(t, st, f.expected())
		})
	}
}
