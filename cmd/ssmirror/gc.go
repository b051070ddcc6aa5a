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
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/target/lease"
)

type gcOptions struct {
	s3         config.S3
	grace      time.Duration
	uploadsAge time.Duration
	dryRun     bool
	wait       time.Duration
	config     string // --config
}

func newGCCommand() *cobra.Command {
	var o gcOptions
	cmd := &cobra.Command{
		Use:   "gc [flags] (TARGET | --config FILE MIRROR)",
		Short: "Delete objects whose grace period is over, and abort stale multipart uploads",
		Long: `Delete the objects that left a mirror more than --gc-grace ago (sync does this
too, at the end of every run), and abort incomplete multipart uploads older than
--uploads-older-than (left by runs that were killed). Objects the published
metadata references are never deleted, whatever the state object says.

` + exitHelp,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, args, err := locationSettings(o.config, cmd.Flags(), args, "target", targetOf)
			if err != nil {
				return err
			}
			o.s3, o.grace, o.dryRun, o.wait = cfg.S3, time.Duration(cfg.GCGrace), cfg.DryRun, time.Duration(cfg.Wait)
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
	dst, err := mirror.OpenTarget(ctx, loc, o.s3)
	if err != nil {
		return err
	}
	guarded := dst // what gc deletes through: only while the lease is held
	var l *lease.Lease
	if !o.dryRun {
		if l, err = lease.Acquire(ctx, dst, lease.Options{Wait: o.wait, Clock: leaseClock}); err != nil {
			return err
		}
		defer l.Release(context.WithoutCancel(ctx))
		guarded = l.Guard(dst)
	}
	st, err := apply.LoadState(ctx, dst, apply.LoadOptions{})
	if err != nil {
		return err
	}
	p := plan.GC(st, o.grace)
	for _, d := range p.Deletes {
		fmt.Fprintf(stdout, "delete %s (%s, %s)\n", d.Path, plan.Bytes(d.Size), d.Reason)
	}
	aborter, canAbort := dst.(interface {
		AbortIncompleteUploads(context.Context, time.Duration) ([]string, error)
	})
	if o.dryRun {
		return nil
	}
	res, err := apply.Run(ctx, p, nil, guarded, apply.Options{})
	if err != nil {
		return err
	}
	aborted := 0
	if canAbort {
		if err := l.Check(); err != nil {
			return err
		}
		keys, err := aborter.AbortIncompleteUploads(ctx, o.uploadsAge)
		for _, k := range keys {
			fmt.Fprintf(stdout, "aborted incomplete upload of %s\n", k)
		}
		if err != nil {
			return err
		}
		aborted = len(keys)
	}
	fmt.Fprintf(stdout, "deleted %d objects, %d could not be deleted; aborted %d incomplete uploads\n", res.Deleted, res.DeleteErrors, aborted)
	return nil
}
