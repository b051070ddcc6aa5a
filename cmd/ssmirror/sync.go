package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/target/lease"
)

// syncOptions are the flags of sync and plan.
type syncOptions struct {
	cfg      config.Sync
	json     bool
	partSize string
}

func (o *syncOptions) AddFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&o.cfg.Keyrings, "keyring", nil, "OpenPGP keyring (binary or armored) to verify signed metadata; repeatable (default "+defaultKeyring+" if present)")
	f.BoolVar(&o.cfg.NoVerify, "no-verify", false, "do not check signatures of .sjson metadata (it must still be clearsigned)")
	f.BoolVar(&o.cfg.AllowSHA1, "allow-sha1", false, "accept signatures made with SHA-1 digests (some old streams)")
	f.IntVar(&o.cfg.Max, "max", 0, "keep only the newest N versions of each product (0: all)")
	f.BoolVar(&o.cfg.Keep, "keep", false, "keep already-mirrored versions (up to --max) after upstream dropped them")
	f.BoolVar(&o.cfg.DryRun, "dry-run", false, "print the plan and change nothing")
	addS3Flags(f, &o.cfg.S3)
	f.IntVar(&o.cfg.Transfers, "transfers", config.DefaultTransfers, "number of concurrent transfers")
	f.StringVar(&o.cfg.SignedMetadata, "signed-metadata", "", "signed metadata to publish: upstream (copy the upstream .sjson verbatim), resign (sign the rewritten metadata with --sign-key) or none (default: resign with --sign-key, else upstream for a signed source, else none)")
	f.StringVar(&o.cfg.SignKey, "sign-key", "", "OpenPGP secret key (armored or binary) to sign the rewritten metadata with; passphrase from $"+passphraseEnv+" or --sign-passphrase-file")
	f.StringVar(&o.cfg.SignPassphraseFile, "sign-passphrase-file", "", "file holding the passphrase of --sign-key")
	f.StringVar(&o.cfg.PublicURL, "public-url", "", "URL where clients reach the mirror (CDN or bucket web address), for the printed MAAS/LXD instructions")
	f.BoolVar(&o.json, "json", false, "print the plan as JSON")
	f.StringVar(&o.partSize, "part-size", "", "S3 multipart part size, at least 5MiB (default 16MiB, grown for objects over 160 GB)")
	f.DurationVar(&o.cfg.GCGrace, "gc-grace", config.DefaultGCGrace, "keep objects that left the mirror this long after the index stopped naming them (clients cache indexes)")
	f.DurationVar(&o.cfg.Wait, "wait", 0, "wait this long for another publisher of the same target to finish (default: fail at once)")
}

const syncArgs = `SOURCE is an http(s):// mirror root (https://images.maas.io/ephemeral-v3/stable/),
a URL or path ending in streams/v1/NAME.sjson or .json (the start file), a local
directory or file:// URL, or s3://BUCKET[/PREFIX]. TARGET is s3://BUCKET[/PREFIX]
or a local directory.

FILTERs select items: key=value, key!=value, key~regex, key!~regex, all of them
ANDed. A literal --or starts another group; an item is kept if it matches every
filter of any group.`

func newSyncCommand() *cobra.Command {
	var o syncOptions
	cmd := &cobra.Command{
		Use:   "sync [flags] SOURCE TARGET [FILTER...] [--or FILTER...]",
		Short: "Mirror a SimpleStreams catalog into S3 or a directory",
		Long: `Mirror a SimpleStreams catalog into S3 or a directory.

` + syncArgs + `

Items are streamed from SOURCE into TARGET and verified as they stream; the
products files and then the index are written last. Files that leave the
mirror are deleted after the new index is published.

` + exitHelp,
		Example: `  ssmirror sync --keyring /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg \
    https://images.maas.io/ephemeral-v3/stable/ s3://mirror/maas \
    arch=amd64 'release~(jammy|noble)' --max 1 --or 'os~(grub|pxelinux)'`,
		Args: usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSync(cmd.Context(), o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.cfg = config.Default()
	o.AddFlags(cmd.Flags())
	return cmd
}

func newPlanCommand() *cobra.Command {
	var o syncOptions
	cmd := &cobra.Command{
		Use:   "plan [flags] SOURCE TARGET [FILTER...] [--or FILTER...]",
		Short: "Print what sync would do (sync --dry-run)",
		Long: `Print what sync would do, and change nothing: one line per item to add (+) or
remove (-) with product, version, item, path, size and reason, the metadata to
publish, and the totals.

` + syncArgs + `

` + exitHelp,
		Args: usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.cfg.DryRun = true
			return runSync(cmd.Context(), o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.cfg = config.Default()
	o.AddFlags(cmd.Flags())
	return cmd
}

func runSync(ctx context.Context, o syncOptions, args []string, stdout, stderr io.Writer) error {
	args = restoreOr(args)
	o.cfg.Source, o.cfg.Target = args[0], args[1]
	fs, err := filter.ParseArgs(args[2:])
	if err != nil {
		return err
	}
	o.cfg.Filters = fs
	if o.partSize != "" {
		if o.cfg.S3.PartSize, err = config.ParseSize(o.partSize); err != nil {
			return err
		}
	}
	if err := o.cfg.Validate(); err != nil {
		return err
	}
	cfg := o.cfg
	fetcher, start, err := openSource(ctx, cfg.Source, cfg.S3)
	if err != nil {
		return err
	}
	keyring, err := loadKeyring(cfg.Keyrings, cfg.NoVerify, start)
	if err != nil {
		return err
	}
	src, err := source.Read(ctx, fetcher, start, source.Options{Keyring: keyring, NoVerify: cfg.NoVerify, AllowSHA1: cfg.AllowSHA1})
	if err != nil {
		return err
	}
	dst, err := openTarget(ctx, cfg.Target, cfg.S3)
	if err != nil {
		return err
	}
	if !cfg.DryRun {
		l, err := lease.Acquire(ctx, dst, lease.Options{Wait: cfg.Wait})
		if err != nil {
			return err
		}
		defer func() {
			// A fresh context: the run's may be cancelled.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			l.Release(rctx)
		}()
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			select {
			case <-l.Done():
				cancel(l.Err())
			case <-ctx.Done():
			}
		}()
	}
	st, err := apply.LoadState(ctx, dst)
	if err != nil {
		return err
	}
	if st.GCErr != nil {
		fmt.Fprintf(stderr, "warning: %s/%s is unusable (%v); rebuilt from the published metadata and a listing\n", dst, plan.StateKey, st.GCErr)
	}
	popts := plan.Options{Filters: cfg.Filters, Max: cfg.Max, Keep: cfg.Keep, Grace: cfg.GCGrace}
	signer, err := signing(&cfg, src.Signed, &popts)
	if err != nil {
		return err
	}
	p, err := plan.Build(src, st, popts)
	if err != nil {
		return err
	}
	p.Target = dst.String()
	if !cfg.DryRun {
		for _, w := range p.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
	}
	if cfg.DryRun {
		if o.json {
			return json.NewEncoder(stdout).Encode(p)
		}
		return p.WriteText(stdout)
	}
	if p.Empty() {
		fmt.Fprintf(stdout, "%s is up to date with %s: nothing to do\n", p.Target, p.Source)
		if signer != nil {
			handOff(stdout, publicURL(cfg.PublicURL, dst), signer)
		}
		return nil
	}
	t := p.Totals()
	fmt.Fprintf(stderr, "sync %s -> %s: %d objects (%s) to transfer, %d to delete, %d metadata files\n",
		p.Source, p.Target, t.TransferObjects, plan.Bytes(t.TransferBytes), t.DeleteObjects, t.Metadata)
	began := time.Now()
	aopts := apply.Options{Transfers: cfg.Transfers, Report: &textReport{w: stderr}}
	if signer != nil {
		aopts.Signer = signer
	}
	res, err := apply.Run(ctx, p, fetcher, dst, aopts)
	if cause := context.Cause(ctx); err != nil && cause != nil && errors.Is(cause, lease.ErrLost) {
		err = fmt.Errorf("%w (stopped: %w)", err, cause)
	}
	fmt.Fprintf(stdout, "transferred %d objects (%s) in %s, %d failed; published %d metadata files (index %s); deleted %d objects\n",
		res.Transferred, plan.Bytes(res.TransferredBytes), time.Since(began).Round(time.Millisecond), len(res.Failed),
		res.Published, map[bool]string{true: "updated", false: "not updated"}[res.IndexPublished], res.Deleted)
	if err == nil && signer != nil {
		handOff(stdout, publicURL(cfg.PublicURL, dst), signer)
	}
	return err
}
