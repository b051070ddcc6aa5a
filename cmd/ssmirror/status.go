package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/internal/ui"
	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/monitor"
)

// errStale means a mirror's last successful sync is older than --max-age.
var errStale = errors.New("stale mirror")

type statusOptions struct {
	s3     config.S3
	config string // --config
	maxAge time.Duration
	json   bool
}

func newStatusCommand() *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status [flags] (TARGET | --config FILE MIRROR)",
		Short: "Show when a mirror was last synced and what it holds; fail when it is stale",
		Long: `Show what the last successful sync of TARGET recorded (.ssmirror/status.json):
when it ended, when the index was last replaced, the ssmirror version and the
upstream, the signed-metadata mode, and the items the mirror holds (objects and
bytes). With --max-age, exit 1 when the last successful sync ended longer ago
than that (a check for Nagios or cron); a run that failed does not count.
--json prints the record with the fields age_seconds and stale added.

Exit status:
  0    the record was read (and is not older than --max-age)
  1    the mirror is stale, has no record, or the target is unreachable
  2    bad usage`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, args, err := locationSettings(o.config, cmd.Flags(), args, "target", targetOf)
			if err != nil {
				return err
			}
			o.s3 = cfg.S3
			return runStatus(cmd.Context(), o, args[0], time.Now(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.maxAge, "max-age", 0, "exit 1 when the last successful sync ended longer ago than this (0: never)")
	f.BoolVar(&o.json, "json", false, "print the status as one JSON object")
	addSettingFlags(f, config.CmdStatus)
	addConfigFlag(f, &o.config, "target")
	return cmd
}

func runStatus(ctx context.Context, o statusOptions, loc string, now time.Time, stdout io.Writer) error {
	if o.maxAge < 0 {
		return fmt.Errorf("%w: --max-age: %s is negative", config.ErrInvalid, o.maxAge)
	}
	if err := o.s3.Validate(); err != nil {
		return err
	}
	dst, err := mirror.OpenTarget(ctx, loc, o.s3)
	if err != nil {
		return err
	}
	s, err := monitor.ReadStatus(ctx, dst)
	if err != nil {
		return err
	}
	age := now.Sub(s.Synced)
	stale := o.maxAge > 0 && age > o.maxAge
	if err := ui.WriteStatus(stdout, dst.String(), s, age, stale, o.json); err != nil {
		return err
	}
	if stale {
		return fmt.Errorf("%s: %w: last synced %s ago, more than --max-age %s", dst, errStale, age.Round(time.Second), o.maxAge)
	}
	return nil
}
