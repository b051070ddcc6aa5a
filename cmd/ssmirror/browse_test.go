package main

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
)

// bucketWeb serves the real S3 server's objects over plain HTTP, as the
// bucket's web address does for an anonymous reader: each GET or HEAD is
// signed with the server's keys and passed on, and the reply (status,
// Content-Type, Cache-Control, body) comes back as S3 sent it.
func bucketWeb(t *testing.T, srv *s3test.Server) *httptest.Server {
	t.Helper()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "read only", http.StatusMethodNotAllowed)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, srv.Endpoint+r.URL.EscapedPath(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		req = signer.SignV4(*req, srv.AccessKey, srv.SecretKey, "", "us-east-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for _, h := range []string{"Content-Type", "Content-Length", "Cache-Control", "ETag", "Last-Modified"} {
			if v := resp.Header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(web.Close)
	return web
}

// TestBrowsePageChromium publishes a MAAS selection into the real S3
// server, loads the browse page from the bucket over HTTP in headless
// Chromium (Debian's chromium, no JavaScript needed), and checks the DOM:
// every mirrored item is linked, with its sha256, and every link of the
// page resolves.
func TestBrowsePageChromium(t *testing.T) {
	chromium := requireTool(t, "chromium", "SSMIRROR_REQUIRE_CHROMIUM")
	f := newFixture(t)
	s3 := s3test.Shared(t)
	setS3Env(t, s3)
	bucket := s3.NewBucket(t)
	web := bucketWeb(t, s3)
	mirrorURL := web.URL + "/" + bucket + "/maas/"
	out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring, "--endpoint", s3.Endpoint, "--path-style",
		"--public-url", mirrorURL, f.srv.Root(), "s3://" + bucket + "/maas"}, maasFilter...)...)
	if code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	pageURL := mirrorURL + "index.html"
	if !strings.Contains(out, "browse the mirror at "+pageURL+"\n") {
		t.Errorf("the run does not print the page's URL:\n%s", out)
	}
	resp, err := http.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); resp.StatusCode != 200 ||
		!strings.HasPrefix(ct, "text/html") || cc != apply.MetadataCacheControl {
		t.Errorf("GET %s: %s, Content-Type %q, Cache-Control %q", pageURL, resp.Status, ct, cc)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-javascript",
		"--user-data-dir="+t.TempDir(), "--dump-dom", pageURL)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	dom, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("chromium --dump-dom %s: %v\n%s", pageURL, err, stderr)
	}
	if !strings.Contains(string(dom), "<h1>SimpleStreams mirror</h1>") {
		t.Fatalf("chromium did not render the page:\n%.2000s", dom)
	}
	rows := regexp.MustCompile(`<tr class="item">.*?<a href="([^"]+)">.*?<td class="sha">([0-9a-f]*)</td></tr>`).FindAllStringSubmatch(string(dom), -1)
	linked := map[string]string{}
	for _, r := range rows {
		linked[html.UnescapeString(r[1])] = r[2]
	}
	want := f.expected()
	for p := range want {
		if _, ok := linked[p]; !ok {
			t.Errorf("the page does not link %s", p)
		}
	}
	if len(linked) != len(want) {
		t.Errorf("the page links %d items, want %d", len(linked), len(want))
	}
	for _, m := range regexp.MustCompile(`<a href="([^"]+)"`).FindAllStringSubmatch(string(dom), -1) {
		ref, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Errorf("link %q: %v", m[1], err)
			continue
		}
		base, _ := url.Parse(pageURL)
		target := base.ResolveReference(ref).String()
		resp, err := http.Head(target)
		if err != nil {
			t.Errorf("link %s: %v", target, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("link %s: %s", target, resp.Status)
		}
	}
	if strings.Contains(string(dom), "<script") {
		t.Error("the page has a script")
	}
}

// TestBrowsePageOff: --no-browse-page (or no_browse_page) publishes no
// page and prints no URL; an upstream item at the page's path fails the
// run and publishes nothing.
func TestBrowsePageOff(t *testing.T) {
	f := newFixture(t)
	dst := filepath.Join(t.TempDir(), "m")
	t.Setenv("SSMIRROR_NO_BROWSE_PAGE", "true")
	out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring, f.srv.Root(), dst}, maasFilter...)...)
	if code != 0 || strings.Contains(out, "browse the mirror") {
		t.Fatalf("sync with SSMIRROR_NO_BROWSE_PAGE: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dst, plan.BrowsePage)); !os.IsNotExist(err) {
		t.Errorf("the page was published: %v", err)
	}

	// A hostile upstream names an item index.html.
	const prod = "com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04"
	for _, v := range f.docs[0]["products"].(map[string]any)[prod].(map[string]any)["versions"].(map[string]any) {
		for _, it := range v.(map[string]any)["items"].(map[string]any) {
			it.(map[string]any)["path"] = plan.BrowsePage
			break
		}
	}
	f.build(t)
	t.Setenv("SSMIRROR_NO_BROWSE_PAGE", "")
	dst2 := filepath.Join(t.TempDir(), "m2")
	_, errOut, code = run(t, append([]string{"sync", "--keyring", f.keyring, f.srv.Root(), dst2}, maasFilter...)...)
	if code != exitError || !strings.Contains(errOut, `has path "index.html", one of the mirror's own files`) {
		t.Errorf("an item at index.html: exit %d, want %d naming the path\n%s", code, exitError, errOut)
	}
	if entries, _ := os.ReadDir(dst2); len(entries) > 1 {
		t.Errorf("the failed run left %v", entries)
	}
}
