package monitor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/golden"
)

// TestWriteMetrics renders the runs of two mirrors of a config file, then
// a run of one of them that failed early: it keeps its last success and
// mirror size, and the other mirror keeps its series.
func TestWriteMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ssmirror.prom")
	t0 := time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
	ok := Run{Mirror: "maas", Target: "s3://mirror/maas", Start: t0, End: t0.Add(1500 * time.Millisecond),
		Transferred: 3, TransferredBytes: 3 << 20, Deleted: 1, MirrorKnown: true, Objects: 12, Bytes: 40 << 20}
	lxd := Run{Mirror: `l"x\d`, Target: "/srv/lxd", Start: t0, End: t0.Add(time.Second), MirrorKnown: true, Objects: 2, Bytes: 100}
	if err := WriteMetrics(path, []Run{ok, lxd}); err != nil {
		t.Fatal(err)
	}
	failed := lxd
	failed.Start, failed.End, failed.ExitStatus, failed.MirrorKnown = t0.Add(time.Hour), t0.Add(time.Hour+time.Second), 1, false
	if err := WriteMetrics(path, []Run{failed}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "metrics.golden", got)
}
