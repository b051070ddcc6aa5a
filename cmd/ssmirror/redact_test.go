package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/upstream"
)

// Secrets a source URL carries in the tests below: a password and the
// tokens of a signed URL an upstream redirects to.
const (
	secretPassword = "pAsSw0rd-secret"
	secretSig      = "SIGsecret0123"
	secretCred     = "CREDsecret4567"
	secretToken    = "TOKENsecret89"
)

// TestSecretsRedacted drives the real commands with a source URL that
// carries a password, and an upstream that redirects to a signed URL
// (X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token) that fails: no
// output or log line (the --json summary, error messages, the mirror
// NAME: line of a --config run, config show, plan, -v logs) shows the
// password or a token, while each still names the host.
func TestSecretsRedacted(t *testing.T) {
	srv := upstream.Serve(t, lxdTree(t, "images/a/lxd.tar.xz", "images/a/root.squashfs"))
	host := strings.TrimPrefix(srv.URL, "http://")
	src := "http://mirror:" + secretPassword + "@" + host + "/streams/v1/index.json"
	signed := fmt.Sprintf("http://127.0.0.1:1/bucket/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Signature=%s&X-Amz-Security-Token=%s",
		secretCred, secretSig, secretToken)
	dir := filepath.Join(t.TempDir(), "mirror")
	config := writeConfig(t, fmt.Sprintf("mirrors:\n  lxd: {source: %q, target: %q, retries: 2, retry_delay: 1ms}\n", src, dir))

	// A working source: plan and config show name it.
	runs := [][]string{
		{"plan", src, dir},
		{"plan", "--json", src, dir},
		{"config", "show", "--config", config},
		{"config", "show", src, dir},
		// config show writes JSON, which escapes the & between parameters.
		{"config", "show", fmt.Sprintf("http://%s/mirror/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=%s&X-Amz-Credential=%s&token=%s", host, secretSig, secretCred, secretToken), dir},
	}
	check := func(args []string, out, errOut string) {
		t.Helper()
		all := out + errOut
		for _, s := range []string{secretPassword, secretSig, secretCred, secretToken} {
			if strings.Contains(all, s) {
				t.Errorf("%v prints the secret %q:\n%s", args, s, all)
			}
		}
		if args[0] != "plan" && !strings.Contains(all, host) {
			t.Errorf("%v does not name the source:\n%s", args, all)
		}
	}
	for _, args := range runs {
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		check(args, out, errOut)
	}

	// A failing one: the products file redirects to the signed URL,
	// which refuses connections.
	srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/streams/v1/images.json" {
			http.Redirect(w, r, signed, http.StatusFound)
			return true
		}
		return false
	})
	failing := [][]string{
		{"sync", "--json", "-v", "--retries", "2", "--retry-delay", "1ms", src, dir},
		{"sync", "-v", "--retries", "2", "--retry-delay", "1ms", src, dir},
		{"sync", "-v", "--log-format", "json", "--config", config},
		{"sync", "--json", "--config", config},
		{"plan", "--json", src, dir},
	}
	for _, args := range failing {
		out, errOut, code := run(t, args...)
		if code != 1 {
			t.Fatalf("%v: exit %d, want 1\n%s%s", args, code, out, errOut)
		}
		check(args, out, errOut)
		if !strings.Contains(out+errOut, "X-Amz-Signature=xxxxx") {
			t.Errorf("%v: the error does not name the redirect's target, redacted:\n%s%s", args, out, errOut)
		}
	}
	out, errOut, _ := run(t, "sync", "--json", "--config", config)
	if !strings.Contains(errOut, "mirror lxd: http://mirror:xxxxx@"+host) || !strings.Contains(out, `"source":"http://mirror:xxxxx@`+host) {
		t.Errorf("the mirror line or the JSON summary does not name the redacted source:\n%s%s", out, errOut)
	}
}
