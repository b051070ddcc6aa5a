package upstream

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/source/gpg"
)

var update = flag.Bool("update", false, "regenerate testdata/example")

const (
	exampleDir     = "../../testdata/example"
	exampleKeyring = "../../testdata/example-keyring.gpg"
	exampleSecret  = "../../testdata/example-signing-key.asc"
	exampleScale   = 100000
)

// TestExampleStream keeps the example stream in testdata (the README's
// first command mirrors it) in step with the real MAAS catalogs: with
// -update it is regenerated and re-signed with the example key; without,
// every file must be what Build produces, apart from signatures, and every
// signature must verify with the published example keyring.
func TestExampleStream(t *testing.T) {
	docs, err := MAASDocs("../../testdata/maas")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		key, err := gpg.GenerateKey("ssmirror example stream, a test key not for production", "example@ssmirror.invalid", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tree, err := Build(docs, Options{Scale: exampleScale, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(exampleDir)
		if err := tree.WriteDir(exampleDir); err != nil {
			t.Fatal(err)
		}
		secret, err := key.ArmoredSecretKey()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(exampleSecret, secret, 0o644)
		os.WriteFile(exampleKeyring, key.PublicKeyring(), 0o644)
		return
	}
	tree, err := Build(docs, Options{Scale: exampleScale})
	if err != nil {
		t.Fatal(err)
	}
	kr, err := gpg.LoadKeyrings(exampleKeyring)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(exampleDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(exampleDir, p)
		rel = filepath.ToSlash(rel)
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(rel, ".sjson") {
			payload, _, err := kr.VerifyClearsigned(rel, got, gpg.Options{})
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
			// The signed index points to .sjson files; the payload of a
			// products file equals its .json twin.
			if twin := strings.TrimSuffix(rel, ".sjson") + ".json"; rel != "streams/v1/index.sjson" && !bytes.Equal(payload, tree.Files[twin]) {
				t.Errorf("%s: payload differs from %s", rel, twin)
			}
			return nil
		}
		if !bytes.Equal(got, tree.Files[rel]) {
			t.Errorf("%s differs from what Build generates (run go test ./internal/upstream -update)", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
