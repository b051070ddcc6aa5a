package main

import (
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/spf13/cobra"
)

// globalOptions are the flags every command has.
type globalOptions struct {
	logFormat string
	verbose   int
	log       *slog.Logger // set before a command runs
	logOut    *logSink     // where log's lines go
}

// setup builds the logger: text or JSON lines on stderr, at Info level, or
// Debug with -v. The logger, the output and the progress display write to
// stderr from several goroutines, so stderr becomes a lockedWriter that
// all of them share.
func (g *globalOptions) setup(cmd *cobra.Command) error {
	if _, ok := cmd.ErrOrStderr().(*lockedWriter); !ok {
		cmd.Root().SetErr(&lockedWriter{w: cmd.ErrOrStderr()})
	}
	level := slog.LevelInfo
	if g.verbose > 0 {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	g.logOut = &logSink{w: cmd.ErrOrStderr()}
	switch g.logFormat {
	case "text":
		g.log = slog.New(slog.NewTextHandler(g.logOut, opts))
	case "json":
		g.log = slog.New(slog.NewJSONHandler(g.logOut, opts))
	default:
		return fmt.Errorf("%w: --log-format %q: want text or json", errUsage, g.logFormat)
	}
	return nil
}

// lockedWriter serializes the writes of several goroutines to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logSink is where log lines go: stderr, or for the length of a run the
// run's text output, which puts them above its progress bars instead of
// through them.
type logSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	w := s.w
	s.mu.Unlock()
	return w.Write(p)
}

// redirect sends the lines to w until the returned function is called.
func (s *logSink) redirect(w io.Writer) (restore func()) {
	s.mu.Lock()
	prev := s.w
	s.w = w
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.w = prev
		s.mu.Unlock()
	}
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{log: slog.New(slog.DiscardHandler), logOut: &logSink{w: io.Discard}}
	root := &cobra.Command{
		Use:   "ssmirror",
		Short: "Publish SimpleStreams image mirrors into S3 or a directory",
		Long: `ssmirror mirrors a SimpleStreams catalog (images.maas.io, cloud-images.ubuntu.com,
or any mirror of them) into S3-compatible object storage or a local directory.
It verifies the signed catalog, selects items with filters, streams the missing
items straight into the target (verified as they stream), and writes the index
files last, so the target always serves a consistent mirror.

` + exitHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setup(cmd)
		},
	}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "format of log lines on stderr: text or json")
	root.PersistentFlags().CountVarP(&g.verbose, "verbose", "v", "log more: why each object is transferred, lease and state events")
	root.AddCommand(newSyncCommand(g), newPlanCommand(g), newVerifySignatureCommand(), newListCommand(), newVerifyCommand(), newVersionCommand(root), newCompletionCommand(), newDocsCommand(), newGCCommand(), newConfigCommand())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %w", errUsage, err)
	})
	return root
}

// usageArgs wraps a cobra argument check so that its errors are usage
// errors (exit status 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		return nil
	}
}
