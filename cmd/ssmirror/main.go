// Command ssmirror publishes SimpleStreams image mirrors (MAAS, LXD,
// OpenStack) into S3-compatible object storage or a local directory.
//
// This package is the command line only: it parses flags into config
// structs, opens the source and the target, and calls the library packages.
// Errors become exit statuses in one place, exitCode.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/internal/redact"
	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/gpg"
)

// Exit statuses. Documented in the root command's help (exitHelp).
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitPartial     = 3
	exitIntegrity   = 4
	exitInterrupted = 130
)

const exitHelp = `Exit status:
  0    done (also when there was nothing to do)
  1    error (source unreachable, target refused, bad catalog, ...)
  2    bad usage or configuration, or a store that lacks what publishing
       safely needs (conditional writes, without --single-writer)
  3    partial: some items failed; the published index did not advance
       for the products that need them, and nothing was deleted
  4    signature or integrity failure: a signature or keyring is bad or
       the signer is not trusted, or an item's bytes did not match the
       catalog's size and checksum
  130  interrupted (SIGINT/SIGTERM); nothing half-done was published`

// errUsage marks command-line mistakes: the library's mistakes of usage
// and the command line's are one kind, with one exit status.
var errUsage = mirror.ErrUsage

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := newRootCommand()
	root.SetArgs(protectOr(os.Args[1:]))
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, errorLine(err))
	}
	os.Exit(exitCode(ctx, err))
}

// errorLine is the last line a failed command prints, its URLs redacted.
func errorLine(err error) string { return redact.Text("ssmirror: " + err.Error()) }

// exitCode maps an error to the documented exit status.
func exitCode(ctx context.Context, err error) int {
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, errUsage), errors.Is(err, mirror.ErrUnsafeStore), errors.Is(err, config.ErrInvalid),
		errors.Is(err, filter.ErrSyntax), errors.Is(err, source.ErrNoKeyring):
		return exitUsage
	case errors.Is(err, gpg.ErrVerification), errors.Is(err, gpg.ErrMalformed), errors.Is(err, source.ErrIntegrity):
		return exitIntegrity
	case errors.Is(err, apply.ErrPartial):
		return exitPartial
	}
	return exitError
}

// orToken stands for a literal --or argument while cobra parses flags (it
// cannot contain NUL, so no real argument collides with it).
const orToken = "\x00or"

// protectOr hides literal --or arguments from the flag parser so that they
// reach the command as filter-group separators.
func protectOr(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == filter.OrArg {
			a = orToken
		}
		out[i] = a
	}
	return out
}

// restoreOr undoes protectOr.
func restoreOr(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == orToken {
			a = filter.OrArg
		}
		out[i] = a
	}
	return out
}
