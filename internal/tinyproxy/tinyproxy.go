// Package tinyproxy runs Debian's tinyproxy, a real HTTP proxy, on
// loopback for tests, and reads what it logged.
//
// It is a test helper; nothing in the product imports it. Tests are
// skipped when tinyproxy is not installed, unless SSMIRROR_REQUIRE_TINYPROXY
// is set (as .ci/run does), which makes its absence a failure.
package tinyproxy

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Proxy is a running tinyproxy.
type Proxy struct {
	URL string // http://127.0.0.1:PORT
	log string
}

// Start runs tinyproxy on a free loopback port until the test ends.
func Start(t *testing.T) *Proxy {
	t.Helper()
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		if os.Getenv("SSMIRROR_REQUIRE_TINYPROXY") != "" {
			t.Fatal("tinyproxy is not installed (apt-get install tinyproxy)")
		}
		t.Skip("tinyproxy is not installed (apt-get install tinyproxy)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	p := &Proxy{URL: fmt.Sprintf("http://127.0.0.1:%d", port), log: filepath.Join(dir, "tinyproxy.log")}
	conf := filepath.Join(dir, "tinyproxy.conf")
	// No ConnectPort line: CONNECT is allowed to any port.
	body := fmt.Sprintf("Port %d\nListen 127.0.0.1\nTimeout 60\nLogLevel Info\nLogFile %q\nPidFile %q\nMaxClients 64\nAllow 127.0.0.1\n",
		port, p.log, filepath.Join(dir, "tinyproxy.pid"))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", p.URL[len("http://"):], time.Second)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("tinyproxy did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Requests returns the request lines tinyproxy logged ("GET
// http://host:port/path HTTP/1.1", "CONNECT host:port HTTP/1.1").
func (p *Proxy) Requests(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(p.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if _, req, ok := strings.Cut(line, "): "); ok && strings.Contains(line, "Request (file descriptor") {
			out = append(out, req)
		}
	}
	return out
}
