package ui

import (
	"bytes"
	"github.com/ssmirror/ssmirror/internal/fakeclock"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"
)

// TestOutputBWLimit: with a bandwidth limit, the progress bar shows the
// limit in effect beside the measured rate, and the summary line the mean
// rate and the limit.
func TestOutputBWLimit(t *testing.T) {
	clock := fakeclock.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	ticks := make(chan time.Time)
	rec := newFrameRecorder()
	var stdout, stderr bytes.Buffer
	limit := int64(5 << 20)
	o := &TextReporter{stdout: &stdout, stderr: &stderr, display: &displayConfig{now: clock.Now, ticks: ticks,
		limit: func() int64 { return limit },
		opts:  []mpb.ContainerOption{mpb.WithConsoleWriter(rec), mpb.WithWidth(100)}}}
	o.Plan(testPlan())
	squash := o.TransferStarted(tSquash)
	clock.Advance(4 * time.Second)
	squash(20 * mib)
	n := rec.count()
	ticks <- clock.Now()
	if f := rec.frame(t, n); !strings.Contains(f, "5.0 MiB/s (limit 5.0 MiB/s)") {
		t.Errorf("frame lacks the rate and the limit:\n%s", f)
	}
	limit = 0 // a timetable's "off" entry
	clock.Advance(time.Second)
	n = rec.count()
	ticks <- clock.Now()
	if f := rec.frame(t, n); strings.Contains(f, "limit") {
		t.Errorf("frame shows a limit that is off:\n%s", f)
	}
	o.Close()

	line := summaryLine(Summary{Transferred: 1, TransferredBytes: 50 * mib, Duration: 10 * time.Second, BWLimit: "08:00,5M 18:00,off"})
	if !strings.Contains(line, "in 10s (5.0 MiB/s, --bwlimit 08:00,5M 18:00,off)") {
		t.Errorf("summary line %q lacks the mean rate and the limit", line)
	}
	if line := summaryLine(Summary{Transferred: 1, TransferredBytes: 50 * mib, Duration: 10 * time.Second}); strings.Contains(line, "bwlimit") {
		t.Errorf("summary line %q names a limit there was none of", line)
	}
}
