package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
)

// passphraseEnv holds the passphrase of --sign-key.
var passphraseEnv = config.EnvVar("sign_passphrase")

// fixtureKey is a GnuPG-made secret key with a signing subkey, protected
// by a passphrase (testdata/keys/README.md).
const (
	fixtureKey        = "../../testdata/keys/gpg-fixture-secret.asc"
	fixturePassphrase = "fixture passphrase"
)

func readKey(t *testing.T, st target.Store, key string) []byte {
	t.Helper()
	rc, _, err := st.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	defer rc.Close()
	var b bytes.Buffer
	b.ReadFrom(rc)
	return b.Bytes()
}

func hasKey(st target.Store, key string) bool {
	rc, _, err := st.Open(context.Background(), key)
	if err == nil {
		rc.Close()
	}
	return err == nil
}

// TestSignedMetadataModes publishes the MAAS-shaped upstream in each mode
// into a directory and the real S3 server, checks what was published,
// then reads the mirror back as a SOURCE with the matching keyring (mirror
// of a mirror: same objects, same checksums).
func TestSignedMetadataModes(t *testing.T) {
	for _, tc := range targets() {
		for _, mode := range []string{"upstream", "resign", "none"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				f := newFixture(t)
				dst, flags, st := tc.open(t)
				args := append([]string{"sync", "--keyring", f.keyring, "--signed-metadata", mode}, flags...)
				if mode == "resign" {
					args = append(args, "--sign-key", fixtureKey)
					t.Setenv(passphraseEnv, fixturePassphrase)
				}
				args = append(append(args, f.srv.Root(), dst), maasFilter...)
				out, errOut, code := run(t, args...)
				if code != 0 {
					t.Fatalf("exit %d\n%s%s", code, out, errOut)
				}
				if strings.Contains(out+errOut, fixturePassphrase) {
					t.Error("the passphrase was printed")
				}
				want := f.expected()
				f.checkJSON(t, st, want)

				// What the mirror is read back with.
				readArgs := []string{"sync"}
				switch mode {
				case "upstream":
					for p, body := range f.tree.Files {
						if strings.HasSuffix(p, ".sjson") && !bytes.Equal(readKey(t, st, p), body) {
							t.Errorf("%s: not the upstream bytes", p)
						}
					}
					readArgs = append(readArgs, "--keyring", f.keyring, dst)
				case "resign":
					checkResigned(t, st, out)
					kr := filepath.Join(t.TempDir(), "mirror-keyring.gpg")
					os.WriteFile(kr, readKey(t, st, "streams/v1/mirror-keyring.gpg"), 0o644)
					readArgs = append(readArgs, "--keyring", kr, dst)
				case "none":
					var signed []string
					st.List(context.Background(), "streams/", func(o target.Object) error {
						if strings.HasSuffix(o.Key, ".sjson") || strings.Contains(o.Key, "keyring") {
							signed = append(signed, o.Key)
						}
						return nil
					})
					if len(signed) > 0 {
						t.Errorf("mode none published %v", signed)
					}
					readArgs = append(readArgs, dst+"/streams/v1/index.json")
				}
				second := filepath.Join(t.TempDir(), "second")
				readArgs = append(append(append(readArgs[:len(readArgs)-1], flags...), readArgs[len(readArgs)-1], second), maasFilter...)
				out, errOut, code = run(t, readArgs...)
				if code != 0 {
					t.Fatalf("mirror of the mirror: exit %d\n%s%s", code, out, errOut)
				}
				st2, _ := dirstore.New(second)
				f.checkJSON(t, st2, want)

				// A second run in the same mode has nothing to do (for
				// resign: the existing signatures are recognised).
				out, errOut, code = run(t, args...)
				if code != 0 || !strings.Contains(out, "nothing to do") {
					t.Fatalf("re-run: exit %d\n%s%s", code, out, errOut)
				}
			})
		}
	}
}

// checkResigned verifies the re-signed metadata with the published key:
// every .sjson payload equals its .json twin (the index differs only in
// its paths), and the printed keyring_data is the published keyring.
func checkResigned(t *testing.T, st target.Store, out string) {
	t.Helper()
	pub := readKey(t, st, "streams/v1/mirror-keyring.gpg")
	kr, err := gpg.ParseKeyring("mirror-keyring.gpg", pub)
	if err != nil {
		t.Fatal(err)
	}
	asc, err := gpg.ParseKeyring("mirror-keyring.asc", readKey(t, st, "streams/v1/mirror-keyring.asc"))
	if err != nil || asc.Fingerprints()[0] != kr.Fingerprints()[0] {
		t.Errorf("armored keyring: %v", err)
	}
	if !strings.Contains(out, "keyring_data:     "+base64.StdEncoding.EncodeToString(pub)) {
		t.Errorf("hand-off does not print the published keyring:\n%s", out)
	}
	payload, _, err := kr.VerifyClearsigned("index.sjson", readKey(t, st, "streams/v1/index.sjson"), gpg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := catalog.DecodeIndex("index.sjson", payload)
	if err != nil {
		t.Fatal(err)
	}
	plain := readKey(t, st, "streams/v1/index.json")
	if got := strings.ReplaceAll(string(payload), ".sjson\"", ".json\""); got != string(plain) {
		t.Errorf("index.sjson payload differs from index.json beyond its paths")
	}
	for cid, e := range idx.Entries {
		if !strings.HasSuffix(e.Path, ".sjson") {
			t.Errorf("%s: signed index points to %s", cid, e.Path)
		}
		body, _, err := kr.VerifyClearsigned(e.Path, readKey(t, st, e.Path), gpg.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, readKey(t, st, strings.TrimSuffix(e.Path, ".sjson")+".json")) {
			t.Errorf("%s: payload differs from the .json file", e.Path)
		}
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "-") {
				t.Errorf("%s: payload line starts with '-': %q", e.Path, line)
			}
		}
	}
}

// TestSigningOptions: mode switches clean up, and wrong combinations are
// usage errors.
func TestSigningOptions(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "m")
	base := []string{"sync", "--keyring", f.keyring}
	sync := func(extra ...string) (string, string, int) {
		return run(t, append(append(append([]string{}, base...), extra...), f.srv.Root(), dir, "arch=amd64", "--max", "1")...)
	}
	if out, errOut, code := sync(); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	st, _ := dirstore.New(dir)
	if !hasKey(st, "streams/v1/index.sjson") {
		t.Fatal("default mode for a signed source did not publish the upstream index.sjson")
	}
	// Switching to none removes the signed index at once, and the other
	// signed files after the grace period.
	if out, errOut, code := sync("--signed-metadata", "none"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if hasKey(st, "streams/v1/index.sjson") || !hasKey(st, "streams/v1/"+imagesCID+".sjson") {
		t.Error("after switching to none: want index.sjson gone at once, products .sjson kept for the grace period")
	}
	if out, errOut, code := sync("--signed-metadata", "none", "--gc-grace", "0"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var left []string
	st.List(context.Background(), "", func(o target.Object) error {
		if strings.HasSuffix(o.Key, ".sjson") && !strings.HasPrefix(o.Key, ".ssmirror/") {
			left = append(left, o.Key) // (.ssmirror/ is not published)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("after switching to none, still published: %v", left)
	}

	// The passphrase from a file; a wrong one is a clear usage error that
	// does not print it.
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte(fixturePassphrase+"\n"), 0o600)
	if out, errOut, code := sync("--sign-key", fixtureKey, "--sign-passphrase-file", pf); code != 0 {
		t.Fatalf("passphrase file: exit %d\n%s%s", code, out, errOut)
	}
	if !hasKey(st, "streams/v1/mirror-keyring.gpg") || !hasKey(st, "streams/v1/index.sjson") {
		t.Error("resign (implied by --sign-key) did not publish the key and index.sjson")
	}
	os.WriteFile(pf, []byte("not the passphrase"), 0o600)
	out, errOut, code := sync("--sign-key", fixtureKey, "--sign-passphrase-file", pf)
	if code != 2 || !strings.Contains(errOut, "passphrase") || strings.Contains(out+errOut, "not the passphrase") {
		t.Errorf("wrong passphrase: exit %d\n%s%s", code, out, errOut)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--signed-metadata", "resign"}, "resign needs sign_key"},
		{[]string{"--signed-metadata", "bogus"}, `"bogus" is not upstream, resign or none`},
		{[]string{"--signed-metadata", "none", "--sign-key", fixtureKey}, "sign_key: is only used with signed_metadata resign"},
	} {
		out, errOut, code := sync(c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, want 2 with %q\n%s%s", c.args, code, c.want, out, errOut)
		}
	}
	// upstream mode needs a signed source.
	out, errOut, code = run(t, "sync", "--signed-metadata", "upstream", f.srv.Root()+"streams/v1/index.json", filepath.Join(t.TempDir(), "u"))
	if code != 2 || !strings.Contains(errOut, "needs a signed source") {
		t.Errorf("upstream from unsigned: exit %d\n%s%s", code, out, errOut)
	}
}

// TestDetachedSignatures: a .json start with a keyring requires a valid
// X.json.gpg for every file read.
func TestDetachedSignatures(t *testing.T) {
	f := newFixture(t)
	for p, body := range f.tree.Files {
		if strings.HasSuffix(p, ".json") {
			sig, err := f.key.DetachSign(body)
			if err != nil {
				t.Fatal(err)
			}
			f.tree.Files[p+".gpg"] = sig
		}
	}
	start := f.srv.Root() + "streams/v1/index.json"
	out, errOut, code := run(t, "sync", "--keyring", f.keyring, start, filepath.Join(t.TempDir(), "a"), "arch=amd64")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	p := "streams/v1/" + imagesCID + ".json"
	f.tree.Files[p] = append(bytes.Clone(f.tree.Files[p]), ' ')
	out, errOut, code = run(t, "sync", "--keyring", f.keyring, start, filepath.Join(t.TempDir(), "b"))
	if code != 4 || !strings.Contains(errOut, p) {
		t.Errorf("tampered .json: exit %d\n%s%s", code, out, errOut)
	}
	delete(f.tree.Files, p+".gpg")
	out, errOut, code = run(t, "sync", "--keyring", f.keyring, start, filepath.Join(t.TempDir(), "c"))
	if code != 4 || !strings.Contains(errOut, "no detached signature") {
		t.Errorf("missing .gpg: exit %d\n%s%s", code, out, errOut)
	}
}
