package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/source"
)

// Mode says how sync talks to the operator.
type Mode int

// Output modes.
const (
	// ModeText writes one line per finished object to stderr (with
	// progress bars instead when stderr is a terminal) and the summary
	// line to stdout.
	ModeText Mode = iota
	// ModeJSON writes line-delimited JSON events to stdout; only
	// warnings go to stderr.
	ModeJSON
	// ModeQuiet writes warnings, failures and the summary line only.
	ModeQuiet
)

// Summary is what a sync run did, for the last line (or event) of its
// output.
type Summary struct {
	Source, Target   string
	Transferred      int
	TransferredBytes int64
	Adopted          int
	Failed           int
	Published        int
	Deleted          int
	IndexPublished   bool
	Duration         time.Duration
	ExitStatus       int
	Err              error
	Degraded         []string // what the store lacks and ssmirror does instead, in short
	// BWLimit is the bandwidth limit the run had (--bwlimit), "" for none.
	BWLimit string
	// The requests sent to the upstream (each try counts) and the body
	// bytes read from it, metadata and items.
	UpstreamRequests, UpstreamBytes int64
	// Sources are the item bytes each source gave, and its measured
	// rate, with --mirror.
	Sources []source.SourceBytes
}

// upstreamString is the summary's account of the upstream traffic.
func (s Summary) upstreamString() string {
	line := fmt.Sprintf("upstream: %d requests, %s", s.UpstreamRequests, plan.Bytes(s.UpstreamBytes))
	if len(s.Sources) > 0 {
		parts := make([]string, len(s.Sources))
		for i, sb := range s.Sources {
			parts[i] = fmt.Sprintf("%s from %s", plan.Bytes(sb.Bytes), sb.Source)
			if sb.Rate > 0 {
				parts[i] += fmt.Sprintf(" at %s/s", plan.Bytes(int64(sb.Rate)))
			}
		}
		line += " (items: " + strings.Join(parts, ", ") + ")"
	}
	return line
}

// rate is the mean rate of the transfers, in bytes a second (0 when
// nothing was transferred).
func (s Summary) rate() float64 {
	if s.Duration <= 0 || s.TransferredBytes <= 0 {
		return 0
	}
	return float64(s.TransferredBytes) / s.Duration.Seconds()
}

// Reporter reports a sync run. Its apply.Reporter methods may be called
// from several goroutines at once; the others are called by the command.
type Reporter interface {
	apply.Reporter
	// Plan is called once, before the run starts: it announces the work
	// (text: one line on stderr; JSON: the plan event) and starts the
	// progress display.
	Plan(p *plan.Plan)
	// Warning reports something the operator should know about.
	Warning(msg string)
	// Summary reports the outcome (text: one line on stdout; JSON: the
	// summary event, after an error event if s.Err is set). It stops the
	// progress display first. Only the first call counts.
	Summary(s Summary)
	// Close stops the progress display. It must be called; calling it
	// again does nothing.
	Close()
}

// New returns the output for mode. tty says stderr is a terminal:
// text mode then shows progress bars on stderr instead of a line per
// object.
func New(mode Mode, stdout, stderr io.Writer, tty bool) Reporter {
	switch mode {
	case ModeJSON:
		return newJSONReporter(stdout, stderr)
	case ModeQuiet:
		return &TextReporter{stdout: stdout, stderr: stderr, quiet: true}
	}
	o := &TextReporter{stdout: stdout, stderr: stderr}
	if tty {
		o.display = &displayConfig{now: time.Now, opts: []mpb.ContainerOption{mpb.WithOutput(stderr), mpb.ForceTTY()}}
	}
	return o
}

// IsTerminal reports whether w (under a LockedWriter, the writer it
// wraps) is a terminal that can show progress bars: a file that is a
// character device other than the null device, with TERM not "dumb".
func IsTerminal(w io.Writer) bool {
	if l, ok := w.(*LockedWriter); ok {
		w = l.Underlying()
	}
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return os.Getenv("TERM") != "dumb"
}

// The log lines of text mode.

func transferLine(t plan.Transfer, err error, d time.Duration) string {
	if err != nil {
		return fmt.Sprintf("FAILED %s: %v", t.Path, err)
	}
	// One line for every object: concatenated, without fmt's reflection.
	return "copied " + t.Path + " (" + plan.Bytes(t.Size) + ") in " + d.Round(time.Millisecond).String()
}

func publishLine(m plan.Meta, err error) string {
	if err != nil {
		return fmt.Sprintf("FAILED to publish %s: %v", m.Key, err)
	}
	return fmt.Sprintf("published %s (%s)", m.Key, plan.Bytes(m.Size))
}

func deleteLine(d plan.Delete, err error) string {
	if err != nil {
		return fmt.Sprintf("could not delete %s (left for a later run): %v", d.Path, err)
	}
	return fmt.Sprintf("deleted %s (%s)", d.Path, d.Reason)
}

func planLine(p *plan.Plan) string {
	t := p.Totals()
	return fmt.Sprintf("sync %s -> %s: %d objects (%s) to transfer, %d to delete, %d metadata files",
		p.Source, p.Target, t.TransferObjects, plan.Bytes(t.TransferBytes), t.DeleteObjects, t.Metadata)
}

func summaryLine(s Summary) string {
	adopted := ""
	if s.Adopted > 0 {
		adopted = fmt.Sprintf(", %d already stored", s.Adopted)
	}
	index := "not updated"
	if s.IndexPublished {
		index = "updated"
	}
	degraded := ""
	if len(s.Degraded) > 0 {
		degraded = "; store degraded: " + strings.Join(s.Degraded, ", ")
	}
	limited := ""
	if s.BWLimit != "" {
		limited = fmt.Sprintf(" (%s, --bwlimit %s)", rateString(s.rate()), s.BWLimit)
	}
	return fmt.Sprintf("transferred %d objects (%s) in %s%s%s, %d failed; published %d metadata files (index %s); deleted %d objects; %s%s",
		s.Transferred, plan.Bytes(s.TransferredBytes), s.Duration.Round(time.Millisecond), limited, adopted, s.Failed,
		s.Published, index, s.Deleted, s.upstreamString(), degraded)
}

// TextReporter writes for a person: log lines (or progress bars) on stderr,
// the summary on stdout.
type TextReporter struct {
	stdout, stderr io.Writer
	quiet          bool
	display        *displayConfig // progress bars on stderr; nil without a terminal

	// mu serialises writes and guards the fields below. It is held while
	// a line is handed to the progress display, and while the display
	// stops, so that nothing is written to stderr beside a live display.
	mu         sync.Mutex
	prog       *progressDisplay // running display, if any
	planned    bool
	emptyPlan  bool
	summarized bool
}

// log writes a line to stderr, above the progress bars if they run.
// Quiet mode drops lines unless important.
func (o *TextReporter) log(line string, important bool) {
	if o.quiet && !important {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.prog != nil && o.prog.println(line) {
		return
	}
	fmt.Fprintln(o.stderr, line)
}

// Write takes log lines (one slog record a call) and writes each with
// log, so that they go above the progress bars while those show; quiet
// mode keeps them.
func (o *TextReporter) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimSuffix(string(p), "\n"), "\n") {
		o.log(line, true)
	}
	return len(p), nil
}

func (o *TextReporter) running() *progressDisplay {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.prog
}

func (o *TextReporter) Plan(p *plan.Plan) {
	for _, w := range p.Warnings {
		o.Warning(w)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.planned {
		return
	}
	o.planned, o.emptyPlan = true, p.Empty()
	if o.quiet || o.emptyPlan {
		return
	}
	fmt.Fprintln(o.stderr, planLine(p))
	if t := p.Totals(); o.display != nil && t.TransferObjects > 0 {
		o.prog = o.display.start(t)
	}
}

func (o *TextReporter) Warning(msg string) { o.log("warning: "+msg, true) }

func (o *TextReporter) TransferStarted(t plan.Transfer) func(int64) {
	if d := o.running(); d != nil {
		return d.started(t)
	}
	return nil
}

func (o *TextReporter) TransferDone(t plan.Transfer, err error, d time.Duration) {
	if p := o.running(); p != nil {
		p.done(t, err)
	}
	o.log(transferLine(t, err, d), err != nil)
}

// TransferAdopted reports an object an earlier run stored whole, kept
// instead of transferred.
func (o *TextReporter) TransferAdopted(t plan.Transfer) {
	if p := o.running(); p != nil {
		p.adopted(t)
	}
	o.log(fmt.Sprintf("kept %s (%s): already stored by an earlier run", t.Path, plan.Bytes(t.Size)), false)
}

func (o *TextReporter) Published(m plan.Meta, err error) { o.log(publishLine(m, err), err != nil) }

func (o *TextReporter) Deleted(d plan.Delete, err error) { o.log(deleteLine(d, err), err != nil) }

func (o *TextReporter) Summary(s Summary) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.summarized {
		return
	}
	o.summarized = true
	if o.prog != nil {
		o.prog.stop(s.Adopted)
		o.prog = nil
	}
	switch {
	case !o.planned:
		// The run did not start; the command prints the error.
	case o.emptyPlan && s.Err == nil:
		degraded := ""
		if len(s.Degraded) > 0 {
			degraded = "; store degraded: " + strings.Join(s.Degraded, ", ")
		}
		fmt.Fprintf(o.stdout, "%s is up to date with %s: nothing to do (%s%s)\n", s.Target, s.Source, s.upstreamString(), degraded)
	default:
		fmt.Fprintln(o.stdout, summaryLine(s))
	}
}

// ShowLimit makes the progress bars show the bandwidth limit rate gives
// (bytes a second, 0: none); without progress bars it does nothing.
func (o *TextReporter) ShowLimit(rate func() int64) {
	if o.display != nil {
		o.display.limit = rate
	}
}

func (o *TextReporter) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.prog != nil {
		o.prog.stop(-1)
		o.prog = nil
	}
}

// The JSON events, one per line on stdout; Type names each.

// PlanEvent announces the work, first.
type PlanEvent struct {
	Type     string      `json:"type"` // plan
	Source   string      `json:"source"`
	Target   string      `json:"target"`
	Totals   plan.Totals `json:"totals"`
	Warnings []string    `json:"warnings"`
}

// TransferEvent reports one item transferred, failed or kept.
type TransferEvent struct {
	Type       string `json:"type"` // transfer
	Path       string `json:"path"`
	Size       int64  `json:"size"`
	DurationMS int64  `json:"duration_ms"`
	OK         bool   `json:"ok"`
	Adopted    bool   `json:"adopted,omitempty"` // kept: an earlier run stored it whole
	Error      string `json:"error,omitempty"`
}

// DeleteEvent reports one object deleted or not.
type DeleteEvent struct {
	Type   string `json:"type"` // delete
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// PublishEvent reports one metadata file published or not.
type PublishEvent struct {
	Type  string `json:"type"` // publish
	Key   string `json:"key"`
	Size  int64  `json:"size"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// MessageEvent is an error or a warning.
type MessageEvent struct {
	Type    string `json:"type"` // error or warning
	Message string `json:"message"`
}

// SummaryEvent is the last event of a run: what it did.
type SummaryEvent struct {
	Type             string `json:"type"` // summary
	Source           string `json:"source"`
	Target           string `json:"target"`
	Transferred      int    `json:"transferred"`
	TransferredBytes int64  `json:"transferred_bytes"`
	Adopted          int    `json:"adopted"`
	Failed           int    `json:"failed"`
	Published        int    `json:"published"`
	Deleted          int    `json:"deleted"`
	DurationMS       int64  `json:"duration_ms"`
	BytesPerSecond   int64  `json:"bytes_per_second"` // the mean rate of the transfers
	BWLimit          string `json:"bwlimit,omitempty"`
	UpstreamRequests int64  `json:"upstream_requests"`
	UpstreamBytes    int64  `json:"upstream_bytes"`
	// BytesBySource: with --mirror, the item bytes each source gave.
	BytesBySource  []source.SourceBytes `json:"bytes_by_source,omitempty"`
	ExitStatus     int                  `json:"exit_status"`
	IndexPublished bool                 `json:"index_published"`
	Error          string               `json:"error,omitempty"`
	// Degraded names what the store lacks and ssmirror does instead
	// ("advisory lease", "Content-MD5 uploads", "sequential listing").
	Degraded []string `json:"degraded,omitempty"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// JSONReporter writes line-delimited JSON events to stdout and warnings to
// stderr.
type JSONReporter struct {
	mu         sync.Mutex
	enc        *json.Encoder
	stderr     io.Writer
	summarized bool
}

func newJSONReporter(stdout, stderr io.Writer) *JSONReporter {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	return &JSONReporter{enc: enc, stderr: stderr}
}

func (o *JSONReporter) emit(ev any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.emitLocked(ev)
}

func (o *JSONReporter) emitLocked(ev any) {
	if err := o.enc.Encode(ev); err != nil {
		fmt.Fprintf(o.stderr, "warning: writing a JSON event: %v\n", err)
	}
}

func (o *JSONReporter) Plan(p *plan.Plan) {
	ws := p.Warnings
	if ws == nil {
		ws = []string{}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, w := range ws {
		fmt.Fprintf(o.stderr, "warning: %s\n", w)
	}
	o.emitLocked(PlanEvent{Type: "plan", Source: p.Source, Target: p.Target, Totals: p.Totals(), Warnings: ws})
}

func (o *JSONReporter) Warning(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.stderr, "warning: %s\n", msg)
	o.emitLocked(MessageEvent{Type: "warning", Message: msg})
}

func (o *JSONReporter) TransferStarted(plan.Transfer) func(int64) { return nil }

func (o *JSONReporter) TransferDone(t plan.Transfer, err error, d time.Duration) {
	o.emit(TransferEvent{Type: "transfer", Path: t.Path, Size: t.Size, DurationMS: d.Milliseconds(), OK: err == nil, Error: errString(err)})
}

func (o *JSONReporter) TransferAdopted(t plan.Transfer) {
	o.emit(TransferEvent{Type: "transfer", Path: t.Path, Size: t.Size, OK: true, Adopted: true})
}

func (o *JSONReporter) Published(m plan.Meta, err error) {
	o.emit(PublishEvent{Type: "publish", Key: m.Key, Size: m.Size, OK: err == nil, Error: errString(err)})
}

func (o *JSONReporter) Deleted(d plan.Delete, err error) {
	o.emit(DeleteEvent{Type: "delete", Path: d.Path, Size: d.Size, Reason: d.Reason, OK: err == nil, Error: errString(err)})
}

func (o *JSONReporter) Summary(s Summary) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.summarized {
		return
	}
	o.summarized = true
	if s.Err != nil {
		o.emitLocked(MessageEvent{Type: "error", Message: s.Err.Error()})
	}
	o.emitLocked(SummaryEvent{Type: "summary", Source: s.Source, Target: s.Target,
		Transferred: s.Transferred, TransferredBytes: s.TransferredBytes, Adopted: s.Adopted, Failed: s.Failed,
		Published: s.Published, Deleted: s.Deleted, DurationMS: s.Duration.Milliseconds(),
		BytesPerSecond: int64(s.rate()), BWLimit: s.BWLimit,
		UpstreamRequests: s.UpstreamRequests, UpstreamBytes: s.UpstreamBytes, BytesBySource: s.Sources,
		ExitStatus: s.ExitStatus, IndexPublished: s.IndexPublished, Error: errString(s.Err), Degraded: s.Degraded})
}

func (o *JSONReporter) Close() {}

// Progress bars.

// displayConfig makes progress displays; tests replace the clock, the
// ticks and mpb's output.
type displayConfig struct {
	now   func() time.Time
	limit func() int64     // the bandwidth limit in effect (bytes/s, 0: none); nil: none
	ticks <-chan time.Time // refresh requests; nil: every refreshInterval
	opts  []mpb.ContainerOption
}

const (
	refreshInterval = 150 * time.Millisecond
	rateWindow      = 10 * time.Second // the rate shown is the mean over about this long
)

// progressDisplay draws an overall bar (objects, bytes, rate, ETA) under
// one bar per active transfer (path, bytes, percentage).
//
// Bytes are counted with atomics as they stream; a ticker copies the
// counts into the bars and asks mpb to redraw, so mpb's goroutines are
// not involved in every read. Locks: life orders starting bars against
// stopping; mu guards the counts and labels (decorators take it while mpb
// renders, so it is never held while calling into mpb); syncMu
// serialises copying counts into the bars.
type progressDisplay struct {
	p        *mpb.Progress
	overall  *mpb.Bar
	now      func() time.Time
	limit    func() int64
	refresh  chan any
	shutdown chan any // closed when mpb has stopped
	stopTick chan struct{}
	tickDone sync.WaitGroup
	syncMu   sync.Mutex

	life   sync.RWMutex
	closed bool

	mu           sync.Mutex
	objects      int // planned transfers
	active       map[string]*transferBar
	seq          int
	processed    int // done, failed or adopted
	failed       int
	adoptedN     int
	totalBytes   int64 // planned bytes less those of failed or adopted objects
	doneBytes    int64 // bytes of objects transferred whole
	streamedDone int64 // bytes read by finished transfers, for the rate
	start        time.Time
	end          time.Time // when the last transfer ended
	rate         rateMeter
	rateLabel    string
	etaLabel     string
}

type transferBar struct {
	size int64
	bar  *mpb.Bar
	n    atomic.Int64 // bytes read so far
}

func (c *displayConfig) start(t plan.Totals) *progressDisplay {
	d := &progressDisplay{
		now:        c.now,
		limit:      c.limit,
		refresh:    make(chan any),
		shutdown:   make(chan any),
		stopTick:   make(chan struct{}),
		objects:    t.TransferObjects,
		active:     map[string]*transferBar{},
		totalBytes: t.TransferBytes,
		start:      c.now(),
		etaLabel:   "ETA -",
	}
	d.rate.add(d.start, 0)
	opts := append(append([]mpb.ContainerOption{}, c.opts...), mpb.WithManualRefresh(d.refresh), mpb.WithShutdownNotifier(d.shutdown))
	d.p = mpb.New(opts...)
	d.overall = d.p.New(0, mpb.BarStyle(), mpb.BarPriority(math.MaxInt32),
		mpb.PrependDecorators(
			decor.Any(d.objectsDecor),
			decor.Any(bytesDecor, decor.WC{C: decor.DextraSpace}),
		),
		mpb.AppendDecorators(
			decor.Any(percentDecor, decor.WC{W: 4}),
			decor.Any(d.rateDecor, decor.WC{C: decor.DextraSpace}),
			decor.Any(d.etaDecor, decor.WC{C: decor.DextraSpace}),
		))
	d.overall.SetTotal(t.TransferBytes, false)

	ticks := c.ticks
	var ticker *time.Ticker
	if ticks == nil {
		ticker = time.NewTicker(refreshInterval)
		ticks = ticker.C
	}
	d.tickDone.Go(func() {
		if ticker != nil {
			defer ticker.Stop()
		}
		for {
			select {
			case <-ticks:
				d.sync()
				select {
				case d.refresh <- struct{}{}:
				case <-d.shutdown:
				case <-d.stopTick:
					return
				}
			case <-d.stopTick:
				return
			}
		}
	})
	return d
}

// println writes a line above the bars; false if the display has ended.
func (d *progressDisplay) println(line string) bool {
	_, err := d.p.Write([]byte(line + "\n"))
	return err == nil
}

// started adds a bar for t; the returned function counts its bytes.
func (d *progressDisplay) started(t plan.Transfer) func(int64) {
	d.life.RLock()
	defer d.life.RUnlock()
	if d.closed {
		return nil
	}
	d.mu.Lock()
	d.seq++
	prio := d.seq
	d.mu.Unlock()
	path := t.Path
	// Total 0 and SetTotal: the bar never completes by itself (the
	// last bytes read are not the end of the upload); done removes it.
	b, err := d.p.Add(0, mpb.BarStyle().Build(), mpb.BarPriority(prio),
		mpb.PrependDecorators(
			decor.Any(func(s decor.Statistics) string { return "  " + shortenPath(path, pathWidth(s.AvailableWidth)) }, decor.WC{C: decor.DSyncWidthR}),
			decor.Any(bytesDecor, decor.WC{C: decor.DSyncWidth | decor.DextraSpace}),
		),
		mpb.AppendDecorators(decor.Any(percentDecor, decor.WC{W: 4})))
	if err != nil {
		return nil
	}
	b.SetTotal(t.Size, false)
	tb := &transferBar{size: t.Size, bar: b}
	d.mu.Lock()
	d.active[t.Path] = tb
	d.mu.Unlock()
	return func(n int64) { tb.n.Add(n) }
}

// done removes t's bar and counts it.
func (d *progressDisplay) done(t plan.Transfer, err error) {
	d.mu.Lock()
	tb := d.active[t.Path]
	delete(d.active, t.Path)
	d.processed++
	if err != nil {
		d.failed++
		d.totalBytes -= t.Size
	} else {
		d.doneBytes += t.Size
	}
	if tb != nil {
		d.streamedDone += tb.n.Load()
	}
	d.mu.Unlock()
	if tb != nil {
		// The bar shows its last state once more, then goes.
		tb.bar.SetCurrent(min(tb.n.Load(), tb.size))
		tb.bar.Abort(true)
	}
	d.sync()
}

// adopted counts an object kept instead of transferred.
func (d *progressDisplay) adopted(t plan.Transfer) {
	d.mu.Lock()
	d.processed++
	d.adoptedN++
	d.totalBytes -= t.Size
	d.mu.Unlock()
	d.sync()
}

// sync copies the byte counts into the bars and updates the rate and ETA.
func (d *progressDisplay) sync() {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	now := d.now()
	type update struct {
		bar *mpb.Bar
		n   int64
	}
	d.mu.Lock()
	cur, streamed := d.doneBytes, d.streamedDone
	ups := make([]update, 0, len(d.active))
	for _, tb := range d.active {
		n := tb.n.Load()
		streamed += n
		n = min(n, tb.size)
		cur += n
		ups = append(ups, update{tb.bar, n})
	}
	total := d.totalBytes
	if d.processed >= d.objects {
		if d.end.IsZero() {
			// All done: the mean over the transfers, kept while the
			// metadata is published.
			d.end = now
			if el := now.Sub(d.start); el > 0 {
				d.rateLabel = rateString(float64(streamed) / el.Seconds())
			}
			d.etaLabel = "elapsed " + shortDuration(now.Sub(d.start))
		}
	} else {
		r := d.rate.add(now, streamed)
		d.rateLabel = rateString(r)
		d.etaLabel = "ETA -"
		if r > 0 {
			d.etaLabel = "ETA " + shortDuration(time.Duration(float64(max(total-cur, 0))/r*float64(time.Second)))
		}
	}
	finished := d.processed >= d.objects
	d.mu.Unlock()
	for _, u := range ups {
		u.bar.SetCurrent(u.n)
	}
	if finished {
		d.overall.SetTotal(total, true)
		return
	}
	d.overall.SetTotal(total, false)
	d.overall.SetCurrent(cur)
}

// stop ends the display, leaving the overall bar's last state on the
// screen. adopted is the count of objects the run kept instead of
// transferring (from its result; -1 if unknown), for those apply did not
// report one by one.
func (d *progressDisplay) stop(adopted int) {
	d.life.Lock()
	if d.closed {
		d.life.Unlock()
		return
	}
	d.closed = true
	d.life.Unlock()

	d.mu.Lock()
	if adopted > d.adoptedN {
		// Their bytes are unknown: count the objects, and end the bar
		// at the bytes transferred.
		d.processed += adopted - d.adoptedN
		d.adoptedN = adopted
		if d.processed >= d.objects {
			d.totalBytes = d.doneBytes
		}
	}
	finished := d.processed >= d.objects
	d.mu.Unlock()
	d.sync()
	d.mu.Lock()
	if !finished {
		d.etaLabel = "stopped"
	}
	active := d.active
	d.active = map[string]*transferBar{}
	d.mu.Unlock()
	for _, tb := range active {
		tb.bar.Abort(true)
	}
	if !finished {
		d.overall.Abort(false)
	}
	// A last redraw with the final counts (the ticker may redraw too;
	// mpb serves both before it shuts down).
	select {
	case d.refresh <- struct{}{}:
	case <-d.shutdown: // mpb gave up (a render error)
	}
	d.p.Wait()
	close(d.stopTick)
	d.tickDone.Wait()
}

// Decorators.

func (d *progressDisplay) objectsDecor(decor.Statistics) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := fmt.Sprintf("%d/%d objects", d.processed, d.objects)
	if d.failed > 0 {
		s += fmt.Sprintf(", %d failed", d.failed)
	}
	return s
}

func (d *progressDisplay) rateDecor(decor.Statistics) string {
	d.mu.Lock()
	label := d.rateLabel
	d.mu.Unlock()
	if d.limit != nil {
		if l := d.limit(); l > 0 {
			label += " (limit " + rateString(float64(l)) + ")"
		}
	}
	return label
}

func (d *progressDisplay) etaDecor(decor.Statistics) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.etaLabel
}

func bytesDecor(s decor.Statistics) string {
	return plan.Bytes(s.Current) + " / " + plan.Bytes(s.Total)
}

func percentDecor(s decor.Statistics) string {
	pct := int64(0)
	switch {
	case s.Total > 0:
		pct = min(s.Current*100/s.Total, 100)
	case s.Completed:
		pct = 100
	}
	return fmt.Sprintf("%d%%", pct)
}

// pathWidth is the room for a path on a line width columns wide.
func pathWidth(width int) int { return max(12, width*2/5) }

// shortenPath keeps the end of p (the file name and the directories
// nearest it) within w columns, cut at a slash if that keeps at least
// half of them.
func shortenPath(p string, w int) string {
	if utf8.RuneCountInString(p) <= w {
		return p
	}
	r := []rune(p)
	tail := string(r[len(r)-(w-1):])
	if i := strings.IndexByte(tail, '/'); i > 0 && utf8.RuneCountInString(tail[i:]) >= w/2 {
		tail = tail[i:]
	}
	return "…" + tail
}

func rateString(bytesPerSecond float64) string {
	if bytesPerSecond <= 0 || math.IsInf(bytesPerSecond, 0) || math.IsNaN(bytesPerSecond) {
		return "- B/s"
	}
	return plan.Bytes(int64(bytesPerSecond)) + "/s"
}

// shortDuration formats d as 42s, 5m03s or 2h05m.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// rateMeter is the mean rate over the last rateWindow of samples.
type rateMeter struct {
	samples []rateSample
}

type rateSample struct {
	t time.Time
	n int64
}

// add records that n bytes were read by t and returns the rate in bytes
// per second.
func (m *rateMeter) add(t time.Time, n int64) float64 {
	m.samples = append(m.samples, rateSample{t, n})
	for len(m.samples) > 2 && t.Sub(m.samples[1].t) >= rateWindow {
		m.samples = m.samples[1:]
	}
	first := m.samples[0]
	dt := t.Sub(first.t).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(n-first.n) / dt
}
