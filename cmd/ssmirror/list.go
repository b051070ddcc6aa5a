package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/internal/ui"
	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source/catalog"
)

// listOptions are the flags of list.
type listOptions struct {
	list   mirror.ListOptions // from the settings; their filters are used when no FILTER is given
	json   bool
	pretty bool
	format string
	config string // --config
}

func (o *listOptions) AddFlags(f *pflag.FlagSet) {
	addSettingFlags(f, config.CmdList)
	f.BoolVar(&o.json, "json", false, "print one JSON object per item and line")
	f.BoolVar(&o.pretty, "pretty", false, "print every item as one indented JSON array, keys sorted")
	f.StringVarP(&o.format, "output-format", "o", "", "print a line per item in this Python %-style format over the --json attributes: '%(path)s %(sha256)s' (sstream-query's)")
	addConfigFlag(f, &o.config, "source")
}

const listExitHelp = `Exit status:
  0    listed (also when no item matches)
  1    error: source unreachable, bad catalog, ...
  2    bad usage: bad flag, filter or keyring file
  4    a signature did not verify, or the signer is not trusted`

func newListCommand() *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "list [flags] (SOURCE | --config FILE MIRROR) [FILTER...] [--or FILTER...]",
		Short: "List the items a source or a published mirror offers",
		Long: `List the items a SimpleStreams source or a published mirror offers, after
filtering: the equivalent of sstream-query. The catalog is read and verified as
sync reads it; nothing is downloaded but the metadata.

SOURCE is an http(s):// mirror root, a URL or path ending in
streams/v1/NAME.sjson or .json (the start file), a local directory or file://
URL, or s3://BUCKET[/PREFIX]. A mirror published by ssmirror is read through its
unsigned index: DIR/streams/v1/index.json or s3://BUCKET/PREFIX/streams/v1/index.json.

FILTERs select items: key=value, key!=value, key~regex, key!~regex, all of them
ANDed. A literal --or starts another group; an item is kept if it matches every
filter of any group. Filters see the flattened attributes --json prints.
--max N keeps the newest N versions of each product after filtering, as sync's
--max does.

The table has one row per item, sorted by content id, product, version and
item: PRODUCT VERSION ITEM FTYPE SIZE PATH. When products of the same name
appear under several content ids (daily and released streams), a CONTENT ID
column comes first. --json prints one object per item and line instead: every
flattened attribute (content_id, product_name, version_name, item_name and the
inherited fields, as strings), with path, size (a number) and sha256.
--pretty prints the same objects as one indented JSON array. --output-format
(-o) prints a line per item in a Python %-style format over the same keys, as
sstream-query does: '%(path)s %(sha256)s', '%(size)d'; an item without a key
the format names is an error (exit 1).

` + listExitHelp,
		Example: `  ssmirror list https://images.maas.io/ephemeral-v3/stable/ arch=amd64 release=noble --max 1
  ssmirror list /srv/mirror/streams/v1/index.json --json 'os~(grub|pxelinux)'`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, args, err := locationSettings(o.config, cmd.Flags(), args, "source", sourceOf)
			if err != nil {
				return err
			}
			o.list = mirror.ListOptions{Keyrings: cfg.Keyrings, NoVerify: cfg.NoVerify, AllowSHA1: cfg.AllowSHA1, Max: cfg.Max, S3: cfg.S3, Filters: cfg.Filters}
			return runList(cmd.Context(), o, args, cmd.OutOrStdout())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runList(ctx context.Context, o listOptions, args []string, stdout io.Writer) error {
	args = restoreOr(args)
	if n := btoi(o.json) + btoi(o.pretty) + btoi(o.format != ""); n > 1 {
		return fmt.Errorf("%w: --json, --pretty and --output-format: give one", errUsage)
	}
	var format *catalog.Format
	if o.format != "" {
		var err error
		if format, err = catalog.ParseFormat(o.format); err != nil {
			return fmt.Errorf("%w: --output-format: %w", errUsage, err)
		}
	}
	loc, fs := args[0], o.list.Filters
	if len(args) > 1 {
		var err error
		if fs, err = filter.ParseArgs(args[1:]); err != nil {
			return err
		}
	}
	o.list.Filters = fs
	rows, err := mirror.List(ctx, loc, o.list)
	if err != nil {
		return err
	}
	switch {
	case o.json:
		return ui.WriteListJSON(stdout, rows)
	case o.pretty:
		return ui.WriteListPretty(stdout, rows)
	case format != nil:
		return ui.WriteListFormat(stdout, rows, format)
	}
	return ui.WriteListTable(stdout, rows)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
