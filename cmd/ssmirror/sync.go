package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/internal/ui"
	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/monitor"
	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target/lease"
)

// syncOptions are the flags of sync and plan that are not settings; the
// settings' flags are read through resolve (settings.go), which applies
// them over the environment and the config file.
type syncOptions struct {
	json       bool
	quiet      bool
	progress   bool
	configFile string
}

// leaseClock is the clock of the target's lease: nil for the system's;
// tests replace it.
var leaseClock lease.Clock

func (o *syncOptions) AddFlags(f *pflag.FlagSet) {
	addSettingFlags(f, config.CmdSync)
	f.BoolVar(&o.json, "json", false, "print the plan as JSON (--dry-run, plan); sync: print line-delimited JSON events on stdout (plan, transfer, publish, delete, warning, error, summary), logs on stderr")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only warnings, failures and the summary line (no progress bars, no line per object)")
	f.StringVar(&o.configFile, "config", "", "YAML config file of named mirrors; then the arguments name the mirrors to run (default: all)")
	f.BoolVar(&o.progress, "progress", false, "report progress: bars on a terminal, else a line per finished object (the default; accepted for sstream-mirror)")
	f.Bool("no-checksumming-reader", false, "accepted for sstream-mirror; items are verified as they stream all the same")
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
		names, err := mirrorNames(cf, args)
		if err != nil {
			return nil, nil, err
		}
		var cfgs []config.Sync
		for _, n := range names {
			cfg, err := resolve(flags, cf.Sections(n)...)
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
	tty := ui.IsTerminal(stderr)
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
	job, up, err := mirror.OpenJob(ctx, cfg, log)
	if err != nil {
		return err
	}
	if to, ok := out.(*ui.TextReporter); ok && up.Limit != nil {
		to.ShowLimit(up.Limit.Rate)
	}
	job.Version, job.LeaseClock, job.Run = buildVersion().Version, leaseClock, rec
	res, err := mirror.Sync(ctx, job, out)
	if err != nil && !res.Applied {
		return err
	}
	if cfg.DryRun {
		if mode == ui.ModeJSON {
			return json.NewEncoder(stdout).Encode(res.Plan)
		}
		return res.Plan.WriteText(stdout)
	}
	out.Summary(ui.SyncSummary(res, up, cfg.BWLimit, err, exitCode(runCtx, err)))
	ui.WriteHandOff(handOffW, ui.HandOff{URL: job.PublicURL, Store: job.Target, BrowsePage: !cfg.NoBrowsePage && mode != ui.ModeQuiet}, res, err)
	return err
}
