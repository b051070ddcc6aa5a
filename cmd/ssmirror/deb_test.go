package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebianPackage builds the Debian package with packaging/deb/build.sh,
// installs it into this machine with apt-get, and checks what it installed:
// the stamped version, man pages, completions, the example config (which
// config show accepts), and the systemd units (systemd-analyze verify). It
// changes the machine, so it runs only when SSMIRROR_REQUIRE_DEB is set
// (as .ci/run sets it), and removes the package at the end.
func TestDebianPackage(t *testing.T) {
	if os.Getenv("SSMIRROR_REQUIRE_DEB") == "" {
		t.Skip("installs a package into the machine: set SSMIRROR_REQUIRE_DEB=1 (.ci/run does)")
	}
	for _, tool := range []string{"dpkg-deb", "apt-get", "systemd-analyze"} {
		requireTool(t, tool, "SSMIRROR_REQUIRE_DEB")
	}
	if os.Geteuid() != 0 {
		t.Fatal("SSMIRROR_REQUIRE_DEB is set but the test does not run as root")
	}
	if _, err := os.Stat("/usr/bin/ssmirror"); err == nil {
		t.Fatal("/usr/bin/ssmirror exists already; remove it first")
	}
	sh := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	const version = "1.4.0~test1"
	out := t.TempDir()
	deb := strings.TrimSpace(sh("../../packaging/deb/build.sh", version, out))
	if filepath.Base(deb) != "ssmirror_"+version+"_"+strings.TrimSpace(sh("dpkg", "--print-architecture"))+".deb" {
		t.Fatalf("build.sh made %s", deb)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--purge", "ssmirror").CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge ssmirror: %v\n%s", err, out)
		}
	})
	sh("apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", deb)

	if got := sh("/usr/bin/ssmirror", "version"); !strings.HasPrefix(got, "ssmirror "+version+" (") {
		t.Errorf("ssmirror version: %q, want the package version %s", got, version)
	}
	listed := sh("dpkg", "-L", "ssmirror")
	for _, f := range []string{
		"/usr/bin/ssmirror", "/usr/share/man/man1/ssmirror.1.gz", "/usr/share/man/man1/ssmirror-sync.1.gz",
		"/usr/share/bash-completion/completions/ssmirror", "/usr/share/zsh/vendor-completions/_ssmirror",
		"/usr/share/fish/vendor_completions.d/ssmirror.fish",
		"/lib/systemd/system/ssmirror.service", "/lib/systemd/system/ssmirror.timer", "/etc/ssmirror.yaml",
	} {
		if !strings.Contains(listed, f+"\n") {
			t.Errorf("the package does not install %s", f)
		}
		if _, err := os.Stat(f); err != nil {
			t.Errorf("installed: %v", err)
		}
	}
	if conf := sh("dpkg-query", "-W", "-f", "${Conffiles}", "ssmirror"); !strings.Contains(conf, "/etc/ssmirror.yaml") {
		t.Errorf("/etc/ssmirror.yaml is not a conffile: %q", conf)
	}
	if got := sh("/usr/bin/ssmirror", "config", "show", "--config", "/etc/ssmirror.yaml"); !strings.Contains(got, "images.maas.io") {
		t.Errorf("config show of the example config:\n%s", got)
	}
	sh("systemd-analyze", "verify", "/lib/systemd/system/ssmirror.service", "/lib/systemd/system/ssmirror.timer")
}
