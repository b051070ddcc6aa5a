package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/ssmirror/ssmirror/internal/ui"
)

// globalOptions are the flags every command has.
type globalOptions struct {
	logFormat string
	verbose   int
	logPath   string           // --log-file
	logFile   *os.File         // opened from logPath, if given
	log       *slog.Logger     // set before a command runs
	logOut    *ui.LockedWriter // where log's lines go
}

// setup builds the logger: text or JSON lines on stderr, at Info level, or
// Debug with -v. The logger, the output and the progress display write to
// stderr from several goroutines, so stderr becomes a lockedWriter that
// all of them share.
func (g *globalOptions) setup(cmd *cobra.Command) error {
	if _, ok := cmd.ErrOrStderr().(*ui.LockedWriter); !ok {
		cmd.Root().SetErr(ui.NewLockedWriter(cmd.ErrOrStderr()))
	}
	if _, ok := cmd.OutOrStdout().(*ui.LockedWriter); !ok {
		cmd.Root().SetOut(ui.NewLockedWriter(cmd.OutOrStdout()))
	}
	level := slog.LevelInfo
	if g.verbose > 0 {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	g.logOut = ui.NewLockedWriter(cmd.ErrOrStderr())
	if g.logPath != "" {
		f, err := os.OpenFile(g.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("%w: --log-file: %w", errUsage, err)
		}
		g.logFile = f
		g.logOut = ui.NewLockedWriter(f)
	}
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

func newRootCommand() *cobra.Command {
	g := &globalOptions{log: slog.New(slog.DiscardHandler), logOut: ui.NewLockedWriter(io.Discard)}
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
	root.PersistentFlags().CountVarP(&g.verbose, "verbose", "v", "log more: why each object is transferred, lease and state events (-vv: the same)")
	root.PersistentFlags().StringVar(&g.logPath, "log-file", "", "append log lines to this file instead of stderr")
	root.AddCommand(newSyncCommand(g), newPlanCommand(g), newVerifySignatureCommand(), newListCommand(), newVerifyCommand(), newVersionCommand(root), newCompletionCommand(), newDocsCommand(), newGCCommand(), newConfigCommand(), newStatusCommand(), newDoctorCommand())
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
