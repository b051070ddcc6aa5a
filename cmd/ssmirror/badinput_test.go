package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
)

const (
	imagesCID = "com.ubuntu.maas:stable:v3:download"
	imagesS   = "streams/v1/" + imagesCID + ".sjson"
)

// firstItem returns the item map and path of one item of the images
// catalog (the first amd64 product's first version's boot-kernel).
func firstItem(t *testing.T, f *fixture) (map[string]any, string) {
	prod := f.docs[0]["products"].(map[string]any)["com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04"].(map[string]any)
	v := newestVersion(t, f.docs[0], "com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04")
	item := prod["versions"].(map[string]any)[v].(map[string]any)["items"].(map[string]any)["boot-kernel"].(map[string]any)
	return item, item["path"].(string)
}

func resign(t *testing.T, f *fixture, path string, payload []byte) {
	t.Helper()
	signed, err := f.key.ClearSign(payload)
	if err != nil {
		t.Fatal(err)
	}
	f.tree.Files[path] = signed
}

// TestBadInput: every bad input gets a one-line error naming the file and
// the reason, the documented exit status, and nothing published for what
// it affects.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		// break the fixture; return extra args (replacing source) if any
		mutate func(t *testing.T, f *fixture) []string
		code   int
		want   []string // substrings of stderr
		// partial: the run publishes the unaffected products; the named
		// path must not be in the target.
		absent string
	}{
		{"malformed JSON", func(t *testing.T, f *fixture) []string {
			resign(t, f, imagesS, []byte("{\"format\": \"products:1.0\",\n"))
			return nil
		}, 1, []string{imagesS, "malformed JSON"}, ""},
		{"wrong format", func(t *testing.T, f *fixture) []string {
			f.docs[0]["format"] = "products:2.0"
			f.build(t)
			return nil
		}, 1, []string{imagesS, `format is "products:2.0"`}, ""},
		{"bad signature", func(t *testing.T, f *fixture) []string {
			b := f.tree.Files[imagesS]
			i := strings.Index(string(b), `"datatype"`)
			b[i+2] = 'D'
			return nil
		}, 4, []string{imagesS}, ""},
		{"missing signature", func(t *testing.T, f *fixture) []string {
			f.tree.Files["streams/v1/index.sjson"] = f.tree.Files["streams/v1/index.json"]
			return nil
		}, 4, []string{"streams/v1/index.sjson"}, ""},
		{"unknown signer", func(t *testing.T, f *fixture) []string {
			other, err := gpg.GenerateKey("someone else", "x@example.invalid", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			signed, _ := other.ClearSign(f.tree.Files["streams/v1/"+imagesCID+".json"])
			f.tree.Files[imagesS] = signed
			return nil
		}, 4, []string{imagesS}, ""},
		{"unsafe path", func(t *testing.T, f *fixture) []string {
			item, _ := firstItem(t, f)
			item["path"] = "../../etc/passwd"
			body, _ := json.Marshal(f.docs[0])
			resign(t, f, imagesS, body)
			return nil
		}, 1, []string{imagesS, "unsafe path", "../../etc/passwd"}, ""},
		{"item without size", func(t *testing.T, f *fixture) []string {
			item, _ := firstItem(t, f)
			delete(item, "size")
			body, _ := json.Marshal(f.docs[0])
			resign(t, f, imagesS, body)
			return nil
		}, 1, []string{imagesS, "size missing"}, ""},
		{"item without checksum", func(t *testing.T, f *fixture) []string {
			item, _ := firstItem(t, f)
			delete(item, "sha256")
			body, _ := json.Marshal(f.docs[0])
			resign(t, f, imagesS, body)
			return nil
		}, 1, []string{imagesS, "no checksum"}, ""},
		{"checksum mismatch", func(t *testing.T, f *fixture) []string {
			_, p := firstItem(t, f)
			f.tree.Files[p][0] ^= 0xff
			return nil
		}, 4, []string{"boot-kernel", "sha256 is"}, "boot-kernel"},
		{"size mismatch", func(t *testing.T, f *fixture) []string {
			_, p := firstItem(t, f)
			f.tree.Files[p] = append(f.tree.Files[p], 'x')
			return nil
		}, 4, []string{"boot-kernel", "catalog says"}, "boot-kernel"},
		{"unreachable source", func(t *testing.T, f *fixture) []string {
			return []string{"http://127.0.0.1:1/"}
		}, 1, []string{"127.0.0.1:1", "connection refused"}, ""},
		{"missing keyring file", func(t *testing.T, f *fixture) []string {
			return []string{f.srv.Root(), "--keyring", "/nonexistent/keyring.gpg"}
		}, 2, []string{"/nonexistent/keyring.gpg"}, ""},
		{"bad filter", func(t *testing.T, f *fixture) []string {
			return []string{f.srv.Root(), "arch"}
		}, 2, []string{`filter "arch"`}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			srcArgs := c.mutate(t, f)
			if srcArgs == nil {
				srcArgs = []string{f.srv.Root()}
			}
			dir := filepath.Join(t.TempDir(), "mirror")
			args := []string{"sync", "--keyring", f.keyring, srcArgs[0], dir}
			args = append(args, srcArgs[1:]...)
			out, errOut, code := run(t, args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, c.code, out, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			st, err := dirstore.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			if c.absent == "" {
				// Nothing published at all.
				if _, _, err := st.Open(context.Background(), "streams/v1/index.json"); !errors.Is(err, target.ErrNotExist) {
					t.Errorf("index.json was published (err %v)", err)
				}
				return
			}
			// Partial: the affected product is not in the published
			// metadata and its object is not at its key.
			idx, err := os.ReadFile(filepath.Join(dir, "streams/v1", imagesCID+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(idx), "24.04:amd64:ga-24.04") {
				t.Errorf("the product with the bad item was published")
			}
			_, p := firstItem(t, f)
			if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s is in the target (err %v)", p, err)
			}
		})
	}
}

// TestBadTargetS3: a missing bucket and wrong credentials are reported
// clearly, and the secret never appears in the output.
func TestBadTargetS3(t *testing.T) {
	srv := s3test.Shared(t)
	f := newFixture(t)
	setS3Env(t, srv)
	out, errOut, code := run(t, "sync", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style", f.srv.Root(), "s3://no-such-bucket-here/x")
	if code != 1 || !strings.Contains(errOut, "no-such-bucket-here") || !strings.Contains(errOut, "does not exist") {
		t.Errorf("missing bucket: exit %d\n%s%s", code, out, errOut)
	}
	bucket := srv.NewBucket(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-1234")
	out, errOut, code = run(t, "sync", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style", f.srv.Root(), "s3://"+bucket)
	if code != 1 || !strings.Contains(strings.ToLower(errOut), "access denied") {
		t.Errorf("wrong credentials: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "wrong-secret-value-1234") {
		t.Errorf("the secret was printed")
	}
}

var _ = upstream.Payload
