package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDocsMan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	if out, errOut, code := run(t, "docs", "man", dir); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, name := range []string{"ssmirror.1", "ssmirror-list.1", "ssmirror-verify.1", "ssmirror-version.1", "ssmirror-completion.1"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ssmirror-docs.1")); err == nil {
		t.Error("the hidden docs command got a man page")
	}
	page, err := os.ReadFile(filepath.Join(dir, "ssmirror-sync.1"))
	if err != nil {
		t.Fatal(err)
	}
	// The exit statuses are a preformatted block, one status a line.
	for _, w := range []string{".TH \"SSMIRROR\" \"1\"", "Exit status:", "\n.EX\n  0    done", "\n  4    signature or integrity failure", "\n  130  interrupted"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("ssmirror-sync.1 lacks %q:\n%s", w, page)
		}
	}
}

func TestDocsMarkdown(t *testing.T) {
	dir := t.TempDir()
	if out, errOut, code := run(t, "docs", "markdown", dir); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	page, err := os.ReadFile(filepath.Join(dir, "ssmirror_verify.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"## ssmirror verify", "Exit status:\n\n      0    the mirror is sound", "--checksums"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("ssmirror_verify.md lacks %q:\n%s", w, page)
		}
	}
	if strings.Contains(string(page), "Auto generated") {
		t.Error("the pages carry a generation date")
	}
	for _, args := range [][]string{{"docs", "pdf", dir}, {"docs", "man"}} {
		if out, errOut, code := run(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
}

func TestMarkdownBlocks(t *testing.T) {
	in := "Intro:\n  0    ok\n       more\n  1    error\nAfter.\n\nExit status: 0."
	want := "Intro:\n\n      0    ok\n           more\n      1    error\n\nAfter.\n\nExit status: 0."
	if got := markdownBlocks(in); got != want {
		t.Errorf("markdownBlocks:\n got %q\nwant %q", got, want)
	}
	root := newRootCommand()
	long := root.Long
	restore := prepareDocs(root)
	if root.Long == long {
		t.Error("prepareDocs left the root's help as it was")
	}
	restore()
	if root.Long != long || root.DisableAutoGenTag {
		t.Error("prepareDocs' restore did not undo the changes")
	}
}
