package main

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssmirror/ssmirror/config"
)

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration",
	}
	cmd.AddCommand(newConfigShowCommand())
	return cmd
}

func newConfigShowCommand() *cobra.Command {
	var o syncOptions
	cmd := &cobra.Command{
		Use:   "show [flags] (--config FILE [NAME...] | SOURCE TARGET [FILTER...])",
		Short: "Print the effective settings of each mirror, secrets redacted",
		Long: `Print, as JSON, the settings each mirror would run with after applying, in this
order of precedence: flags, SSMIRROR_* environment variables, the config
file (the mirror's section over "defaults"), built-in defaults. Secrets
(passphrases, secret keys) are printed as REDACTED.

Exit status: 0; 2 bad usage or an invalid setting (the message names the key).`,
		Args: syncArgsCheck(&o),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigShow(o, cmd.Flags(), args, cmd.OutOrStdout())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runConfigShow(o syncOptions, flags *pflag.FlagSet, args []string, stdout io.Writer) error {
	cfgs, names, err := syncConfigs(o, flags, args)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	for i, cfg := range cfgs {
		if err := enc.Encode(struct {
			Name string `json:"name,omitempty"`
			*config.Sync
		}{names[i], &cfg}); err != nil {
			return err
		}
	}
	return nil
}
