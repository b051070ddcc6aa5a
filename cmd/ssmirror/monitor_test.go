package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/monitor"
	"github.com/ssmirror/ssmirror/target/dirstore"
)

// requireTool returns the path of a program a test runs; without it the
// test is skipped, or fails when env is set (as CI sets it).
func requireTool(t *testing.T, name, env string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(env) != "" {
			t.Fatalf("%s is required (%s is set): %v", name, env, err)
		}
		t.Skipf("%s is not installed", name)
	}
	return path
}

// readMetrics checks a metrics file with the real Prometheus tooling and
// returns its series.
func readMetrics(t *testing.T, path string) map[string]float64 {
	t.Helper()
	promtool := requireTool(t, "promtool", "SSMIRROR_REQUIRE_PROMTOOL")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(data))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\n%s", err, out, data)
	}
	series := map[string]float64{}
	for line := range strings.SplitSeq(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series
}

// TestMetricsFile: a sync writes its metrics for node_exporter's textfile
// collector; promtool accepts the file; a failed run records its exit
// status and keeps the last success and the mirror size; a config run
// labels each mirror with its name.
func TestMetricsFile(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	metrics := filepath.Join(dir, "ssmirror.prom")
	dst := filepath.Join(t.TempDir(), "m")
	args := append([]string{"sync", "--metrics-file", metrics, "--retries", "1", "--keyring", f.keyring, f.srv.Root(), dst}, maasFilter...)
	if out, errOut, code := run(t, args...); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	want := f.expected()
	var wantBytes int64
	for p := range want {
		wantBytes += int64(len(f.tree.Files[p]))
	}
	m := readMetrics(t, metrics)
	lbl := `{target="` + dst + `"}`
	for name, v := range map[string]float64{
		"ssmirror_exit_status": 0, "ssmirror_transferred_objects": float64(len(want)), "ssmirror_transferred_bytes": float64(wantBytes),
		"ssmirror_failed_objects": 0, "ssmirror_deleted_objects": 0,
		"ssmirror_mirror_objects": float64(len(want)), "ssmirror_mirror_bytes": float64(wantBytes),
	} {
		if got, ok := m[name+lbl]; !ok || got != v {
			t.Errorf("%s%s = %v (present %v), want %v", name, lbl, got, ok, v)
		}
	}
	start, end, success := m["ssmirror_run_start_timestamp_seconds"+lbl], m["ssmirror_run_end_timestamp_seconds"+lbl], m["ssmirror_last_success_timestamp_seconds"+lbl]
	if start <= 0 || end < start || success != end || m["ssmirror_run_duration_seconds"+lbl] < 0 {
		t.Errorf("timestamps: start %v end %v success %v", start, end, success)
	}

	// The upstream fails: the run's status is recorded, the last success
	// and the mirror size are kept.
	f.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "down", http.StatusInternalServerError)
		return true
	})
	if _, _, code := run(t, args...); code != exitError {
		t.Fatalf("sync from a failing upstream: exit %d, want %d", code, exitError)
	}
	m2 := readMetrics(t, metrics)
	if m2["ssmirror_exit_status"+lbl] != exitError || m2["ssmirror_last_success_timestamp_seconds"+lbl] != success ||
		m2["ssmirror_mirror_objects"+lbl] != float64(len(want)) || m2["ssmirror_transferred_objects"+lbl] != 0 ||
		m2["ssmirror_run_start_timestamp_seconds"+lbl] < end {
		t.Errorf("after a failed run: %v", m2)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the metrics directory holds %d files, want only the metrics file (no temporary files)", len(entries))
	}
	f.srv.SetHook(nil)

	// A config run: one series per mirror, labelled with its name.
	cfgFile := filepath.Join(t.TempDir(), "ssmirror.yaml")
	cfgMetrics := filepath.Join(dir, "config.prom")
	yaml := "defaults:\n  keyrings: [" + f.keyring + "]\n  metrics_file: " + cfgMetrics + "\nmirrors:\n" +
		"  amd64:\n    source: " + f.srv.Root() + "\n    target: " + filepath.Join(t.TempDir(), "a") + "\n    filters: [arch=amd64]\n    max: 1\n" +
		"  arm64:\n    source: " + f.srv.Root() + "\n    target: " + filepath.Join(t.TempDir(), "b") + "\n    filters: [arch=arm64]\n    max: 1\n"
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, "sync", "--config", cfgFile); code != 0 {
		t.Fatalf("config sync: exit %d\n%s%s", code, out, errOut)
	}
	n := 0
	for series, v := range readMetrics(t, cfgMetrics) {
		if strings.HasPrefix(series, "ssmirror_transferred_objects{") {
			n++
			if !strings.Contains(series, `mirror="amd64"`) && !strings.Contains(series, `mirror="arm64"`) || v == 0 {
				t.Errorf("%s %v: want a mirror label and objects", series, v)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d mirrors in the metrics of the config run, want 2", n)
	}
}

// TestStatus: status shows what the last sync recorded, and exits 1 when
// it is older than --max-age or missing.
func TestStatus(t *testing.T) {
	f := newFixture(t)
	dst := filepath.Join(t.TempDir(), "m")
	if _, _, code := run(t, "status", dst); code != exitError {
		t.Errorf("status of an empty target: exit %d, want %d", code, exitError)
	}
	if out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring, f.srv.Root(), dst}, maasFilter...)...); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	want := f.expected()
	out, errOut, code := run(t, "status", "--max-age", "48h", dst)
	if code != 0 || !strings.Contains(out, "upstream:        "+f.srv.Root()) || !strings.Contains(out, "by ssmirror devel") ||
		!strings.Contains(out, "signed metadata: upstream") || !strings.Contains(out, strconv.Itoa(len(want))+" objects") {
		t.Errorf("status: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = run(t, "status", "--json", dst)
	var js struct {
		Source  string  `json:"source"`
		Objects int     `json:"objects"`
		Synced  string  `json:"synced"`
		Stale   bool    `json:"stale"`
		Age     float64 `json:"age_seconds"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || code != 0 || js.Source != f.srv.Root() || js.Objects != len(want) || js.Stale {
		t.Errorf("status --json: exit %d, %v\n%s", code, err, out)
	}

	// The last successful sync was three days ago.
	st, err := dirstore.New(dst)
	if err != nil {
		t.Fatal(err)
	}
	s, err := monitor.ReadStatus(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	s.Synced = s.Synced.Add(-72 * time.Hour)
	if err := monitor.WriteStatus(context.Background(), st, s); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, "status", "--max-age", "48h", dst); code != exitError || !strings.Contains(errOut, "more than --max-age 48h") {
		t.Errorf("stale status: exit %d, want %d\n%s%s", code, exitError, out, errOut)
	}
	if _, _, code := run(t, "status", dst); code != 0 {
		t.Errorf("stale status without --max-age: exit %d, want 0", code)
	}
	// A re-run with nothing to do is a successful sync.
	if out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring, f.srv.Root(), dst}, maasFilter...)...); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("re-run: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := run(t, "status", "--max-age", "48h", dst); code != 0 {
		t.Errorf("status after the re-run: exit %d\n%s", code, errOut)
	}
}
