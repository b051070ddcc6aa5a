package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
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
	}
	root.AddCommand(newSyncCommand(), newPlanCommand(), newVerifySignatureCommand(), newListCommand(), newVerifyCommand(), newVersionCommand(root), newCompletionCommand(), newDocsCommand(), newGCCommand(), newConfigCommand())
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
