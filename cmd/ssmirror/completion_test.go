package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestCompletion(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash":       "# bash completion V2 for ssmirror",
		"zsh":        "#compdef ssmirror",
		"fish":       "complete -c ssmirror",
		"powershell": "Register-ArgumentCompleter",
	} {
		out, errOut, code := run(t, "completion", shell)
		if code != 0 || !strings.Contains(out, marker) {
			t.Errorf("completion %s: exit %d, output without %q\n%.300s%s", shell, code, marker, out, errOut)
		}
	}
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		if out, errOut, code := run(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
	// The scripts complete subcommands and the shells of completion.
	out, _, _ := run(t, "__complete", "ver")
	for _, w := range []string{"verify\t", "verify-signature\t", "version\t"} {
		if !strings.Contains(out, w) {
			t.Errorf("__complete ver: no %q in\n%s", w, out)
		}
	}
	out, _, _ = run(t, "__complete", "completion", "")
	for _, w := range completionShells {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("__complete completion: no %q in\n%s", w, out)
		}
	}
}

// TestOneCompletionCommand: cobra adds its own completion command unless
// one exists; after a run there must be exactly ours.
func TestOneCompletionCommand(t *testing.T) {
	root := newRootCommand()
	root.SetArgs([]string{"completion", "bash"})
	var out bytes.Buffer
	root.SetOut(&out)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			n++
			if !strings.Contains(c.Long, "Exit status") {
				t.Errorf("the completion command is not ours: %q", c.Short)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d completion commands, want 1", n)
	}
}
