package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/internal/ui"
	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/target"
)

type doctorOptions struct {
	s3     config.S3
	config string // --config
	json   bool
}

func newDoctorCommand() *cobra.Command {
	var o doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor [flags] (TARGET | --config FILE MIRROR)",
		Short: "Probe what an S3 store honours, and print what ssmirror does there",
		Long: `Probe what the store at TARGET honours, on scratch keys under .ssmirror/ that
are deleted afterwards: conditional writes (If-None-Match: * and If-Match on
PUT), the x-amz-checksum-sha256 header, Content-MD5, ListObjectsV2 start-after,
user metadata and Cache-Control. Print every check, then each capability and
what ssmirror does with or without it. The result is kept in the target
(.ssmirror/capabilities.json); sync probes once per endpoint and server and
reuses it. A directory honours everything.

` + exitHelp,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, args, err := locationSettings(o.config, cmd.Flags(), args, "target", targetOf)
			if err != nil {
				return err
			}
			o.s3 = cfg.S3
			return runDoctor(cmd.Context(), o, args[0], cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print the probe as JSON")
	addSettingFlags(f, config.CmdDoctor)
	addConfigFlag(f, &o.config, "target")
	return cmd
}

func runDoctor(ctx context.Context, o doctorOptions, loc string, stdout io.Writer) error {
	dst, err := mirror.OpenTarget(ctx, loc, o.s3)
	if err != nil {
		return err
	}
	p, err := target.ProbeStore(ctx, dst, true)
	if err != nil {
		return err
	}
	return ui.WriteDoctor(stdout, p, o.json)
}
