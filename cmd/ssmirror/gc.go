package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/plan"
)

type gcOptions struct {
	cfg        config.Sync // the settings: S3, GCGrace, DryRun, Wait
	uploadsAge time.Duration
	config     string // --config
}

func newGCCommand() *cobra.Command {
	var o gcOptions
	cmd := &cobra.Command{
		Use:   "gc [flags] (TARGET | --config FILE MIRROR)",
		Short: "Delete objects whose grace period is over, and abort stale multipart uploads",
		Long: `Delete the objects that left a mirror more than --gc-grace ago (sync does this
too, at the end of every run), and abort incomplete multipart uploads older than
--uploads-older-than (left by runs that were killed), and drop what transfers cut off
that long ago kept to resume from (resume records under .ssmirror/resume/, with their
uploads or temporary files). Objects the published
metadata references are never deleted, whatever the state object says.

` + exitHelp,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, args, err := locationSettings(o.config, cmd.Flags(), args, "target", targetOf)
			if err != nil {
				return err
			}
			o.cfg = cfg
			return runGC(cmd.Context(), o, args[0], cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	addSettingFlags(f, config.CmdGC)
	f.DurationVar(&o.uploadsAge, "uploads-older-than", 24*time.Hour, "abort incomplete multipart uploads started at least this long ago")
	addConfigFlag(f, &o.config, "target")
	return cmd
}

func runGC(ctx context.Context, o gcOptions, loc string, stdout io.Writer) error {
	dst, err := mirror.OpenTarget(ctx, loc, o.cfg.S3)
	if err != nil {
		return err
	}
	res, err := mirror.GC(ctx, dst, mirror.GCOptions{Grace: time.Duration(o.cfg.GCGrace), UploadsAge: o.uploadsAge, DryRun: o.cfg.DryRun, Wait: time.Duration(o.cfg.Wait), LeaseClock: leaseClock,
		Deleting: func(d plan.Delete) { fmt.Fprintf(stdout, "delete %s (%s, %s)\n", d.Path, plan.Bytes(d.Size), d.Reason) },
		Aborted:  func(key string) { fmt.Fprintf(stdout, "aborted incomplete upload of %s\n", key) },
		Dropped:  func(key string) { fmt.Fprintf(stdout, "dropped the resume record of %s\n", key) }})
	if err != nil || o.cfg.DryRun {
		return err
	}
	fmt.Fprintf(stdout, "deleted %d objects, %d could not be deleted; aborted %d incomplete uploads\n", res.Deleted, res.DeleteErrors, res.Aborted)
	return nil
}
