package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/internal/ui"
	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/monitor"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target/lease"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// syncOptions are the flags of sync and plan.
// The flags are read through resolve (settings.go), which applies them
// over the environment and the config file; the variables they are bound
// to only carry their defaults for --help.
type syncOptions struct {
	cfg        config.Sync
	json       bool
	quiet      bool
	progress   bool
	configFile string
}

// leaseClock is the clock of the target's lease: nil for the system's;
// tests replace it.
var leaseClock lease.Clock

func (o *syncOptions) AddFlags(f *pflag.FlagSet) {
	addSignatureFlags(f, &o.cfg.Keyrings, &o.cfg.NoVerify, &o.cfg.AllowSHA1)
	f.IntVar(&o.cfg.Max, "max", 0, "keep only the newest N versions of each product (0: all)")
	f.BoolVar(&o.cfg.Keep, "keep", false, "keep already-mirrored versions (up to --max) after upstream dropped them")
	f.BoolVar(&o.cfg.DryRun, "dry-run", false, "print the plan and change nothing")
	f.Bool("verify-existing", false, "read back every selected object the target already holds and check its checksum; damaged ones are copied again (reads the whole mirror)")
	addS3Flags(f, &o.cfg.S3)
	f.IntVar(&o.cfg.Transfers, "transfers", config.DefaultTransfers, "number of concurrent transfers")
	f.StringVar(&o.cfg.SignedMetadata, "signed-metadata", "", "signed metadata to publish: upstream (copy the upstream .sjson verbatim), resign (sign the rewritten metadata with --sign-key) or none (default: resign with --sign-key, else upstream for a signed source, else none)")
	f.StringVar(&o.cfg.SignKey, "sign-key", "", "OpenPGP secret key (armored or binary) to sign the rewritten metadata with; passphrase from $"+passphraseEnv+" or --sign-passphrase-file")
	f.StringVar(&o.cfg.SignPassphraseFile, "sign-passphrase-file", "", "file holding the passphrase of --sign-key")
	f.StringVar(&o.cfg.PublicURL, "public-url", "", "URL where clients reach the mirror (CDN or bucket web address), for the printed MAAS/LXD instructions")
	f.BoolVar(&o.json, "json", false, "print the plan as JSON (--dry-run, plan); sync: print line-delimited JSON events on stdout (plan, transfer, publish, delete, warning, error, summary), logs on stderr")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only warnings, failures and the summary line (no progress bars, no line per object)")
	f.Int("retries", 5, "tries of a failing upstream request, and of a whole item, before it counts as failed")
	f.Duration("retry-delay", time.Second, "first wait before a retry, doubled each time (at most 30s, with jitter)")
	f.Duration("idle-timeout", time.Minute, "retry a transfer that makes no progress for this long")
	f.String("low-speed", "", "RATE/DURATION: cut, retry and resume a transfer slower than RATE bytes a second (K, M, G suffixes) over DURATION, e.g. 10K/30s (default off)")
	f.StringArray("mirror", nil, "another place to fetch items from, at the same relative paths (an http(s):// or s3:// mirror root, or a directory), tried in order when SOURCE fails; repeatable (metadata always comes from SOURCE, items are verified against it)")
	f.String("upstream-proxy", "", "proxy URL (http://, https://, socks5://) for an http(s) SOURCE and --mirror only; the store does not use it (default: HTTPS_PROXY, HTTP_PROXY and NO_PROXY decide, for both)")
	f.String("bwlimit", "", `cap the total upstream read rate, bytes a second with K, M, G suffixes (1M), or a timetable of the time of day ("08:00,1M 18:00,off"); default off`)
	f.String("item-cache-control", apply.ItemCacheControl, "Cache-Control of items (immutable files)")
	f.String("metadata-cache-control", apply.MetadataCacheControl, "Cache-Control of index and products files")
	f.StringVar(&o.configFile, "config", "", "YAML config file of named mirrors; then the arguments name the mirrors to run (default: all)")
	f.String("part-size", "", "S3 multipart part size, at least 5MiB (default 16MiB, grown for objects over 160 GB)")
	f.Int("part-uploads", s3store.DefaultConcurrency, "S3 parts of one object uploaded at once")
	f.String("upload-memory", "", "object data buffered for S3 uploads at once, across all transfers (default 48MiB; a larger --part-size part is still uploaded, alone; an item that needs parts larger than both is refused)")
	f.Duration("gc-grace", time.Duration(config.DefaultGCGrace), "keep objects that left the mirror this long after the index stopped naming them (clients cache indexes)")
	f.Duration("wait", 0, "wait this long for another publisher of the same target to finish (default: fail at once)")
	f.Bool("single-writer", false, "promise that no other publisher of the target runs: publish to a store that ignores conditional writes, with an advisory lease, instead of refusing it")
	// sstream-mirror's options and the run's reports.
	f.String("path", "", "start file relative to SOURCE: streams/v1/NAME.sjson or .json (sstream-mirror's --path; default streams/v1/index.sjson)")
	f.Bool("no-item-download", false, "copy no item: publish the metadata of what the target already holds (products whose new versions need items keep their published version)")
	f.BoolVar(&o.progress, "progress", false, "report progress: bars on a terminal, else a line per finished object (the default; accepted for sstream-mirror)")
	f.Bool("no-checksumming-reader", false, "accepted for sstream-mirror; items are verified as they stream all the same")
	f.Bool("no-browse-page", false, "do not publish the browse page (index.html at the mirror root)")
	f.String("metrics-file", "", "write Prometheus text-format metrics of the run to this file, atomically (for node_exporter's textfile collector: name it *.prom)")
}

const syncArgs = `SOURCE is an http(s):// mirror root (https://images.maas.io/ephemeral-v3/stable/),
a URL or path ending in streams/v1/NAME.sjson or .json (the start file), a local
directory or file:// URL, or s3://BUCKET[/PREFIX]. TARGET is s3://BUCKET[/PREFIX]
or a local directory.

FILTERs select items: key=value, key!=value, key~regex, key!~regex, all of them
ANDed. A literal --or starts another group; an item is kept if it matches every
filter of any group.`

func newSyncCommand(g *globalOptions) *cobra.Command {
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
		Args: syncArgsCheck(&o),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSync(cmd.Context(), g, o, cmd.Flags(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.cfg = config.Default()
	o.AddFlags(cmd.Flags())
	return cmd
}

func newPlanCommand(g *globalOptions) *cobra.Command {
	var o syncOptions
	cmd := &cobra.Command{
		Use:   "plan [flags] SOURCE TARGET [FILTER...] [--or FILTER...]",
		Short: "Print what sync would do (sync --dry-run)",
		Long: `Print what sync would do, and change nothing: one line per item to add (+) or
remove (-) with product, version, item, path, size and reason, the deletes, the
metadata to publish, the objects kept because no metadata ssmirror published
named them ("keep PATH SIZE (kept, not ours: ...)"), and the totals.

` + syncArgs + `

` + exitHelp,
		Args: syncArgsCheck(&o),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.Flags().Set("dry-run", "true")
			return runSync(cmd.Context(), g, o, cmd.Flags(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.cfg = config.Default()
	o.AddFlags(cmd.Flags())
	return cmd
}

// syncArgsCheck wants SOURCE and TARGET, unless --config names mirrors.
func syncArgsCheck(o *syncOptions) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if o.configFile != "" {
			return nil
		}
		return usageArgs(cobra.MinimumNArgs(2))(cmd, args)
	}
}

// syncConfigs resolves the mirrors a sync or plan runs: the ones named in
// the config file, or the one the arguments describe.
func syncConfigs(o syncOptions, flags *pflag.FlagSet, args []string) ([]config.Sync, []string, error) {
	args = restoreOr(args)
	if o.configFile != "" {
		cf, err := readConfigFile(o.configFile)
		if err != nil {
			return nil, nil, err
		}
		names, err := cf.names(args)
		if err != nil {
			return nil, nil, err
		}
		var cfgs []config.Sync
		for _, n := range names {
			cfg, err := resolve(flags, cf.merged(n)...)
			if err != nil {
				return nil, nil, fmt.Errorf("mirror %s: %w", n, err)
			}
			if err := cfg.Validate(); err != nil {
				return nil, nil, fmt.Errorf("config %s: mirrors.%s: %w", o.configFile, n, err)
			}
			cfgs = append(cfgs, cfg)
		}
		return cfgs, names, nil
	}
	cfg, err := resolve(flags)
	if err != nil {
		return nil, nil, err
	}
	cfg.Source, cfg.Target = args[0], args[1]
	if len(args) > 2 {
		if cfg.Filters, err = filter.ParseArgs(args[2:]); err != nil {
			return nil, nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	return []config.Sync{cfg}, []string{""}, nil
}

func runSync(ctx context.Context, g *globalOptions, o syncOptions, flags *pflag.FlagSet, args []string, stdout, stderr io.Writer) error {
	cfgs, names, err := syncConfigs(o, flags, args)
	if err != nil {
		return err
	}
	if flags.Changed("no-checksumming-reader") {
		fmt.Fprintln(stderr, "note: --no-checksumming-reader is accepted for sstream-mirror; items are verified as they stream all the same")
	}
	if o.progress && (o.json || o.quiet) {
		return fmt.Errorf("%w: --progress contradicts --json and --quiet: give one", errUsage)
	}
	mode := ui.ModeText
	switch {
	case o.json:
		mode = ui.ModeJSON
	case o.quiet:
		mode = ui.ModeQuiet
	}
	under := stderr
	if l, ok := stderr.(*ui.LockedWriter); ok {
		under = l.Underlying()
	}
	f, ok := under.(*os.File)
	tty := ok && ui.IsTerminal(f)
	var errs []error
	runs := map[string][]monitor.Run{} // by metrics file
	defer func() {
		for _, path := range catalog.SortedKeys(runs) {
			if err := monitor.WriteMetrics(path, runs[path]); err != nil {
				g.log.Error("writing the metrics file", "err", err)
			}
		}
	}()
	for i, cfg := range cfgs {
		if names[i] != "" {
			fmt.Fprintf(stderr, "mirror %s: %s -> %s\n", names[i], cfg.Source, cfg.Target)
		}
		log := g.log
		if names[i] != "" {
			log = log.With("mirror", names[i])
		}
		logOut := g.logOut
		if g.logFile != nil {
			logOut = nil // lines go to the file, not above the progress bars
		}
		rec := monitor.Run{Mirror: names[i], Target: cfg.Target, Start: time.Now()}
		err := syncOne(ctx, log, logOut, cfg, mode, tty, stdout, stderr, &rec)
		rec.End, rec.ExitStatus = time.Now(), exitCode(ctx, err)
		if cfg.MetricsFile != "" && !cfg.DryRun {
			runs[cfg.MetricsFile] = append(runs[cfg.MetricsFile], rec)
		}
		if err != nil {
			if names[i] != "" {
				err = fmt.Errorf("mirror %s: %w", names[i], err)
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// bwlimitString is the summary's account of --bwlimit: "" for none.
func bwlimitString(t config.Timetable) string {
	if t.Off() {
		return ""
	}
	return t.String()
}

// syncOne syncs (or plans, with cfg.DryRun) one mirror.
// It fills rec with what the run did.
func syncOne(ctx context.Context, log *slog.Logger, logOut *ui.LockedWriter, cfg config.Sync, mode ui.Mode, tty bool, stdout, stderr io.Writer, rec *monitor.Run) (err error) {
	runCtx := ctx // ctx is replaced by the lease's below; exit statuses are judged on this one
	out := ui.New(mode, stdout, stderr, tty)
	if to, ok := out.(*ui.TextReporter); ok && logOut != nil {
		defer logOut.Redirect(to)() // log lines above the progress bars
	}
	defer out.Close()
	if !cfg.DryRun {
		// A run that fails before its summary still ends with one (JSON).
		defer func() {
			if err != nil {
				out.Summary(ui.Summary{Source: cfg.Source, Target: cfg.Target, Err: err, ExitStatus: exitCode(runCtx, err)})
			}
		}()
	}
	handOffW := stdout
	if mode == ui.ModeJSON {
		handOffW = stderr // stdout holds only events
	}
	retry := source.RetryPolicy{
		Attempts: cfg.Retries, BaseDelay: time.Duration(cfg.RetryDelay), IdleTimeout: time.Duration(cfg.IdleTimeout),
		LowSpeed: source.LowSpeed{Rate: int64(cfg.LowSpeed.Rate), Window: time.Duration(cfg.LowSpeed.Window)},
		Notify: func(path string, attempt int, wait time.Duration, err error) {
			log.Info("retrying", "path", path, "attempt", attempt, "wait", wait.Round(time.Millisecond), "err", err)
		},
	}
	up, err := openUpstream(ctx, cfg, retry, func(path, from string, err error) {
		log.Info("reading from another mirror", "path", path, "mirror", from, "err", err)
	})
	if err != nil {
		return err
	}
	fetcher, items, start, meter := up.meta, up.items, up.start, up.meter
	if to, ok := out.(*ui.TextReporter); ok && up.limit != nil {
		to.ShowLimit(up.limit.Rate)
	}
	if cfg.Path != "" {
		if root, named := source.SplitStart(cfg.Source); root != cfg.Source {
			return fmt.Errorf("%w: path %s: the source already names its start file %s", config.ErrInvalid, cfg.Path, named)
		}
		start = cfg.Path
	}
	keyring, err := loadKeyring(cfg.Keyrings, cfg.NoVerify, start)
	if err != nil {
		return err
	}
	dst, err := openTarget(ctx, cfg.Target, cfg.S3)
	if err != nil {
		return err
	}
	url := publicURL(cfg.PublicURL, dst)
	res, err := mirror.Sync(ctx, mirror.Job{Config: cfg, Meta: fetcher, Items: items, Start: start, Keyring: keyring,
		Target: dst, Retry: retry, Version: buildVersion().Version, PublicURL: url, LeaseClock: leaseClock, Log: log, Run: rec,
		Signing: func(sourceSigned bool, opts *plan.Options) (*gpg.SigningKey, error) {
			return signing(&cfg, sourceSigned, opts)
		}}, out)
	if err != nil && !res.Applied {
		return err
	}
	p, signer, degraded := res.Plan, res.Signer, mirror.Shorts(res.Degraded)
	if cfg.DryRun {
		if mode == ui.ModeJSON {
			return json.NewEncoder(stdout).Encode(p)
		}
		return p.WriteText(stdout)
	}
	if !res.Applied { // nothing to do
		out.Summary(ui.Summary{Source: p.Source, Target: p.Target, UpstreamRequests: meter.Requests(), UpstreamBytes: meter.Bytes(), Degraded: degraded})
		browsable(handOffW, cfg, mode, url)
		if signer != nil {
			handOff(handOffW, url, signer)
		}
		return nil
	}
	a := res.Apply
	out.Summary(ui.Summary{Source: p.Source, Target: p.Target,
		Transferred: a.Transferred, TransferredBytes: a.TransferredBytes, Adopted: a.Adopted, Failed: len(a.Failed),
		Published: a.Published, Deleted: a.Deleted, IndexPublished: a.IndexPublished,
		Duration: res.Duration, ExitStatus: exitCode(runCtx, err), Err: err, BWLimit: bwlimitString(cfg.BWLimit),
		UpstreamRequests: meter.Requests(), UpstreamBytes: meter.Bytes(), Sources: up.sourceBytes(), Degraded: degraded})
	if err == nil && signer != nil {
		handOff(handOffW, url, signer)
	}
	if res.NewMirror {
		readable(handOffW, dst, url)
	}
	if err == nil {
		browsable(handOffW, cfg, mode, url)
	}
	return err
}

// browsable prints where people browse the mirror, unless quiet.
func browsable(w io.Writer, cfg config.Sync, mode ui.Mode, url string) {
	if !cfg.NoBrowsePage && mode != ui.ModeQuiet {
		fmt.Fprintf(w, "browse the mirror at %s%s\n", url, plan.BrowsePage)
	}
}
