package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/monitor"
	"github.com/ssmirror/ssmirror/plan"
)

// errStale means a mirror's last successful sync is older than --max-age.
var errStale = errors.New("stale mirror")

type statusOptions struct {
	s3     config.S3
	maxAge time.Duration
	json   bool
}

func newStatusCommand() *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status [flags] TARGET",
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
			return runStatus(cmd.Context(), o, args[0], time.Now(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.maxAge, "max-age", 0, "exit 1 when the last successful sync ended longer ago than this (0: never)")
	f.BoolVar(&o.json, "json", false, "print the status as one JSON object")
	addS3Flags(f, &o.s3)
	return cmd
}

func runStatus(ctx context.Context, o statusOptions, loc string, now time.Time, stdout io.Writer) error {
	if o.maxAge < 0 {
		return fmt.Errorf("%w: --max-age: %s is negative", config.ErrInvalid, o.maxAge)
	}
	if err := o.s3.Validate(); err != nil {
		return err
	}
	dst, err := openTarget(ctx, loc, o.s3)
	if err != nil {
		return err
	}
	s, err := monitor.ReadStatus(ctx, dst)
	if err != nil {
		return err
	}
	age := now.Sub(s.Synced)
	stale := o.maxAge > 0 && age > o.maxAge
	if o.json {
		err = json.NewEncoder(stdout).Encode(struct {
			monitor.Status
			Target     string  `json:"target"`
			AgeSeconds float64 `json:"age_seconds"`
			Stale      bool    `json:"stale"`
		}{s, dst.String(), age.Seconds(), stale})
	} else {
		_, err = fmt.Fprintf(stdout, "%s\n  last synced:     %s (%s ago) by ssmirror %s\n  last published:  %s\n  upstream:        %s\n  signed metadata: %s\n  items:           %d objects, %s\n",
			dst, s.Synced.UTC().Format(time.RFC3339), age.Round(time.Second), s.Ssmirror,
			s.Published.UTC().Format(time.RFC3339), s.Source, s.SignedMetadata, s.Objects, plan.Bytes(s.Bytes))
	}
	if err != nil {
		return err
	}
	if stale {
		return fmt.Errorf("%s: %w: last synced %s ago, more than --max-age %s", dst, errStale, age.Round(time.Second), o.maxAge)
	}
	return nil
}
