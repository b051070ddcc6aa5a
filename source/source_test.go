package source_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
)

func TestSplitStart(t *testing.T) {
	cases := []struct{ in, root, start string }{
		{"https://images.maas.io/ephemeral-v3/stable/", "https://images.maas.io/ephemeral-v3/stable/", "streams/v1/index.sjson"},
		{"https://images.maas.io/ephemeral-v3/stable", "https://images.maas.io/ephemeral-v3/stable", "streams/v1/index.sjson"},
		{"https://m.example/x/streams/v1/index.json", "https://m.example/x/", "streams/v1/index.json"},
		{"https://m.example/streams/v1/com.ubuntu.maas:stable:v3:download.sjson", "https://m.example/", "streams/v1/com.ubuntu.maas:stable:v3:download.sjson"},
		{"streams/v1/index.json", "", "streams/v1/index.json"},
		{"/srv/mirror/streams/v1/index.sjson", "/srv/mirror/", "streams/v1/index.sjson"},
		{"s3://bucket/maas/streams/v1/index.json", "s3://bucket/maas/", "streams/v1/index.json"},
		{"/srv/mirror/streams/v1/sub/index.json", "/srv/mirror/streams/v1/sub/index.json", "streams/v1/index.sjson"},
		{"/srv/mirror/streams/v1/index.txt", "/srv/mirror/streams/v1/index.txt", "streams/v1/index.sjson"},
	}
	for _, c := range cases {
		root, start := source.SplitStart(c.in)
		if root != c.root || start != c.start {
			t.Errorf("SplitStart(%q) = %q, %q; want %q, %q", c.in, root, start, c.root, c.start)
		}
	}
}

func hexsum(h interface{ Sum([]byte) []byte }) string { return hex.EncodeToString(h.Sum(nil)) }

func TestVerifyingReader(t *testing.T) {
	body := []byte(strings.Repeat("simplestreams", 1000))
	s256 := sha256.Sum256(body)
	s512 := sha512.Sum512(body)
	m5 := md5.Sum(body)
	good256 := catalog.Checksum{Algo: "sha256", Hex: hex.EncodeToString(s256[:])}
	cases := []struct {
		name string
		r    io.Reader
		size int64
		sum  catalog.Checksum
		want string // "" for success, else substring of the error
	}{
		{"sha256 ok", bytes.NewReader(body), int64(len(body)), good256, ""},
		{"sha512 ok", bytes.NewReader(body), int64(len(body)), catalog.Checksum{Algo: "sha512", Hex: hex.EncodeToString(s512[:])}, ""},
		{"md5 ok", bytes.NewReader(body), int64(len(body)), catalog.Checksum{Algo: "md5", Hex: hex.EncodeToString(m5[:])}, ""},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(body)), int64(len(body)), good256, ""},
		{"wrong checksum", bytes.NewReader(append(bytes.Clone(body[:len(body)-1]), 'X')), int64(len(body)), good256, "sha256 is"},
		{"truncated", bytes.NewReader(body[:100]), int64(len(body)), good256, "truncated: got 100 of"},
		{"longer than catalog", bytes.NewReader(append(bytes.Clone(body), 'X')), int64(len(body)), good256, "more than the catalog's"},
		{"empty ok", bytes.NewReader(nil), 0, catalog.Checksum{Algo: "sha256", Hex: hexsum(sha256.New())}, ""},
		{"empty wrong sum", bytes.NewReader(nil), 0, good256, "sha256 is"},
		{"read error", iotest.TimeoutReader(bytes.NewReader(body)), int64(len(body)), good256, "timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := source.NewVerifyingReader(c.r, "up/item", c.size, c.sum)
			if v.VerifiedSHA256() != nil && c.size > 0 {
				t.Errorf("VerifiedSHA256 before any Read = %x, want nil", v.VerifiedSHA256())
			}
			got, err := io.ReadAll(v)
			// Only a body delivered whole and right against a SHA-256
			// reports its digest (a store may skip hashing it again).
			vs := v.VerifiedSHA256()
			if wantVerified := c.want == "" && c.sum.Algo == "sha256"; wantVerified != (vs != nil) || vs != nil && hex.EncodeToString(vs) != c.sum.Hex {
				t.Errorf("VerifiedSHA256 = %x, want the checked digest: %v", vs, wantVerified)
			}
			if c.want == "" {
				if err != nil || !bytes.Equal(got, body[:c.size]) {
					t.Fatalf("err = %v, read %d bytes", err, len(got))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "up/item: ") {
				t.Fatalf("err = %v, want one naming up/item with %q", err, c.want)
			}
			if c.name != "read error" && !errors.Is(err, source.ErrIntegrity) {
				t.Errorf("err does not wrap ErrIntegrity: %v", err)
			}
			// The consumer never receives a complete bad body. (Extra
			// bytes after a correct body are reported, but what was
			// delivered is exactly the catalog's content.)
			if int64(len(got)) >= c.size && c.size > 0 && !bytes.Equal(got, body) {
				t.Errorf("a bad body was delivered whole (%d bytes)", len(got))
			}
		})
	}
}

// TestVerifiedSHA256Partial: a reader that has not delivered the whole
// body, or whose first bytes another reader delivered (a resumed one),
// reports no verified digest.
func TestVerifiedSHA256Partial(t *testing.T) {
	body := []byte(strings.Repeat("simplestreams", 1000))
	s256 := sha256.Sum256(body)
	sum := catalog.Checksum{Algo: "sha256", Hex: hex.EncodeToString(s256[:])}
	v := source.NewVerifyingReader(bytes.NewReader(body), "up/item", int64(len(body)), sum)
	if _, err := io.ReadFull(v, make([]byte, len(body)-1)); err != nil {
		t.Fatal(err)
	}
	if got := v.VerifiedSHA256(); got != nil {
		t.Errorf("VerifiedSHA256 one byte short of the end = %x, want nil", got)
	}
	h := sha256.New()
	h.Write(body[:100])
	r := source.NewResumedVerifyingReader(bytes.NewReader(body[100:]), "up/item", int64(len(body)), sum, 100, h)
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("resumed read: %v", err)
	}
	if got := r.VerifiedSHA256(); got != nil {
		t.Errorf("VerifiedSHA256 of a resumed reader = %x, want nil (its digest covers bytes it did not deliver)", got)
	}
}

func TestHTTPFetch(t *testing.T) {
	tree := &upstream.Tree{Files: map[string][]byte{"a/b:c": []byte("hello")}}
	srv := upstream.Serve(t, tree)
	srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/boom":
			http.Error(w, "no", http.StatusInternalServerError)
		case "/gz":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte("x"))
		default:
			return false
		}
		return true
	})
	f, err := source.NewHTTP(srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rc, size, err := f.Fetch(ctx, "a/b:c")
	if err != nil || size != 5 {
		t.Fatalf("fetch: %v size %d", err, size)
	}
	rc.Close()
	if _, _, err := f.Fetch(ctx, "missing"); !errors.Is(err, source.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, _, err := f.Fetch(ctx, "boom"); err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "/boom") {
		t.Errorf("500: %v", err)
	}
	if _, _, err := f.Fetch(ctx, "gz"); err == nil || !strings.Contains(err.Error(), "Content-Encoding") {
		t.Errorf("gzip: %v", err)
	}
	if _, _, err := f.Fetch(ctx, "../etc/passwd"); !errors.Is(err, catalog.ErrUnsafePath) {
		t.Errorf("unsafe: %v", err)
	}
	if _, err := source.NewHTTP("ftp://x/", nil); err == nil {
		t.Error("ftp accepted")
	}
}

func signedTree(t *testing.T) (*upstream.Tree, *gpg.SigningKey) {
	t.Helper()
	key, err := gpg.GenerateKey("t", "t@example.invalid", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	docs, err := upstream.MAASDocs("../testdata/maas")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := upstream.Build(docs, upstream.Options{Scale: 1 << 20, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return tree, key
}

func TestRead(t *testing.T) {
	tree, key := signedTree(t)
	srv := upstream.Serve(t, tree)
	f, _ := source.NewHTTP(srv.Root(), nil)
	ctx := context.Background()

	m, err := source.Read(ctx, f, source.DefaultStart, source.Options{Keyring: key.Keyring()})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Signed || len(m.Products) != 3 || len(m.Raw) != 4 {
		t.Fatalf("signed read: signed=%v products=%d raw=%d", m.Signed, len(m.Products), len(m.Raw))
	}
	if !bytes.Equal(m.Raw[source.DefaultStart], tree.Files[source.DefaultStart]) {
		t.Error("raw index bytes differ from upstream")
	}

	u, err := source.Read(ctx, f, "streams/v1/index.json", source.Options{})
	if err != nil || u.Signed || len(u.Products) != 3 {
		t.Fatalf("unsigned read: %v", err)
	}

	if _, err := source.Read(ctx, f, source.DefaultStart, source.Options{}); !errors.Is(err, source.ErrNoKeyring) {
		t.Errorf("no keyring: %v", err)
	}
	if _, err := source.Read(ctx, f, source.DefaultStart, source.Options{NoVerify: true}); err != nil {
		t.Errorf("no-verify: %v", err)
	}
	other, _ := gpg.GenerateKey("o", "o@example.invalid", time.Now())
	if _, err := source.Read(ctx, f, source.DefaultStart, source.Options{Keyring: other.Keyring()}); !errors.Is(err, gpg.ErrVerification) {
		t.Errorf("wrong keyring: %v", err)
	}

	// A signed index must not lead to unsigned files.
	idx := string(tree.Files["streams/v1/index.json"])
	signed, _ := key.ClearSign([]byte(idx))
	tree.Files[source.DefaultStart] = signed
	if _, err := source.Read(ctx, f, source.DefaultStart, source.Options{Keyring: key.Keyring()}); !errors.Is(err, catalog.ErrInvalid) || !strings.Contains(err.Error(), "may only point to .sjson") {
		t.Errorf("signed index to .json: %v", err)
	}

	// A products file whose content_id disagrees with its index entry.
	tree2, _ := signedTree(t)
	srv.Set(tree2)
	p := "streams/v1/com.ubuntu.maas:stable:centos-bases-download.json"
	tree2.Files[p] = bytes.Replace(tree2.Files[p], []byte(`"content_id": "com.ubuntu.maas:stable:centos-bases-download"`), []byte(`"content_id": "other"`), 1)
	if _, err := source.Read(ctx, f, "streams/v1/index.json", source.Options{}); !errors.Is(err, catalog.ErrInvalid) || !strings.Contains(err.Error(), `content_id "other"`) {
		t.Errorf("content_id mismatch: %v", err)
	}

	// Metadata larger than the limit.
	if _, err := source.Read(ctx, f, "streams/v1/index.json", source.Options{MaxMetadata: 100}); err == nil || !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Errorf("limit: %v", err)
	}
}
