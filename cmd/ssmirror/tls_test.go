package main

import (
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/s3test"
)

// TestTLSVerification: TLS certificates are verified by default; --cacert
// trusts a private CA, --insecure-tls skips the check, and the secret never
// appears in any output.
func TestTLSVerification(t *testing.T) {
	srv := s3test.StartTLS(t)
	setS3Env(t, srv)
	f := newFixture(t)
	bucket := srv.NewBucket(t)
	args := func(extra ...string) []string {
		return append(append([]string{"sync", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style"}, extra...),
			f.srv.Root(), "s3://"+bucket+"/m", "arch=amd64", "--max", "1")
	}
	var all strings.Builder
	run := func(a ...string) (string, string, int) {
		out, errOut, code := run(t, a...)
		all.WriteString(out + errOut)
		return out, errOut, code
	}
	out, errOut, code := run(args()...)
	if code != 1 || !strings.Contains(errOut, "certificate") {
		t.Errorf("self-signed certificate accepted by default: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(args("--cacert", srv.CertFile)...)
	if code != 0 {
		t.Errorf("--cacert: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(args("--insecure-tls", "--gc-grace", "0")...)
	if code != 0 {
		t.Errorf("--insecure-tls: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(args("--cacert", "/nonexistent.pem")...)
	if code != 2 || !strings.Contains(errOut, "/nonexistent.pem") {
		t.Errorf("missing --cacert file: exit %d\n%s", code, errOut)
	}
	if strings.Contains(all.String(), srv.SecretKey) {
		t.Error("the secret key was printed")
	}
}
