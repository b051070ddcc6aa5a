// Package monitor records what sync runs did, for the operator's
// monitoring: the status object a mirror carries (.ssmirror/status.json,
// read by `ssmirror status`) and the Prometheus text-format metrics file
// node_exporter's textfile collector reads. It does not run syncs and
// knows nothing of the command line.
package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

// StatusKey is the status object in a target: the tool's own, outside
// streams/, never part of what clients read.
const StatusKey = ".ssmirror/status.json"

// ErrNoStatus means a target holds no status object: it was never synced
// by a version of ssmirror that writes one.
var ErrNoStatus = errors.New("no status record")

// Status is what the last successful sync of a mirror recorded.
type Status struct {
	Version int `json:"version"`
	// Synced is when the run that wrote the record ended.
	Synced time.Time `json:"synced"`
	// Published is when the index was last replaced.
	Published time.Time `json:"published"`
	// Ssmirror is the version of the program that ran.
	Ssmirror string `json:"ssmirror"`
	Source   string `json:"source"`
	// SignedMetadata is the signed-metadata mode: upstream, resign or
	// none.
	SignedMetadata string `json:"signed_metadata"`
	// Objects and Bytes count the items the published metadata name
	// (each path once).
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

// CatalogSize counts the items of a catalog, each path once.
func CatalogSize(cat map[string]*catalog.Products) (objects int, bytes int64) {
	seen := map[string]bool{}
	for _, cid := range catalog.SortedKeys(cat) {
		cat[cid].Each(func(fl catalog.Flat) bool {
			if p := fl.Item.Path; p != "" && !seen[p] {
				seen[p] = true
				objects++
				bytes += fl.Item.Size
			}
			return true
		})
	}
	return objects, bytes
}

// WriteStatus stores s as the target's status object.
func WriteStatus(ctx context.Context, dst target.Store, s Status) error {
	s.Version = 1
	body, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	body = append(body, '\n')
	if _, err := dst.Put(ctx, StatusKey, bytes.NewReader(body), int64(len(body)),
		target.PutOptions{ContentType: "application/json", CacheControl: "no-cache"}); err != nil {
		return fmt.Errorf("%s/%s: %w", dst, StatusKey, err)
	}
	return nil
}

// ReadStatus reads the target's status object; ErrNoStatus when there is
// none.
func ReadStatus(ctx context.Context, dst target.Store) (Status, error) {
	rc, _, err := dst.Open(ctx, StatusKey)
	if errors.Is(err, target.ErrNotExist) {
		return Status{}, fmt.Errorf("%s: %w (%s is missing: never synced by this version of ssmirror)", dst, ErrNoStatus, StatusKey)
	}
	if err != nil {
		return Status{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return Status{}, fmt.Errorf("%s/%s: %w", dst, StatusKey, err)
	}
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		return Status{}, fmt.Errorf("%s/%s: %w", dst, StatusKey, err)
	}
	if s.Version != 1 {
		return Status{}, fmt.Errorf("%s/%s: unknown version %d", dst, StatusKey, s.Version)
	}
	return s, nil
}

// Run is what one sync run of a mirror did, for the metrics file.
type Run struct {
	// Mirror names the mirror of a config file ("" for a run from the
	// command line); Target is the TARGET.
	Mirror, Target string
	Start, End     time.Time
	ExitStatus     int
	// Transferred objects and bytes were streamed from the upstream;
	// Failed ones were not stored.
	Transferred, Failed, Deleted int
	TransferredBytes             int64
	// MirrorKnown says Objects and Bytes hold the size of the published
	// mirror (a run that failed before planning does not know it).
	MirrorKnown bool
	Objects     int
	Bytes       int64
}

// metric is one metric family of the file.
type metric struct {
	name, kind, help string
	value            func(r Run) (float64, bool) // false: carry the previous value, if any
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

var metrics = []metric{
	{"ssmirror_run_start_timestamp_seconds", "gauge", "When the last sync run started.", func(r Run) (float64, bool) { return seconds(r.Start), true }},
	{"ssmirror_run_end_timestamp_seconds", "gauge", "When the last sync run ended.", func(r Run) (float64, bool) { return seconds(r.End), true }},
	{"ssmirror_last_success_timestamp_seconds", "gauge", "When the last sync run that exited 0 ended.", func(r Run) (float64, bool) {
		return seconds(r.End), r.ExitStatus == 0
	}},
	{"ssmirror_run_duration_seconds", "gauge", "How long the last sync run took.", func(r Run) (float64, bool) { return r.End.Sub(r.Start).Seconds(), true }},
	{"ssmirror_exit_status", "gauge", "Exit status of the last sync run (see the README's Exit status).", func(r Run) (float64, bool) { return float64(r.ExitStatus), true }},
	{"ssmirror_transferred_objects", "gauge", "Objects the last sync run streamed from the upstream into the target.", func(r Run) (float64, bool) { return float64(r.Transferred), true }},
	{"ssmirror_transferred_bytes", "gauge", "Bytes the last sync run streamed from the upstream into the target.", func(r Run) (float64, bool) { return float64(r.TransferredBytes), true }},
	{"ssmirror_failed_objects", "gauge", "Objects the last sync run could not transfer.", func(r Run) (float64, bool) { return float64(r.Failed), true }},
	{"ssmirror_deleted_objects", "gauge", "Objects the last sync run deleted from the target.", func(r Run) (float64, bool) { return float64(r.Deleted), true }},
	{"ssmirror_mirror_objects", "gauge", "Items the published mirror holds.", func(r Run) (float64, bool) { return float64(r.Objects), r.MirrorKnown }},
	{"ssmirror_mirror_bytes", "gauge", "Bytes of the items the published mirror holds.", func(r Run) (float64, bool) { return float64(r.Bytes), r.MirrorKnown }},
}

// labels renders a run's label set, as it appears in the file.
func (r Run) labels() string {
	var ls []string
	if r.Mirror != "" {
		ls = append(ls, `mirror="`+escapeLabel(r.Mirror)+`"`)
	}
	ls = append(ls, `target="`+escapeLabel(r.Target)+`"`)
	return "{" + strings.Join(ls, ",") + "}"
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// WriteMetrics writes the metrics of runs to path, atomically (a
// temporary file in the same directory, synced and renamed), in the
// Prometheus text format. Values a run does not know (the last success
// of a failed run, the mirror size of a run that stopped early) are
// carried over from the file path held before, for the same labels, and
// so are the series of mirrors (label sets) runs does not name.
func WriteMetrics(path string, runs []Run) error {
	prev := readPrevious(path)
	ran := map[string]bool{}
	for _, r := range runs {
		ran[r.labels()] = true
	}
	var b bytes.Buffer
	for _, m := range metrics {
		var lines []string
		// Mirrors this run did not run keep their series.
		for series, v := range prev {
			if labels, ok := strings.CutPrefix(series, m.name); ok && strings.HasPrefix(labels, "{") && !ran[labels] {
				lines = append(lines, series+" "+strconv.FormatFloat(v, 'f', -1, 64))
			}
		}
		for _, r := range runs {
			series := m.name + r.labels()
			v, ok := m.value(r)
			if !ok {
				if v, ok = prev[series]; !ok {
					continue
				}
			}
			lines = append(lines, series+" "+strconv.FormatFloat(v, 'f', -1, 64))
		}
		if len(lines) == 0 {
			continue
		}
		sort.Strings(lines)
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s\n", m.name, m.help, m.name, m.kind, strings.Join(lines, "\n"))
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(b.Bytes()); err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("metrics file %s: %w", path, err)
	}
	return nil
}

// readPrevious reads the series of a metrics file this package wrote:
// "name{labels} value" lines. A missing or foreign file gives nothing.
func readPrevious(path string) map[string]float64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
