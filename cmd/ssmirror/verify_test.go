package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/target"
)

// putKey stores body at key in st.
func putKey(t *testing.T, st target.Store, key string, body []byte) {
	t.Helper()
	if _, err := st.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)), target.PutOptions{}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// syncedMirror publishes the MAAS selection of a fresh fixture into the
// target, with the upstream signed metadata, and returns the verify
// command line for it (without flags of verify itself).
func syncedMirror(t *testing.T, tc targetCase) (f *fixture, st target.Store, verify func(extra ...string) []string) {
	t.Helper()
	f = newFixture(t)
	dst, flags, st := tc.open(t)
	args := append(append([]string{"sync", "--keyring", f.keyring}, flags...), f.srv.Root(), dst)
	if out, errOut, code := run(t, append(args, maasFilter...)...); code != 0 {
		t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
	}
	return f, st, func(extra ...string) []string {
		return append(append(append([]string{"verify"}, flags...), extra...), dst)
	}
}

// verifyLines parses verify --json output: the findings, and the summary
// (the last line).
func verifyLines(t *testing.T, out string) ([]mirror.Finding, mirror.AuditSummary) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var fs []mirror.Finding
	for _, l := range lines[:len(lines)-1] {
		var f mirror.Finding
		if err := json.Unmarshal([]byte(l), &f); err != nil || f.Type == "" || f.Type == "summary" {
			t.Fatalf("finding line %q: %v", l, err)
		}
		fs = append(fs, f)
	}
	var sum mirror.AuditSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Type != "summary" {
		t.Fatalf("summary line %q: %v", lines[len(lines)-1], err)
	}
	return fs, sum
}

// TestVerify audits a mirror in a directory and in the real S3 server: a
// sound mirror, then one damage at a time, each repaired before the next.
func TestVerify(t *testing.T) {
	for _, tc := range targets() {
		t.Run(tc.name, func(t *testing.T) {
			f, st, verify := syncedMirror(t, tc)
			want := f.expected()
			paths := make([]string, 0, len(want))
			for p := range want {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			check := func(name string, wantCode int, args []string, wantOut ...string) string {
				t.Helper()
				out, errOut, code := run(t, args...)
				if code != wantCode {
					t.Fatalf("%s: exit %d, want %d\n%s%s", name, code, wantCode, out, errOut)
				}
				for _, w := range wantOut {
					if !strings.Contains(out, w) {
						t.Errorf("%s: output lacks %q:\n%s", name, w, out)
					}
				}
				return out
			}

			// Sound: sizes, checksums and signatures all check.
			out := check("sound", 0, verify("--keyring", f.keyring, "--checksums"),
				"OK ", fmt.Sprintf("%d referenced objects", len(want)), "checksums good", "signatures good (4 files)", "0 unreferenced objects")
			if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 {
				t.Errorf("sound mirror: want only the summary line, got:\n%s", out)
			}
			out = check("sound --json", 0, verify("--keyring", f.keyring, "--json"))
			if fs, sum := verifyLines(t, out); len(fs) != 0 || !sum.OK || sum.Referenced != len(want) || sum.Signatures != mirror.SigsGood || sum.ChecksumsChecked {
				t.Errorf("sound mirror --json: findings %+v, summary %+v", fs, sum)
			}

			// A missing item.
			gone := paths[0]
			if err := st.Delete(context.Background(), gone); err != nil {
				t.Fatal(err)
			}
			check("missing", exitIntegrity, verify("--keyring", f.keyring), "missing "+gone+"\n", "FAILED ", "1 missing")
			out = check("missing --json", exitIntegrity, verify("--json"))
			if fs, sum := verifyLines(t, out); sum.OK || sum.Missing != 1 || !hasFinding(fs, mirror.FindMissing, gone) {
				t.Errorf("missing --json: findings %+v, summary %+v", fs, sum)
			}
			putKey(t, st, gone, f.tree.Files[gone])

			// Same size, wrong bytes: only --checksums sees it.
			bad := paths[len(paths)-1]
			body := bytes.Clone(f.tree.Files[bad])
			body[len(body)/2] ^= 0xff
			putKey(t, st, bad, body)
			check("wrong bytes, sizes only", 0, verify("--keyring", f.keyring), "OK ", "checksums not checked")
			check("wrong bytes, --checksums", exitIntegrity, verify("--keyring", f.keyring, "--checksums"),
				"checksum "+bad+": ", "1 bad checksum")
			putKey(t, st, bad, f.tree.Files[bad])

			// Wrong size.
			long := paths[1]
			putKey(t, st, long, append(bytes.Clone(f.tree.Files[long]), 'x'))
			check("wrong size", exitIntegrity, verify(),
				fmt.Sprintf("size %s: have %d, catalog says %d\n", long, len(f.tree.Files[long])+1, len(f.tree.Files[long])))
			putKey(t, st, long, f.tree.Files[long])

			// Stray objects are warnings; the tool's own files and
			// metadata are not reported.
			putKey(t, st, "stray/file.bin", []byte("stray"))
			putKey(t, st, ".ssmirror/notes", []byte("x"))
			putKey(t, st, "streams/v1/old.json", []byte("{}"))
			out = check("stray", 0, verify("--keyring", f.keyring, "--checksums"),
				"unreferenced stray/file.bin (5 bytes)\n", "OK ", "1 unreferenced object (5 B)")
			if strings.Contains(out, ".ssmirror/") || strings.Contains(out, "old.json") {
				t.Errorf("stray: reported the tool's state or a metadata file:\n%s", out)
			}

			// A byte changed inside the signed index.
			sindex := readKey(t, st, "streams/v1/index.sjson")
			i := bytes.Index(sindex, []byte(`"format"`))
			if i < 0 {
				t.Fatalf("index.sjson has no format field:\n%s", sindex)
			}
			tampered := bytes.Clone(sindex)
			tampered[i+2] = 'F'
			putKey(t, st, "streams/v1/index.sjson", tampered)
			out = check("tampered index.sjson", exitIntegrity, verify("--keyring", f.keyring), "signature streams/v1/index.sjson: ", "1 bad signature")
			if strings.Contains(out, "missing") || strings.Contains(out, "checksum ") {
				t.Errorf("tampered index.sjson: other problems reported:\n%s", out)
			}
			putKey(t, st, "streams/v1/index.sjson", sindex)
			check("repaired", 0, verify("--keyring", f.keyring), "OK ", "signatures good")

			// A byte changed inside a signed products file.
			sprod := readKey(t, st, imagesS)
			tampered = bytes.Replace(sprod, []byte(`"content_id"`), []byte(`"content_iD"`), 1)
			if bytes.Equal(tampered, sprod) {
				t.Fatalf("%s has no content_id field", imagesS)
			}
			putKey(t, st, imagesS, tampered)
			check("tampered products .sjson", exitIntegrity, verify("--keyring", f.keyring),
				"signature "+imagesS+": ", "1 bad signature")
			putKey(t, st, imagesS, sprod)

			// A signed products file signed by a key the keyring lacks.
			other := newFixture(t)
			check("unknown signer", exitIntegrity, verify("--keyring", other.keyring), "signature streams/v1/index.sjson: ")

			// A products file the index names is gone.
			products := "streams/v1/" + imagesCID + ".json"
			saved := readKey(t, st, products)
			if err := st.Delete(context.Background(), products); err != nil {
				t.Fatal(err)
			}
			check("missing products file", exitIntegrity, verify(), "missing "+products+"\n", "FAILED ")
			putKey(t, st, products, saved)
			check("repaired again", 0, verify("--keyring", f.keyring, "--checksums"), "OK ")
		})
	}
}

func hasFinding(fs []mirror.Finding, typ, path string) bool {
	for _, f := range fs {
		if f.Type == typ && f.Path == path {
			return true
		}
	}
	return false
}

// TestVerifyResigned: a mirror that publishes its own key is not checked
// against that key behind the operator's back; given the key, it is.
func TestVerifyResigned(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "m")
	t.Setenv(passphraseEnv, fixturePassphrase)
	args := append([]string{"sync", "--keyring", f.keyring, "--sign-key", fixtureKey, f.srv.Root(), dir}, maasFilter...)
	if out, errOut, code := run(t, args...); code != 0 {
		t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := run(t, "verify", dir)
	if code != 0 || !strings.Contains(out, "note: signatures not checked") ||
		!strings.Contains(out, "--keyring mirror-keyring.gpg") || !strings.Contains(out, "signatures not checked;") {
		t.Errorf("without --keyring: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, "verify", "--keyring", "../../testdata/keys/gpg-fixture-public.asc", dir)
	if code != 0 || !strings.Contains(out, "signatures good (4 files)") || strings.Contains(out, "note:") {
		t.Errorf("with the signing key: exit %d\n%s%s", code, out, errOut)
	}
	// The upstream key did not sign this mirror.
	out, errOut, code = run(t, "verify", "--keyring", f.keyring, dir)
	if code != exitIntegrity || !strings.Contains(out, "signature streams/v1/index.sjson: ") {
		t.Errorf("with another key: exit %d\n%s%s", code, out, errOut)
	}
}

// TestVerifyPendingDeletion: objects that left the mirror and wait for
// their grace period are reported as such, and are warnings only.
func TestVerifyPendingDeletion(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "m")
	args := append([]string{"sync", "--keyring", f.keyring, f.srv.Root(), dir}, maasFilter...)
	if out, errOut, code := run(t, args...); code != 0 {
		t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
	}
	// Narrow the selection: the bootloaders leave the mirror.
	narrow := []string{"sync", "--keyring", f.keyring, f.srv.Root(), dir, "arch=amd64", "--max", "1"}
	if out, errOut, code := run(t, narrow...); code != 0 {
		t.Fatalf("narrowing sync exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := run(t, "verify", "--keyring", f.keyring, dir)
	if code != 0 || !strings.Contains(out, "pending deletion since ") || !strings.Contains(out, " pending deletion)") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestVerifyBadInput: no mirror, no directory, bad flags.
func TestVerifyBadInput(t *testing.T) {
	empty := t.TempDir()
	if out, errOut, code := run(t, "verify", empty); code != exitError || !strings.Contains(errOut, "no mirror is published here") {
		t.Errorf("empty directory: exit %d\n%s%s", code, out, errOut)
	}
	absent := filepath.Join(t.TempDir(), "absent")
	if out, errOut, code := run(t, "verify", absent); code != exitError {
		t.Errorf("absent directory: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(absent); err == nil {
		t.Error("verify created the directory it was asked to audit")
	}
	for _, args := range [][]string{
		{"verify"},
		{"verify", "a", "b"},
		{"verify", "--keyring", filepath.Join(absent, "keyring.gpg"), empty},
		{"verify", "--transfers", "0", empty},
		{"verify", "--endpoint", "minio:9000", "s3://bucket"},
		{"verify", "ftp://example.com/mirror"},
	} {
		if out, errOut, code := run(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
}

// TestSyncVerifyExisting: an object damaged in place (right size, wrong
// bytes) is invisible to a plain re-run, which trusts the listing and the
// recorded checksums; sync --verify-existing reads it back, names it and
// copies it again (and only it), after which verify --checksums passes.
func TestSyncVerifyExisting(t *testing.T) {
	for _, tc := range targets() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dst, flags, st := tc.open(t)
			sync := func(extra ...string) (string, string, int) {
				args := append(append(append([]string{"sync", "--keyring", f.keyring}, flags...), extra...), f.srv.Root(), dst)
				return run(t, append(args, maasFilter...)...)
			}
			if out, errOut, code := sync(); code != 0 {
				t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
			}
			paths := slices.Sorted(maps.Keys(f.expected()))
			bad := paths[len(paths)/2]
			body := bytes.Clone(f.tree.Files[bad])
			body[len(body)/3] ^= 0x01
			putKey(t, st, bad, body)
			verify := append(append([]string{"verify", "--checksums"}, flags...), dst)

			before := itemRequests(f)
			if out, errOut, code := sync(); code != 0 || itemRequests(f) != before {
				t.Fatalf("plain re-run: exit %d, %d item requests, want 0 and none\n%s%s", code, itemRequests(f)-before, out, errOut)
			}
			if _, _, code := run(t, verify...); code != exitIntegrity {
				t.Fatalf("verify --checksums of the damaged mirror: exit %d, want %d", code, exitIntegrity)
			}

			out, errOut, code := sync("--verify-existing", "--dry-run")
			if code != 0 || !strings.Contains(out, bad) || !strings.Contains(out, "damaged in target") || itemRequests(f) != before {
				t.Fatalf("--verify-existing --dry-run: exit %d, want 0, the damaged path in the plan, nothing fetched\n%s%s", code, out, errOut)
			}

			out, errOut, code = sync("--verify-existing")
			if code != 0 {
				t.Fatalf("--verify-existing: exit %d\n%s%s", code, out, errOut)
			}
			if !strings.Contains(out+errOut, bad+" is damaged") {
				t.Errorf("the damaged object is not named:\n%s%s", out, errOut)
			}
			if n := itemRequests(f) - before; n != 1 || f.srv.Requests(bad) != 2 {
				t.Errorf("%d item requests (%d of %s), want exactly the damaged one again", n, f.srv.Requests(bad), bad)
			}
			if out, errOut, code := run(t, verify...); code != 0 {
				t.Errorf("verify --checksums after the repair: exit %d\n%s%s", code, out, errOut)
			}
			f.checkMirror(t, st, f.expected())
		})
	}
}
