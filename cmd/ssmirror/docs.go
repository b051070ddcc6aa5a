package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

type docsOptions struct{}

// docsFormats are the formats docs writes.
var docsFormats = []string{"man", "markdown"}

func newDocsCommand() *cobra.Command {
	var o docsOptions
	cmd := &cobra.Command{
		Use:   "docs man|markdown DIR",
		Short: "Write the manual pages or Markdown reference of every command into DIR",
		Long: `Write the documentation of every command into DIR, creating it if needed: man
pages (ssmirror.1, ssmirror-sync.1, ...) or Markdown files (ssmirror.md,
ssmirror_sync.md, ...), for packaging.

Exit status: 0 written; 2 bad usage; 1 DIR could not be written.`,
		Hidden:    true,
		ValidArgs: docsFormats,
		Args: usageArgs(cobra.MatchAll(cobra.ExactArgs(2), func(cmd *cobra.Command, args []string) error {
			return cobra.OnlyValidArgs(cmd, args[:1])
		})),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDocs(cmd.Root(), o, args)
		},
	}
	return cmd
}

func runDocs(root *cobra.Command, _ docsOptions, args []string) error {
	format, dir := args[0], args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	restore := prepareDocs(root)
	defer restore()
	switch format {
	case "man":
		header := &doc.GenManHeader{
			Title:   "SSMIRROR",
			Section: "1",
			Source:  "ssmirror " + buildVersion().Version,
			Manual:  "ssmirror manual",
		}
		if err := doc.GenManTree(root, header, dir); err != nil {
			return fmt.Errorf("docs: %w", err)
		}
	case "markdown":
		if err := doc.GenMarkdownTree(root, dir); err != nil {
			return fmt.Errorf("docs: %w", err)
		}
	default:
		return fmt.Errorf("%w: docs: unknown format %q (want man or markdown)", errUsage, format)
	}
	return nil
}

// prepareDocs readies the command tree for the generators, which read the
// long help as Markdown: indented blocks (exit statuses, examples of
// output) become preformatted blocks instead of run-on paragraphs, and the
// "Auto generated ... on DATE" footer is dropped so that the output is
// reproducible. It returns a function that undoes the changes.
func prepareDocs(root *cobra.Command) (restore func()) {
	type saved struct {
		cmd  *cobra.Command
		long string
	}
	var undo []saved
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		undo = append(undo, saved{c, c.Long})
		c.Long = markdownBlocks(c.Long)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	autoGen := root.DisableAutoGenTag
	root.DisableAutoGenTag = true
	return func() {
		for _, s := range undo {
			s.cmd.Long = s.long
		}
		root.DisableAutoGenTag = autoGen
	}
}

// markdownBlocks turns every run of lines indented by two or more spaces
// into a Markdown code block: set off by blank lines and indented by four
// spaces more.
func markdownBlocks(text string) string {
	lines := strings.Split(text, "\n")
	var out []string
	inBlock := false
	for _, l := range lines {
		indented := strings.HasPrefix(l, "  ") && strings.TrimSpace(l) != ""
		switch {
		case indented && !inBlock:
			if len(out) > 0 && out[len(out)-1] != "" {
				out = append(out, "")
			}
			inBlock = true
		case !indented && inBlock:
			if l != "" {
				out = append(out, "")
			}
			inBlock = false
		}
		if indented {
			l = "    " + l
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
