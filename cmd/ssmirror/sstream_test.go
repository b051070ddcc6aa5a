package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/target/dirstore"
)

// pageBlocks returns the ```bash blocks of a Markdown page.
func pageBlocks(t *testing.T, path string) []string {
	t.Helper()
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```bash\n(.*?)```").FindAllStringSubmatch(string(page), -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// TestLocalImageMirrorPage runs the commands of the page operators follow
// to mirror MAAS images (testdata/local-image-mirror.md) verbatim, with
// sstream-mirror replaced by ssmirror sync and the page's variables
// pointing at a test upstream and a directory: the dry run, the mirror,
// and the re-run cron makes.
func TestLocalImageMirrorPage(t *testing.T) {
	blocks := pageBlocks(t, "testdata/local-image-mirror.md")
	if len(blocks) != 3 || !strings.HasPrefix(blocks[1], "KEYRING_FILE=") || !strings.Contains(blocks[2], "sudo sstream-mirror ") {
		t.Fatalf("the page's commands changed: %q", blocks)
	}
	command := strings.Replace(blocks[2], "sudo sstream-mirror ", "ssmirror sync ", 1)
	if !strings.Contains(command, "--max=1 --progress") {
		t.Fatalf("the page's mirror command changed: %q", command)
	}

	f := newFixture(t)
	// The page selects Ubuntu 14.04 and 16.04; the test catalog's
	// releases stand in for them.
	for _, d := range f.docs {
		for _, p := range d["products"].(map[string]any) {
			prod := p.(map[string]any)
			switch prod["release"] {
			case "jammy":
				prod["release"] = "xenial"
			case "noble":
				prod["release"] = "trusty"
			}
		}
	}
	f.build(t)
	want := map[string]bool{}
	for _, d := range f.docs {
		for _, p := range d["products"].(map[string]any) {
			prod := p.(map[string]any)
			if prod["arch"] != "amd64" || (prod["release"] != "xenial" && prod["release"] != "trusty") {
				continue
			}
			newest := ""
			for v := range prod["versions"].(map[string]any) {
				newest = max(newest, v)
			}
			for _, it := range prod["versions"].(map[string]any)[newest].(map[string]any)["items"].(map[string]any) {
				want[it.(map[string]any)["path"].(string)] = true
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("the test catalog has no trusty or xenial amd64 items")
	}

	imageDir := filepath.Join(t.TempDir(), "var/www/html/maas/images/ephemeral-v2/daily")
	variables := "KEYRING_FILE=" + f.keyring + "\nIMAGE_SRC=" + f.srv.Root() + "\nIMAGE_DIR=" + imageDir + "\n"
	bin := filepath.Dir(binary(t))
	sh := func(script string) (string, int) {
		t.Helper()
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}

	// "include the --dry-run option"
	out, code := sh(variables + strings.TrimRight(command, "\n") + " --dry-run\n")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	for p := range want {
		if !strings.Contains(out, p) {
			t.Errorf("the dry run does not show %s:\n%s", p, out)
		}
	}
	if _, err := os.Stat(filepath.Join(imageDir, "streams/v1/index.json")); err == nil {
		t.Error("the dry run published an index")
	}

	// "When you are satisfied, remove that option to initiate the download."
	out, code = sh(variables + command)
	if code != 0 {
		t.Fatalf("mirror: exit %d\n%s", code, out)
	}
	for p := range want {
		if !strings.Contains(out, p) {
			t.Errorf("--progress printed no line for %s:\n%s", p, out)
		}
	}
	st, err := dirstore.New(imageDir)
	if err != nil {
		t.Fatal(err)
	}
	f.checkMirror(t, st, want)

	// "The final sstream-mirror command should be invoked at regular
	// intervals (i.e. with cron)"
	before := itemRequests(f)
	out, code = sh(variables + command)
	if code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("cron re-run: exit %d\n%s", code, out)
	}
	if n := itemRequests(f) - before; n != 0 {
		t.Errorf("the re-run fetched %d items", n)
	}
}

// TestSstreamMirrorOptions checks that sync takes sstream-mirror's options
// with their meanings.
func TestSstreamMirrorOptions(t *testing.T) {
	f := newFixture(t)
	dst := filepath.Join(t.TempDir(), "m") // never written: plans only
	plan := func(t *testing.T, args ...string) (string, string, int) {
		t.Helper()
		return run(t, append([]string{"plan", "--json", f.srv.Root(), dst, "arch=amd64"}, args...)...)
	}
	t.Run("max forms", func(t *testing.T) {
		eq, _, c1 := plan(t, "--keyring", f.keyring, "--max=1")
		sp, _, c2 := plan(t, "--keyring", f.keyring, "--max", "1")
		all, _, c3 := plan(t, "--keyring", f.keyring)
		if c1 != 0 || c2 != 0 || c3 != 0 || eq != sp || eq == all {
			t.Errorf("--max=1 (exit %d) and --max 1 (exit %d) plan differently, or like no --max", c1, c2)
		}
	})
	t.Run("-U is --no-verify", func(t *testing.T) {
		u, errOut, c1 := plan(t, "-U")
		nv, _, c2 := plan(t, "--no-verify")
		if c1 != 0 || c2 != 0 || u != nv {
			t.Errorf("-U exit %d, --no-verify exit %d, plans equal: %v\n%s", c1, c2, u == nv, errOut)
		}
	})
	t.Run("path", func(t *testing.T) {
		// The unsigned start file of a signed mirror needs no keyring.
		out, errOut, code := plan(t, "--path", "streams/v1/index.json")
		if code != 0 || !strings.Contains(out, `"transfers"`) {
			t.Fatalf("--path streams/v1/index.json: exit %d\n%s%s", code, out, errOut)
		}
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--path", "../index.json"}, "path: \"../index.json\" is not a start file"},
			{[]string{"--path", "streams/v1/index.txt"}, "is not a start file"},
		} {
			if _, errOut, code := plan(t, tc.args...); code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("%v: exit %d, want %d and %q:\n%s", tc.args, code, exitUsage, tc.want, errOut)
			}
		}
		_, errOut, code = run(t, "plan", "--path", "streams/v1/index.json", f.srv.Root()+"streams/v1/index.sjson", t.TempDir())
		if code != exitUsage || !strings.Contains(errOut, "already names its start file") {
			t.Errorf("--path with a start file in SOURCE: exit %d\n%s", code, errOut)
		}
	})
	t.Run("progress contradicts quiet", func(t *testing.T) {
		if _, errOut, code := run(t, "sync", "--progress", "-q", f.srv.Root(), t.TempDir()); code != exitUsage {
			t.Errorf("--progress -q: exit %d\n%s", code, errOut)
		}
	})
	t.Run("no-checksumming-reader", func(t *testing.T) {
		// Accepted; items are verified all the same (the fault tests).
		if out, errOut, code := plan(t, "-U", "--no-checksumming-reader"); code != 0 || !strings.Contains(errOut, "verified as they stream all the same") {
			t.Errorf("exit %d, want 0 and a note\n%s%s", code, out, errOut)
		}
	})
	t.Run("log-file and -vv", func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "sync.log")
		dst := filepath.Join(t.TempDir(), "m")
		_, errOut, code := run(t, "sync", "-vv", "--log-file", logFile, "--keyring", f.keyring, f.srv.Root(), dst, "arch=amd64", "--max", "1")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		logged, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(logged), "lease acquired") || strings.Contains(errOut, "lease acquired") {
			t.Errorf("debug log lines not in the log file only:\nfile:\n%s\nstderr:\n%s", logged, errOut)
		}
	})
	t.Run("no-item-download", func(t *testing.T) {
		f := newFixture(t)
		dir := filepath.Join(t.TempDir(), "m")
		args := []string{"sync", "--keyring", f.keyring, f.srv.Root(), dir, "arch=amd64", "--max", "1"}
		if out, errOut, code := run(t, args...); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		st, err := dirstore.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		before := readKey(t, st, "streams/v1/com.ubuntu.maas:stable:v3:download.json")
		const prod = "com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04"
		if err := upstream.AddVersion(f.docs[0], prod, newestVersion(t, f.docs[0], prod), "20991231"); err != nil {
			t.Fatal(err)
		}
		f.build(t)
		items := itemRequests(f)
		out, errOut, code := run(t, append(args, "--no-item-download")...)
		if code != 0 {
			t.Fatalf("--no-item-download: exit %d\n%s%s", code, out, errOut)
		}
		if n := itemRequests(f) - items; n != 0 {
			t.Errorf("--no-item-download fetched %d items", n)
		}
		if after := readKey(t, st, "streams/v1/com.ubuntu.maas:stable:v3:download.json"); strings.Contains(string(after), "20991231") || string(after) != string(before) {
			t.Errorf("--no-item-download published a version the target does not hold:\n%s", after)
		}
	})
}
