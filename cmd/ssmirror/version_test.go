package main

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// fakeBuildInfo makes buildVersion read bi for the rest of the test.
func fakeBuildInfo(t *testing.T, bi *debug.BuildInfo) {
	t.Helper()
	saved := readBuildInfo
	t.Cleanup(func() { readBuildInfo = saved })
	readBuildInfo = func() (*debug.BuildInfo, bool) { return bi, bi != nil }
}

func TestVersion(t *testing.T) {
	fakeBuildInfo(t, &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/ssmirror/ssmirror", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-05-20T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	})
	line := "ssmirror v1.2.3 (revision 0123456789abcdef0123456789abcdef01234567 (modified), 2026-05-20T10:00:00Z; go1.26.8 " +
		runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	out, errOut, code := run(t, "version")
	if code != 0 || out != line {
		t.Errorf("version: exit %d\n got %q\nwant %q\n%s", code, out, line, errOut)
	}
	out, errOut, code = run(t, "--version")
	if code != 0 || out != line {
		t.Errorf("--version: exit %d\n got %q\nwant %q\n%s", code, out, line, errOut)
	}
	out, errOut, code = run(t, "version", "--json")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("version --json: exit %d\n%s%s", code, out, errOut)
	}
	want := map[string]any{"version": "v1.2.3", "revision": "0123456789abcdef0123456789abcdef01234567",
		"time": "2026-05-20T10:00:00Z", "modified": true, "go_version": "go1.26.8", "platform": runtime.GOOS + "/" + runtime.GOARCH}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("version --json: %s = %v, want %v", k, v[k], w)
		}
	}
	if _, _, code := run(t, "version", "extra"); code != exitUsage {
		t.Errorf("version extra: exit %d, want %d", code, exitUsage)
	}
}

// TestVersionDevel: a build from a source tree, without VCS stamps, is
// "devel"; so is a binary without build information.
func TestVersionDevel(t *testing.T) {
	fakeBuildInfo(t, &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/ssmirror/ssmirror", Version: "(devel)"}})
	if out, _, code := run(t, "version"); code != 0 || out != "ssmirror devel (go1.26.8 "+runtime.GOOS+"/"+runtime.GOARCH+")\n" {
		t.Errorf("devel: exit %d, %q", code, out)
	}
	fakeBuildInfo(t, nil)
	if out, _, code := run(t, "--version"); code != 0 || !strings.HasPrefix(out, "ssmirror devel ("+runtime.Version()+" ") {
		t.Errorf("no build info: exit %d, %q", code, out)
	}
}

// TestVersionStamped: the release a packager stamps in with -ldflags
// "-X main.version=..." wins over the module version.
func TestVersionStamped(t *testing.T) {
	fakeBuildInfo(t, &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/ssmirror/ssmirror", Version: "v1.2.3"}})
	saved := version
	t.Cleanup(func() { version = saved })
	version = "1.4.0-1"
	if out, _, code := run(t, "version"); code != 0 || out != "ssmirror 1.4.0-1 (go1.26.8 "+runtime.GOOS+"/"+runtime.GOARCH+")\n" {
		t.Errorf("stamped: exit %d, %q", code, out)
	}
}
