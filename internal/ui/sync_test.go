package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ssmirror/ssmirror/internal/fakeclock"
	"github.com/ssmirror/ssmirror/internal/golden"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/ssmirror/ssmirror/plan"
)

// The exit statuses of cmd/ssmirror that the summaries carry.
const (
	exitError   = 1
	exitPartial = 3
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

var (
	tSquash = plan.Transfer{Path: "ubuntu/noble/amd64/ga-24.04/20240101/squashfs", Size: 400 * mib, Reason: "new"}
	tKernel = plan.Transfer{Path: "ubuntu/noble/amd64/ga-24.04/20240101/generic/boot-kernel", Size: 60 * mib, Reason: "new"}
	tInitrd = plan.Transfer{Path: "ubuntu/noble/amd64/ga-24.04/20240101/generic/boot-initrd", Size: 20 * mib, Reason: "new"}
	tAdopt  = plan.Transfer{Path: "ubuntu/noble/amd64/ga-24.04/20240101/squashfs.manifest", Size: 12 * kib, Reason: "present but not recorded by a previous run", Adopt: true}

	mProducts = plan.Meta{Key: "streams/v1/com.ubuntu.maas:stable:v3:download.json", Size: 48 * kib}
	mIndex    = plan.Meta{Key: plan.IndexJSON, Size: 1536}

	dOld  = plan.Delete{Path: "ubuntu/jammy/amd64/ga-22.04/20230101/squashfs", Size: 380 * mib, Reason: "unreferenced since 2024-01-01T00:00:00Z"}
	dOld2 = plan.Delete{Path: "ubuntu/jammy/amd64/ga-22.04/20230101/boot-kernel", Size: 58 * mib, Reason: "unreferenced since 2024-01-01T00:00:00Z"}
)

func testPlan() *plan.Plan {
	return &plan.Plan{
		Source:    "https://images.maas.io/ephemeral-v3/stable/",
		Target:    "s3://mirror/maas",
		Transfers: []plan.Transfer{tSquash, tKernel, tInitrd, tAdopt},
		Publish:   []plan.Meta{mProducts, mIndex},
		Deletes:   []plan.Delete{dOld, dOld2},
		Warnings:  []string{"noble/amd64 version 20240101: the filters keep 3 of its 5 items"},
	}
}

var (
	errIntegrity = errors.New("https://images.maas.io/ephemeral-v3/stable/" + tKernel.Path + ": integrity check failed: sha256 mismatch")
	errDenied    = errors.New(dOld2.Path + ": access denied")
)

// script drives o through a run: a warning, the plan, four transfers (one
// failed, one kept), two metadata files, two deletes (one failed), the
// summary.
func script(o Reporter) {
	o.Warning("s3://mirror/maas/.ssmirror/state.json is unusable (bad JSON); rebuilt from the published metadata and a listing")
	o.Plan(testPlan())
	for _, x := range []struct {
		t   plan.Transfer
		err error
		d   time.Duration
	}{{tSquash, nil, 12345678 * time.Microsecond}, {tKernel, errIntegrity, 2 * time.Second}, {tInitrd, nil, 1500 * time.Millisecond}} {
		if fn := o.TransferStarted(x.t); fn != nil {
			fn(x.t.Size / 2)
			fn(x.t.Size - x.t.Size/2)
		}
		o.TransferDone(x.t, x.err, x.d)
	}
	o.TransferAdopted(tAdopt)
	o.Published(mProducts, nil)
	o.Published(mIndex, nil)
	o.Deleted(dOld, nil)
	o.Deleted(dOld2, errDenied)
	o.Summary(scriptSummary())
	o.Close()
}

func scriptSummary() Summary {
	return Summary{
		Source: "https://images.maas.io/ephemeral-v3/stable/", Target: "s3://mirror/maas",
		Transferred: 2, TransferredBytes: tSquash.Size + tInitrd.Size, Adopted: 1, Failed: 1,
		Published: 2, Deleted: 1, IndexPublished: true, Duration: 15432 * time.Millisecond,
		ExitStatus: exitPartial, Err: fmt.Errorf("%w\n%w", errors.New("some items were not mirrored"), errIntegrity),
		UpstreamRequests: 9, UpstreamBytes: tSquash.Size + tInitrd.Size + tKernel.Size/2 + 3000,
	}
}

func transcript(stdout, stderr string) string {
	return "== stdout ==\n" + stdout + "== stderr ==\n" + stderr
}

// TestOutputText checks the text and quiet outputs without a terminal.
func TestOutputText(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode Mode
	}{{"text", ModeText}, {"quiet", ModeQuiet}} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			script(New(tc.mode, &stdout, &stderr, false))
			golden.Check(t, "output_"+tc.name+".golden", []byte(transcript(stdout.String(), stderr.String())))
		})
	}
}

// TestOutputJSON checks the JSON events: the golden stream, stdout holding
// nothing but events, stderr nothing but warnings.
func TestOutputJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	script(New(ModeJSON, &stdout, &stderr, true))
	golden.Check(t, "output_json.golden", []byte(transcript(stdout.String(), stderr.String())))

	var types []string
	for l := range strings.Lines(stdout.String()) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		types = append(types, ev["type"].(string))
		if ev["type"] == "summary" {
			if ev["exit_status"] != float64(exitPartial) || ev["index_published"] != true || ev["duration_ms"] != float64(15432) {
				t.Errorf("summary event %v", ev)
			}
		}
	}
	want := "warning plan transfer transfer transfer transfer publish publish delete delete error summary"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("event types:\n got %s\nwant %s", got, want)
	}
	for l := range strings.Lines(stderr.String()) {
		if !strings.HasPrefix(l, "warning: ") {
			t.Errorf("stderr line %q in JSON mode", l)
		}
	}
}

// TestOutputSummaryCases: nothing to do, a run that never started, and
// Summary and Close called twice.
func TestOutputSummaryCases(t *testing.T) {
	empty := &plan.Plan{Source: "https://example.com/", Target: "/srv/mirror"}
	s := Summary{Source: empty.Source, Target: empty.Target}

	var stdout, stderr bytes.Buffer
	o := New(ModeText, &stdout, &stderr, false)
	o.Plan(empty)
	o.Summary(s)
	o.Summary(s)
	o.Close()
	o.Close()
	if got, want := stdout.String(), "/srv/mirror is up to date with https://example.com/: nothing to do (upstream: 0 requests, 0 B)\n"; got != want {
		t.Errorf("empty plan: stdout %q, want %q", got, want)
	}
	if stderr.Len() != 0 {
		t.Errorf("empty plan: stderr %q", stderr.String())
	}

	stdout.Reset()
	o = New(ModeText, &stdout, &stderr, false)
	o.Summary(Summary{Err: errors.New("source unreachable"), ExitStatus: exitError})
	o.Close()
	if stdout.Len() != 0 || stderr.Len() != 0 {
		t.Errorf("run that never started: stdout %q, stderr %q", stdout.String(), stderr.String())
	}

	o = New(ModeJSON, &stdout, &stderr, false)
	o.Summary(Summary{Source: "https://example.com/", Target: "/srv/mirror", Err: errors.New("source unreachable"), ExitStatus: exitError})
	o.Summary(s)
	o.Close()
	want := `{"type":"error","message":"source unreachable"}
{"type":"summary","source":"https://example.com/","target":"/srv/mirror","transferred":0,"transferred_bytes":0,"adopted":0,"failed":0,"published":0,"deleted":0,"duration_ms":0,"bytes_per_second":0,"upstream_requests":0,"upstream_bytes":0,"exit_status":1,"index_published":false,"error":"source unreachable"}
`
	if stdout.String() != want {
		t.Errorf("JSON, run that never started:\n got %s\nwant %s", stdout.String(), want)
	}
}

// frameRecorder is an mpb console writer that keeps each rendered frame.
type frameRecorder struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	frames []string
	notify chan struct{}
}

func newFrameRecorder() *frameRecorder { return &frameRecorder{notify: make(chan struct{}, 1)} }

func (r *frameRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *frameRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.ReadFrom(src)
}

func (r *frameRecorder) IsTerminal() bool               { return false }
func (r *frameRecorder) GetTermSize() (int, int, error) { return 80, 24, nil }
func (r *frameRecorder) Flush(lines int) error {
	r.mu.Lock()
	r.frames = append(r.frames, r.buf.String())
	r.buf.Reset()
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}

// count returns how many frames were flushed.
func (r *frameRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

// frame returns frame i, waiting for it.
func (r *frameRecorder) frame(t *testing.T, i int) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		if i < len(r.frames) {
			f := r.frames[i]
			r.mu.Unlock()
			return f
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("no frame %d", i)
		}
	}
}

func (r *frameRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.frames) == 0 {
		return ""
	}
	return r.frames[len(r.frames)-1]
}

// TestOutputProgress drives the progress display with a fake clock and
// manual refreshes at 80 columns, and checks the frames.
func TestOutputProgress(t *testing.T) {
	clock := fakeclock.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	ticks := make(chan time.Time)
	rec := newFrameRecorder()
	var stdout, stderr bytes.Buffer
	o := &TextReporter{stdout: &stdout, stderr: &stderr, display: &displayConfig{now: clock.Now, ticks: ticks,
		opts: []mpb.ContainerOption{mpb.WithConsoleWriter(rec), mpb.WithWidth(80)}}}
	// tick redraws and returns the frame drawn.
	tick := func() string {
		t.Helper()
		n := rec.count()
		ticks <- clock.Now()
		return rec.frame(t, n)
	}

	o.Warning("s3://mirror/maas/.ssmirror/state.json is unusable (bad JSON); rebuilt")
	o.Plan(testPlan())
	squash := o.TransferStarted(tSquash)
	kernel := o.TransferStarted(tKernel)
	clock.Advance(4 * time.Second)
	squash(100 * mib)
	kernel(60 * mib) // read whole, still uploading: the bar stays
	first := tick()
	clock.Advance(4 * time.Second)
	squash(100 * mib)
	initrd := o.TransferStarted(tInitrd)
	initrd(20 * mib)
	clock.Advance(time.Second)
	o.TransferDone(tInitrd, nil, time.Second)
	mid1 := tick() // the copied line above the bars, initrd's last row
	mid2 := tick() // initrd's bar gone
	clock.Advance(time.Second)
	o.TransferDone(tKernel, errIntegrity, 9*time.Second)
	squash(200 * mib)
	clock.Advance(6 * time.Second)
	o.TransferDone(tSquash, nil, 16*time.Second)
	o.TransferAdopted(tAdopt)
	clock.Advance(30 * time.Second) // publishing: the rate and elapsed time of the transfers stay
	o.Published(mProducts, nil)
	o.Published(mIndex, nil)
	o.Deleted(dOld, nil)
	o.Deleted(dOld2, errDenied)
	// Every line reaches the screen before the display stops.
	for !strings.Contains(tick(), "could not delete") {
	}
	o.Summary(scriptSummary())
	o.Close()
	final := rec.last()

	var all strings.Builder
	for i, f := range []string{first, mid1, mid2, final} {
		fmt.Fprintf(&all, "--- frame %d (%s) ---\n%s", i+1, []string{"first", "initrd done", "next", "final"}[i], f)
	}
	golden.Check(t, "output_progress.golden", []byte(transcript(stdout.String(), stderr.String())+all.String()))

	// The content, whatever the golden says.
	for _, c := range []struct{ frame, want string }{
		{first, "0/4 objects"},
		{first, "160.0 MiB / 480.0 MiB"},
		{first, "100.0 MiB / 400.0 MiB"},
		{first, "60.0 MiB / 60.0 MiB"},
		{first, "…"}, // paths shortened to fit 80 columns
		{first, "/20240101/squashfs "},
		{first, "ETA "},
		{first, "40.0 MiB/s"},
		{mid1, "copied " + tInitrd.Path},
		{mid2, "1/4 objects"},
		{mid2, "280.0 MiB / 480.0 MiB"},
		{final, "4/4 objects, 1 failed"},
		{final, "420.0 MiB / 420.0 MiB"},
		{final, "100%"},
		{final, "elapsed 16s"},
	} {
		if !strings.Contains(c.frame, c.want) {
			t.Errorf("frame lacks %q:\n%s", c.want, c.frame)
		}
	}
	if strings.Contains(mid2, "boot-initrd") {
		t.Errorf("finished transfer still shown:\n%s", mid2)
	}
	if strings.Contains(final, "boot-kernel") || strings.Contains(final, "squashfs ") {
		t.Errorf("final frame shows transfers:\n%s", final)
	}
	for i, f := range []string{first, mid1, mid2, final} {
		for l := range strings.Lines(f) {
			if n := len([]rune(strings.TrimSuffix(l, "\n"))); n > 80 && !strings.HasPrefix(l, "copied ") && !strings.HasPrefix(l, "FAILED ") {
				t.Errorf("frame %d: line of %d columns: %q", i+1, n, l)
			}
		}
	}
	if stderr.String() != "warning: s3://mirror/maas/.ssmirror/state.json is unusable (bad JSON); rebuilt\nwarning: "+testPlan().Warnings[0]+"\n"+planLine(testPlan())+"\n" {
		t.Errorf("stderr beside the display: %q", stderr.String())
	}
}

// TestOutputProgressInterrupted stops the display with transfers still
// running: their bars go, the overall bar stays, marked stopped.
func TestOutputProgressInterrupted(t *testing.T) {
	clock := fakeclock.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	rec := newFrameRecorder()
	var stdout, stderr bytes.Buffer
	o := &TextReporter{stdout: &stdout, stderr: &stderr, display: &displayConfig{now: clock.Now, ticks: make(chan time.Time),
		opts: []mpb.ContainerOption{mpb.WithConsoleWriter(rec), mpb.WithWidth(80)}}}
	o.Plan(testPlan())
	fn := o.TransferStarted(tSquash)
	clock.Advance(2 * time.Second)
	fn(50 * mib)
	o.Close()
	o.Close()
	final := rec.last()
	if !strings.Contains(final, "0/4 objects") || !strings.Contains(final, "50.0 MiB / 480.0 MiB") || !strings.Contains(final, "stopped") || strings.Contains(final, "squashfs") {
		t.Errorf("final frame:\n%s", final)
	}
	if f := o.TransferStarted(tKernel); f != nil {
		t.Error("a transfer started after Close has a progress function")
	}
	o.TransferDone(tKernel, nil, time.Second)
	if !strings.HasSuffix(stderr.String(), "copied "+tKernel.Path+" (60.0 MiB) in 1s\n") {
		t.Errorf("line after Close: stderr %q", stderr.String())
	}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// TestOutputTTY runs the script through New's terminal
// configuration (real ticker, escapes written to the buffer).
func TestOutputTTY(t *testing.T) {
	var stdout, stderr bytes.Buffer
	script(New(ModeText, &stdout, &stderr, true))
	out := stderr.String()
	if !strings.Contains(out, "\x1b[") {
		t.Errorf("no cursor movement on a terminal:\n%q", out)
	}
	plain := ansi.ReplaceAllString(out, "")
	for _, want := range []string{"4/4 objects, 1 failed", "copied " + tSquash.Path, "FAILED " + tKernel.Path, "deleted " + dOld.Path} {
		if !strings.Contains(plain, want) {
			t.Errorf("stderr lacks %q:\n%s", want, plain)
		}
	}
	if got := stdout.String(); got != summaryLine(scriptSummary())+"\n" {
		t.Errorf("stdout %q", got)
	}
}

// TestOutputConcurrent calls the reporter from many goroutines in every
// mode (run with -race).
func TestOutputConcurrent(t *testing.T) {
	const workers, each = 8, 40
	var ts []plan.Transfer
	for i := range workers * each {
		ts = append(ts, plan.Transfer{Path: fmt.Sprintf("images/%03d/root.tar.xz", i), Size: int64(1000 + i)})
	}
	p := &plan.Plan{Source: "https://example.com/", Target: "/srv/mirror", Transfers: ts}
	for _, tc := range []struct {
		name string
		mk   func(stdout, stderr io.Writer) (Reporter, *frameRecorder)
	}{
		{"text", func(o, e io.Writer) (Reporter, *frameRecorder) { return New(ModeText, o, e, false), nil }},
		{"quiet", func(o, e io.Writer) (Reporter, *frameRecorder) { return New(ModeQuiet, o, e, false), nil }},
		{"json", func(o, e io.Writer) (Reporter, *frameRecorder) { return New(ModeJSON, o, e, false), nil }},
		{"progress", func(o, e io.Writer) (Reporter, *frameRecorder) {
			rec := newFrameRecorder()
			return &TextReporter{stdout: o, stderr: e, display: &displayConfig{now: time.Now,
				opts: []mpb.ContainerOption{mpb.WithConsoleWriter(rec), mpb.WithWidth(80)}}}, rec
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			o, rec := tc.mk(NewLockedWriter(&stdout), NewLockedWriter(&stderr))
			o.Plan(p)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						tr := ts[w*each+i]
						fn := o.TransferStarted(tr)
						for range 10 {
							if fn != nil {
								fn(tr.Size / 10)
							}
						}
						var err error
						if i%10 == 0 {
							err = errors.New("boom")
						}
						o.TransferDone(tr, err, time.Millisecond)
						o.Published(plan.Meta{Key: tr.Path + ".json"}, nil)
						o.Deleted(plan.Delete{Path: tr.Path + ".old"}, nil)
						if i%20 == 0 {
							o.Warning("careful")
						}
					}
				})
			}
			wg.Wait()
			o.Summary(Summary{Transferred: workers * each * 9 / 10, Failed: workers * each / 10})
			o.Close()

			all := stderr.String()
			if rec != nil {
				all += strings.Join(rec.frames, "")
				if !strings.Contains(rec.last(), fmt.Sprintf("%d/%d objects, %d failed", workers*each, workers*each, workers*each/10)) {
					t.Errorf("final frame:\n%s", rec.last())
				}
			}
			count := func(s string) int { return strings.Count(all, s) }
			copied, failed, published := workers*each*9/10, workers*each/10, workers*each
			switch tc.name {
			case "quiet":
				copied, published = 0, 0
			case "json":
				copied, failed, published = 0, 0, 0
				if n := strings.Count(stdout.String(), `"type":"transfer"`); n != workers*each {
					t.Errorf("%d transfer events, want %d", n, workers*each)
				}
			}
			if n := count("copied "); n != copied {
				t.Errorf("%d copied lines, want %d", n, copied)
			}
			if n := count("FAILED "); n != failed {
				t.Errorf("%d FAILED lines, want %d", n, failed)
			}
			if n := count("published "); n != published {
				t.Errorf("%d published lines, want %d", n, published)
			}
			if n := count("warning: careful"); n != workers*2 {
				t.Errorf("%d warnings, want %d", n, workers*2)
			}
		})
	}
}

func TestShortHelpers(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{0, "0s"}, {59499 * time.Millisecond, "59s"}, {61 * time.Second, "1m01s"}, {3725 * time.Second, "1h02m"}, {100 * time.Hour, "100h00m"}} {
		if got := shortDuration(c.d); got != c.want {
			t.Errorf("shortDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	for _, c := range []struct {
		p    string
		w    int
		want string
	}{
		{"a/b/c/squashfs", 10, "…/squashfs"},
		{"a/squashfs", 10, "a/squashfs"},
		{"ubuntu/noble/amd64/ga-24.04/20240101/squashfs", 32, "…/ga-24.04/20240101/squashfs"},
		{"ubuntu/noble/amd64/ga-24.04/20240101/a-very-long-file-name.tar.xz", 24, "…y-long-file-name.tar.xz"},
	} {
		if got := shortenPath(c.p, c.w); got != c.want {
			t.Errorf("shortenPath(%q, %d) = %q, want %q", c.p, c.w, got, c.want)
		}
	}
	var m rateMeter
	t0 := time.Unix(0, 0)
	m.add(t0, 0)
	if r := m.add(t0.Add(2*time.Second), 200); r != 100 {
		t.Errorf("rate %v, want 100", r)
	}
	for i := 3; i <= 30; i++ {
		m.add(t0.Add(time.Duration(i)*time.Second), int64(i)*100)
	}
	// 1000 B/s since second 19 (the window), 100 B/s before.
	if r := m.add(t0.Add(31*time.Second), 3100+10000); r < 900 || r > 1200 {
		t.Errorf("windowed rate %v, want about 1000", r)
	}
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(nil) {
		t.Error("nil is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is a terminal")
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer null.Close()
	if IsTerminal(null) {
		t.Error(os.DevNull + " is a terminal")
	}
}

// brokenConsole fails every redraw, as a terminal that went away.
type brokenConsole struct{ frameRecorder }

func (*brokenConsole) Flush(int) error { return errors.New("terminal gone") }

// TestOutputProgressBroken: when mpb gives up, lines go to stderr and
// stopping does not hang.
func TestOutputProgressBroken(t *testing.T) {
	ticks := make(chan time.Time)
	var stdout, stderr bytes.Buffer
	o := &TextReporter{stdout: NewLockedWriter(&stdout), stderr: NewLockedWriter(&stderr), display: &displayConfig{now: time.Now, ticks: ticks,
		opts: []mpb.ContainerOption{mpb.WithConsoleWriter(&brokenConsole{}), mpb.WithWidth(80)}}}
	o.Plan(testPlan())
	fn := o.TransferStarted(tSquash)
	fn(mib)
	ticks <- time.Now() // the render fails
	o.prog.p.Wait()     // mpb stopped
	o.TransferDone(tSquash, nil, time.Second)
	done := make(chan struct{})
	go func() {
		o.Summary(scriptSummary())
		o.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Summary hangs after a render error")
	}
	if !strings.Contains(stderr.String(), "copied "+tSquash.Path) {
		t.Errorf("stderr %q", stderr.String())
	}
}

// TestLogAboveProgress: log lines (a retry, a lease event) written while
// the progress bars show go above them like the output's own lines, never
// raw onto stderr through the display; after the run they go to stderr.
func TestLogAboveProgress(t *testing.T) {
	ticks := make(chan time.Time)
	rec := newFrameRecorder()
	var stdout, stderr bytes.Buffer
	o := &TextReporter{stdout: &stdout, stderr: &stderr, display: &displayConfig{now: time.Now, ticks: ticks,
		opts: []mpb.ContainerOption{mpb.WithConsoleWriter(rec), mpb.WithWidth(80)}}}
	sink := NewLockedWriter(&stderr)
	log := slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	restore := sink.Redirect(o)

	o.Plan(testPlan())
	before := stderr.String() // the plan's warning and line
	squash := o.TransferStarted(tSquash)
	squash(10 * mib)
	log.Info("retrying", "path", tSquash.Path, "attempt", 2)
	n := rec.count()
	ticks <- time.Now()
	frame := rec.frame(t, n)
	if stderr.String() != before {
		t.Errorf("a line went straight to stderr while the bars showed:\n%s", strings.TrimPrefix(stderr.String(), before))
	}
	want := "level=INFO msg=retrying path=" + tSquash.Path + " attempt=2\n"
	if !strings.Contains(frame, want) {
		t.Errorf("the log line is not above the bars; frame:\n%s", frame)
	}
	o.TransferDone(tSquash, nil, time.Second)
	o.Close()
	restore()
	log.Info("lease released")
	if !strings.HasSuffix(stderr.String(), "level=INFO msg=\"lease released\"\n") {
		t.Errorf("after the run, a log line did not go to stderr:\n%s", stderr.String())
	}
}
