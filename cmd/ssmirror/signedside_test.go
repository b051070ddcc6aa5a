package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source/gpg"
)

// docPaths returns every item path of the fixture's products documents.
func docPaths(f *fixture) map[string]bool {
	paths := map[string]bool{}
	for _, d := range f.docs {
		for _, p := range d["products"].(map[string]any) {
			for _, v := range p.(map[string]any)["versions"].(map[string]any) {
				for _, it := range v.(map[string]any)["items"].(map[string]any) {
					if path, ok := it.(map[string]any)["path"].(string); ok {
						paths[path] = true
					}
				}
			}
		}
	}
	return paths
}

// TestVerifySignedSide: verify says exactly what holds for the .sjson
// files. Upstream signed metadata of a filtered mirror names paths the
// mirror does not hold: verify counts them, and the mirror is still
// sound. A re-signed mirror's signed metadata must be exact: it names no
// such path, and signed metadata that differs from the .json side is a
// problem (exit 4).
func TestVerifySignedSide(t *testing.T) {
	t.Run("upstream", func(t *testing.T) {
		f := newFixture(t)
		dir := filepath.Join(t.TempDir(), "m")
		if out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring, f.srv.Root(), dir}, maasFilter...)...); code != 0 {
			t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
		}
		want := f.expected()
		n := 0
		for p := range docPaths(f) {
			if !want[p] {
				n++
			}
		}
		if n == 0 {
			t.Fatal("the filter leaves nothing out")
		}
		out, errOut, code := run(t, "verify", "--keyring", f.keyring, dir)
		if phrase := "signed metadata (upstream) names " + plan.Count(n, "path") + " not in the mirror"; code != 0 || !strings.HasPrefix(out, "OK ") || !strings.Contains(out, phrase) {
			t.Errorf("exit %d, want 0 and %q:\n%s%s", code, phrase, out, errOut)
		}
		out, _, _ = run(t, "verify", "--keyring", f.keyring, "--json", dir)
		if _, sum := verifyLines(t, out); !sum.OK || sum.SignedMetadata != "upstream" || sum.SignedNotMirrored != n {
			t.Errorf("--json summary %+v, want signed_metadata upstream and %d not mirrored", sum, n)
		}
	})
	t.Run("resign", func(t *testing.T) {
		f := newFixture(t)
		dir := filepath.Join(t.TempDir(), "m")
		t.Setenv(passphraseEnv, fixturePassphrase)
		if out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring, "--sign-key", fixtureKey, f.srv.Root(), dir}, maasFilter...)...); code != 0 {
			t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
		}
		pub := "../../testdata/keys/gpg-fixture-public.asc"
		out, errOut, code := run(t, "verify", "--keyring", pub, dir)
		if code != 0 || !strings.Contains(out, "signed metadata (resign) names 0 paths not in the mirror") {
			t.Errorf("exit %d, want 0 and an exact signed side:\n%s%s", code, out, errOut)
		}
		// The signed products file now names the whole upstream catalog,
		// signed with the mirror's own key: no longer exact.
		key, err := gpg.LoadSigningKey(fixtureKey, []byte(fixturePassphrase))
		if err != nil {
			t.Fatal(err)
		}
		signed, err := key.ClearSign(f.tree.Files["streams/v1/"+imagesCID+".json"])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, imagesS), signed, 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code = run(t, "verify", "--keyring", pub, dir)
		if code != exitIntegrity || !strings.Contains(out, "signed "+imagesS+": its signed content is not the mirror's streams/v1/"+imagesCID+".json") ||
			!strings.Contains(out, ", not in the mirror\n") || strings.Contains(out, "names 0 paths") {
			t.Errorf("exit %d, want %d naming the inexact signed file and the paths:\n%s%s", code, exitIntegrity, out, errOut)
		}
	})
}

// TestSummarySignedIndexOnly: a run that publishes only a new signed
// index (the upstream re-signed it, the .json side is unchanged) says
// that the index was updated. (The browse page, republished with any
// publication, is left out to count the index alone.)
func TestSummarySignedIndexOnly(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "m")
	args := append([]string{"sync", "--no-browse-page", "--keyring", f.keyring, f.srv.Root(), dir}, maasFilter...)
	if out, errOut, code := run(t, args...); code != 0 {
		t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
	}
	for i, mode := range []string{"--json", "-q"} {
		// The same index, laid out differently and signed again.
		payload, err := gpg.ExtractClearsigned("index.sjson", f.tree.Files["streams/v1/index.sjson"])
		if err != nil {
			t.Fatal(err)
		}
		payload = []byte(strings.Replace(string(payload), `"format": `, `"format":`+strings.Repeat(" ", i+2), 1))
		resign(t, f, "streams/v1/index.sjson", payload)
		out, errOut, code := run(t, append([]string{args[0], mode}, args[1:]...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", mode, code, out, errOut)
		}
		switch mode {
		case "--json":
			if !strings.Contains(out, `"type":"publish","key":"streams/v1/index.sjson"`) || strings.Count(out, `"type":"publish"`) != 1 ||
				!strings.Contains(out, `"index_published":true`) {
				t.Errorf("%s: want one publish of index.sjson and index_published true:\n%s", mode, out)
			}
		default:
			if !strings.Contains(out, "published 1 metadata files (index updated)") {
				t.Errorf("%s: want the index updated:\n%s%s", mode, out, errOut)
			}
		}
	}
}
