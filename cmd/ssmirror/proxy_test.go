package main

import (
	"context"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/tinyproxy"
	"github.com/ssmirror/ssmirror/target/dirstore"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// proxied returns the request lines of p that name host (host:port).
func proxied(t *testing.T, p *tinyproxy.Proxy, host string) []string {
	t.Helper()
	var out []string
	for _, r := range p.Requests(t) {
		if strings.Contains(r, host) {
			out = append(out, r)
		}
	}
	return out
}

// TestUpstreamProxy syncs into the S3 server with --upstream-proxy
// pointing at a real tinyproxy: every upstream request goes through it,
// none of the store's.
func TestUpstreamProxy(t *testing.T) {
	px := tinyproxy.Start(t)
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	f := newFixture(t)
	bucket := srv.NewBucket(t)
	out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style",
		"--upstream-proxy", px.URL, f.srv.Root(), "s3://" + bucket + "/m"}, maasFilter...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	up := strings.TrimPrefix(f.srv.URL, "http://")
	got := proxied(t, px, up)
	if int64(len(got)) != f.srv.Total() || len(got) == 0 {
		t.Errorf("the proxy relayed %d upstream requests, the upstream served %d", len(got), f.srv.Total())
	}
	if !strings.Contains(strings.Join(got, "\n"), "GET http://"+up+"/streams/v1/index.sjson") {
		t.Errorf("the index was not fetched through the proxy:\n%s", strings.Join(got, "\n"))
	}
	if s3 := proxied(t, px, strings.TrimPrefix(srv.Endpoint, "http://")); len(s3) > 0 {
		t.Errorf("store requests went through the upstream proxy:\n%s", strings.Join(s3, "\n"))
	}
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	f.checkMirror(t, st, f.expected())
}

// TestProxyEnvironment runs ssmirror (a real process: net/http reads the
// proxy variables once) with HTTP_PROXY, HTTPS_PROXY and NO_PROXY, against
// a real tinyproxy. The upstream is reached by the machine's host name:
// net/http never proxies a loopback address or "localhost".
func TestProxyEnvironment(t *testing.T) {
	px := tinyproxy.Start(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 || !net.ParseIP(addrs[0]).IsLoopback() {
		t.Skipf("the host name %q does not resolve to a loopback address (%v, %v)", host, addrs, err)
	}
	f := newFixture(t)
	tlsUp := httptest.NewTLSServer(f.srv.Config.Handler)
	t.Cleanup(tlsUp.Close)
	byName := func(raw string) (root, hostport string) {
		u, _ := url.Parse(raw)
		_, port, _ := net.SplitHostPort(u.Host)
		u.Host = net.JoinHostPort(host, port)
		return u.String() + "/", u.Host
	}
	plain, plainHost := byName(f.srv.URL)
	secure, secureHost := byName(tlsUp.URL)
	noProxy := []string{"HTTP_PROXY=", "HTTPS_PROXY=", "NO_PROXY=", "http_proxy=", "https_proxy=", "no_proxy="}
	sync := func(env []string, root string) {
		t.Helper()
		args := append([]string{"sync", "--keyring", f.keyring, "--insecure-tls", root, filepath.Join(t.TempDir(), "m")}, maasFilter...)
		p := start(t, append(noProxy, env...), args...)
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("%v: %v\n%s%s", env, err, p.stdout.String(), p.stderr.String())
		}
		dst := args[len(args)-len(maasFilter)-1]
		st, err := dirstore.New(dst)
		if err != nil {
			t.Fatal(err)
		}
		f.checkJSON(t, st, f.expected())
	}

	sync([]string{"HTTP_PROXY=" + px.URL}, plain)
	if got := proxied(t, px, plainHost); len(got) == 0 || !strings.HasPrefix(got[0], "GET http://"+plainHost+"/") {
		t.Errorf("HTTP_PROXY: the proxy relayed %q", got)
	}
	sync([]string{"HTTPS_PROXY=" + px.URL}, secure)
	if got := proxied(t, px, secureHost); len(got) == 0 || !strings.HasPrefix(got[0], "CONNECT "+secureHost+" ") {
		t.Errorf("HTTPS_PROXY: the proxy relayed %q, want CONNECT tunnels", got)
	}
	before := len(px.Requests(t))
	sync([]string{"HTTP_PROXY=" + px.URL, "HTTPS_PROXY=" + px.URL, "NO_PROXY=" + host}, plain)
	if got := px.Requests(t)[before:]; len(got) != 0 {
		t.Errorf("NO_PROXY=%s: the proxy still relayed %q", host, got)
	}
}
