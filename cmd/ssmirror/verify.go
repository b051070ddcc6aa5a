package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/internal/ui"
	"github.com/ssmirror/ssmirror/mirror"
)

// verifyOptions are the flags of verify.
type verifyOptions struct {
	keyrings  []string
	allowSHA1 bool
	checksums bool
	json      bool
	transfers int
	s3        config.S3
	config    string // --config
}

func (o *verifyOptions) AddFlags(f *pflag.FlagSet) {
	addSettingFlags(f, config.CmdVerify)
	f.BoolVar(&o.checksums, "checksums", false, "read every referenced object and check its checksum (sha512, sha256 or md5, the strongest the catalog gives)")
	f.BoolVar(&o.json, "json", false, "print one JSON object per finding and line, then a summary object")
	addConfigFlag(f, &o.config, "target")
}

const verifyExitHelp = `Exit status:
  0    the mirror is sound (unreferenced objects alone are warnings)
  1    error: target unreachable, no mirror published there, unreadable
       metadata, ...
  2    bad usage: bad flag or keyring file
  4    integrity failure: an object the metadata references is missing or
       has the wrong size or checksum, or a signature did not verify
  130  interrupted`

func newVerifyCommand() *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify [flags] (TARGET | --config FILE MIRROR)",
		Short: "Audit a published mirror: missing, damaged and unreferenced objects, signatures",
		Long: `Audit a mirror published in a directory or in s3://BUCKET[/PREFIX].

verify reads the mirror's streams/v1/index.json and the products files it
names, lists the target once, and checks that every object the metadata
references exists with the size the catalog gives. With --checksums it also
reads every referenced object and checks its strongest checksum (sha512,
sha256, md5). A plain sync repairs missing objects and wrong sizes; sync
--verify-existing also copies again objects with wrong bytes.

When the mirror publishes signed metadata (streams/v1/index.sjson), the signed
index and the products .sjson files it names are verified with --keyring. When
no --keyring is given and the mirror publishes its own key
(streams/v1/mirror-keyring.gpg), the signatures are not checked: a key read from
the mirror itself proves nothing; check its fingerprint, then give it with
--keyring. Otherwise the default keyring is used when installed.

When the signed index verifies, verify says whose it is: upstream (the
upstream's .sjson files, byte for byte) or resign (signed with the key the
mirror publishes), and counts the paths the signed products files name that
the mirror does not hold. Upstream signed metadata of a filtered mirror names
what the upstream offers, so there the count is informational; re-signed
metadata must be exact: a signed products file whose content is not the
.json one, and each path it names that the mirror lacks, is a problem.

Objects that the metadata does not reference are reported as warnings, with
the time since when they are pending deletion if sync's garbage collection
state records them (they go when the grace period is over); metadata files
(streams/v1/*.json, *.sjson, *.gpg, *.asc) and anything under .ssmirror/ are
not reported.

One line per finding:
  missing PATH
  size PATH: have N, catalog says M
  checksum PATH: REASON
  signature FILE: REASON
  signed PATH: REASON
  unreferenced PATH (N bytes[, pending deletion since TIME])
  note: TEXT
then a summary line starting with OK or FAILED. --json prints one JSON object
per line instead, with "type" set to missing, size, checksum, signature, signed,
unreferenced, note or, last, summary.

` + verifyExitHelp,
		Example: `  ssmirror verify /srv/mirror
  ssmirror verify --checksums --endpoint https://minio.example.com --path-style \
    --keyring /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg s3://mirror/maas/stable`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, args, err := locationSettings(o.config, cmd.Flags(), args, "target", targetOf)
			if err != nil {
				return err
			}
			o.keyrings, o.allowSHA1, o.transfers, o.s3 = cfg.Keyrings, cfg.AllowSHA1, cfg.Transfers, cfg.S3
			return runVerify(cmd.Context(), o, args, cmd.OutOrStdout())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runVerify(ctx context.Context, o verifyOptions, args []string, stdout io.Writer) error {
	r, err := mirror.AuditAt(ctx, args[0], o.s3, o.keyrings,
		mirror.AuditOptions{DefaultKeyring: config.DefaultKeyring, AllowSHA1: o.allowSHA1, Checksums: o.checksums, Transfers: o.transfers})
	if err != nil {
		return err
	}
	if err := ui.WriteAudit(stdout, r, o.json); err != nil {
		return err
	}
	return r.Err()
}
