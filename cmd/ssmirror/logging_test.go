package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogging: -v logs why each object is transferred; --log-format json
// makes every log line a JSON object on stderr; a bad format is a usage
// error.
func TestLogging(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "m")
	out, errOut, code := run(t, "sync", "-v", "--log-format", "json", "--quiet", "--keyring", f.keyring, f.srv.Root(), dir, "arch=amd64", "--max", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	transfers := 0
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line is not JSON: %q", line)
			continue
		}
		if rec["msg"] == "transfer" && rec["reason"] == "new" && rec["level"] == "DEBUG" {
			transfers++
		}
	}
	if transfers == 0 {
		t.Errorf("no debug line per transfer with its reason:\n%s", errOut)
	}
	_, errOut, code = run(t, "sync", "--log-format", "xml", f.srv.Root(), dir)
	if code != 2 || !strings.Contains(errOut, "--log-format") {
		t.Errorf("bad --log-format: exit %d: %s", code, errOut)
	}
}
