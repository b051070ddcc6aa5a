package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/monitor"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/plan/browse"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/source/metacache"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/lease"
)

// ErrUnsafeStore marks a target Sync refuses: it lacks a feature that
// publishing safely needs (conditional writes), and the job does not say
// that only one publisher runs (Config.SingleWriter).
var ErrUnsafeStore = errors.New("store refused")

// Reporter is told what a run does as it goes. Its apply.Reporter
// methods may be called from several goroutines at once.
type Reporter interface {
	apply.Reporter
	// Plan is called once, before anything is written, with the plan.
	Plan(p *plan.Plan)
	// Warning reports something the operator should know about.
	Warning(msg string)
}

// Job is one run of Sync: the settings, and the upstream and the target,
// opened.
type Job struct {
	// Config holds the settings: filters, --max, --keep, the grace
	// period, transfers, cache control, DryRun, SingleWriter, Wait,
	// VerifyExisting, NoItemDownload, NoBrowsePage. Its Source, Target
	// and S3 settings are only named in records: Meta, Items and Target
	// are what the run reads and writes.
	Config config.Sync
	// Meta reads the upstream's metadata from Start; Items its items.
	Meta, Items source.Fetcher
	Start       string
	Keyring     *gpg.Keyring // verifies the upstream's signatures; nil: not checked
	Target      target.Store
	Retry       source.RetryPolicy // how a failing transfer is tried again
	// Signing resolves the signed-metadata mode into opts once the
	// upstream is read (sourceSigned: its start is signed) and returns
	// the key to re-sign with, if any. Nil: no signed metadata.
	Signing func(sourceSigned bool, opts *plan.Options) (*gpg.SigningKey, error)
	// Version names ssmirror in the status record and the browse page.
	Version string
	// PublicURL is where clients reach the mirror, for the browse page.
	PublicURL  string
	LeaseClock lease.Clock  // nil: the system's
	Log        *slog.Logger // nil: nothing is logged
	// Run, if set, is filled with what the run did, for the metrics file.
	Run *monitor.Run
}

// Result is what Sync did.
type Result struct {
	Plan     *plan.Plan      // nil when the run stopped before planning
	Signer   *gpg.SigningKey // the key the metadata was re-signed with, if any
	Degraded []Degradation   // what the store lacks, and what the run did instead
	// Applied says the plan was executed (it was not empty and not a dry
	// run); Apply and Duration tell how it went.
	Applied  bool
	Apply    *apply.Result
	Duration time.Duration
	// NewMirror says the run published the target's first index.
	NewMirror bool
}

// Sync mirrors job's upstream into its target, reporting to r: it probes
// what the store honours, takes the target's lease (and stops when it is
// lost), reads the upstream catalog while it lists the target, plans,
// and, unless Config.DryRun, applies the plan through the lease (items,
// then products files, then the index, then deferred deletes) and writes
// the status record. The Result is never nil; with an error it says how
// far the run went.
func Sync(ctx context.Context, job Job, r Reporter) (res *Result, err error) {
	res = &Result{}
	cfg, dst := job.Config, job.Target
	log := job.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rec := job.Run
	if rec == nil {
		rec = &monitor.Run{}
	}
	caps := target.Full
	guarded := dst // what the run writes through: only while the lease is held
	if !cfg.DryRun {
		var release func()
		if ctx, guarded, caps, release, err = acquire(ctx, job, log, res); err != nil {
			return res, err
		}
		defer release()
	}
	src, st, cache, err := readBoth(ctx, job, caps, guarded, r)
	if err != nil {
		return res, err
	}
	p, popts, err := buildPlan(ctx, job, log, r, src, st, res)
	if err != nil {
		return res, err
	}
	res.Plan = p
	if cfg.DryRun {
		return res, nil
	}
	for _, d := range res.Degraded {
		p.Warnings = append(p.Warnings, d.Message)
	}
	if err := cache.Save(ctx, src, publishedBytes(st, p)); err != nil {
		// It costs the next run a full fetch, nothing else.
		r.Warning(fmt.Sprintf("keeping the upstream metadata for conditional fetches: %v", err))
	}
	r.Plan(p)
	// The status record of a successful run.
	status := func(indexPublished bool) error {
		s := monitor.Status{Synced: time.Now(), Published: st.Objects[plan.IndexJSON].ModTime,
			Ssmirror: job.Version, Source: cfg.Source, SignedMetadata: popts.Signed.String()}
		if indexPublished {
			s.Published = s.Synced
		}
		s.Objects, s.Bytes = rec.Objects, rec.Bytes
		return monitor.WriteStatus(ctx, guarded, s) // under the lease, as the run's other writes
	}
	if p.Empty() {
		rec.MirrorKnown = true
		rec.Objects, rec.Bytes = monitor.CatalogSize(p.Catalog)
		return res, status(false)
	}
	began := time.Now()
	aopts := apply.Options{Transfers: cfg.Transfers, Report: r, Retry: job.Retry,
		ItemCacheControl: cfg.ItemCacheControl, MetadataCacheControl: cfg.MetadataCacheControl}
	if res.Signer != nil {
		aopts.Signer = res.Signer
	}
	ares, err := apply.Run(ctx, p, job.Items, guarded, aopts)
	if cause := context.Cause(ctx); err != nil && cause != nil && errors.Is(cause, lease.ErrLost) {
		err = fmt.Errorf("%w (stopped: %w)", err, cause)
	}
	res.Applied, res.Apply = true, ares
	rec.Transferred, rec.TransferredBytes, rec.Failed, rec.Deleted = ares.Transferred, ares.TransferredBytes, len(ares.Failed), ares.Deleted
	if err == nil {
		rec.MirrorKnown = true
		rec.Objects, rec.Bytes = monitor.CatalogSize(p.Catalog)
		err = status(ares.IndexPublished)
	}
	res.Duration = time.Since(began)
	if _, existed := st.Objects[plan.IndexJSON]; ares.IndexPublished && !existed {
		res.NewMirror = true
	}
	return res, err
}

// acquire probes what the store honours, refuses one that cannot keep
// two publishers apart unless the job says one runs, and takes the
// target's lease. It returns a context cancelled when the lease is lost,
// the store to write through while the lease is held, and the function
// that releases it. res.Degraded says what the store lacks.
func acquire(ctx context.Context, job Job, log *slog.Logger, res *Result) (context.Context, target.Store, target.Capabilities, func(), error) {
	dst := job.Target
	probe, err := target.ProbeStore(ctx, dst, false)
	if err != nil {
		return nil, nil, target.Capabilities{}, nil, err
	}
	if !probe.ConditionalWrites && probe.Kind == target.KindDirectory {
		return nil, nil, target.Capabilities{}, nil, fmt.Errorf("%w: %s: link(2) or flock(2) fails on this file system (see ssmirror doctor), and the lease is written with them: "+
			"put the mirror on a file system with both", ErrUnsafeStore, probe.Store)
	}
	if !probe.ConditionalWrites && !job.Config.SingleWriter {
		return nil, nil, target.Capabilities{}, nil, fmt.Errorf("%w: %s ignores conditional writes (If-None-Match: * and If-Match on PUT; see ssmirror doctor): "+
			"the lease could not keep two publishers apart; pass --single-writer if only one publisher ever runs", ErrUnsafeStore, StoreName(probe))
	}
	res.Degraded = Degradations(probe)
	for _, d := range res.Degraded {
		log.Info("store degraded", "target", dst.String(), "what", d.Short)
	}
	l, err := lease.Acquire(ctx, dst, lease.Options{Wait: time.Duration(job.Config.Wait), Clock: job.LeaseClock,
		Waiting: func(holder string) { log.Info("waiting for the lease", "target", dst.String(), "holder", holder) }})
	if err != nil {
		return nil, nil, target.Capabilities{}, nil, err
	}
	log.Debug("lease acquired", "target", dst.String(), "key", lease.Key)
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-l.Done():
			cancel(l.Err())
		case <-ctx.Done():
		}
	}()
	release := func() {
		cancel(nil)
		// A fresh context: the run's may be cancelled.
		rctx, cancelRelease := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancelRelease()
		l.Release(rctx)
	}
	return ctx, l.Guard(dst), probe.Capabilities, release, nil
}

// readBoth reads the upstream catalog while the target is listed: one is
// mostly the upstream's time and our CPU, the other the store's. The
// upstream metadata an earlier run kept (the returned cache) spares
// fetching what did not change.
func readBoth(ctx context.Context, job Job, caps target.Capabilities, guarded target.Store, r Reporter) (*source.Mirror, plan.State, *metacache.Cache, error) {
	cache, err := metacache.Load(ctx, guarded) // Save writes only while the lease is held
	if err != nil {
		return nil, plan.State{}, nil, err
	}
	if cache.Err != nil {
		r.Warning(cache.Err.Error())
	}
	var (
		src    *source.Mirror
		srcErr error
		read   = make(chan struct{})
	)
	cfg := job.Config
	go func() {
		defer close(read)
		src, srcErr = source.Read(ctx, job.Meta, job.Start, source.Options{Keyring: job.Keyring, NoVerify: cfg.NoVerify, AllowSHA1: cfg.AllowSHA1, Cache: cache})
	}()
	// The upstream's signed files, and the .json files this run would
	// publish, are what the target holds when nothing changed: their
	// listed ETags (MD5) spare reading them back.
	st, err := apply.LoadState(ctx, job.Target, apply.LoadOptions{Sequential: !caps.StartAfter, Expect: func(objs map[string]target.Object) map[string][]byte {
		<-read
		if srcErr != nil {
			return nil
		}
		for k, o := range objs {
			if strings.HasPrefix(k, "streams/") && strings.HasSuffix(k, ".json") && strings.Contains(o.ETag, "-") {
				return src.Raw // uploaded in parts: its ETag is no MD5, so it is read anyway
			}
		}
		rendered, err := plan.Rendered(src, objs, plan.Options{Filters: cfg.Filters, Max: cfg.Max})
		if err != nil {
			return src.Raw // the plan reports it
		}
		expect := maps.Clone(src.Raw)
		maps.Copy(expect, rendered)
		return expect
	}})
	<-read
	if srcErr != nil {
		return nil, plan.State{}, nil, srcErr
	}
	if err != nil {
		return nil, plan.State{}, nil, err
	}
	if st.GCErr != nil {
		r.Warning(fmt.Sprintf("%s/%s is unusable (%v); rebuilt from the published metadata and a listing", job.Target, plan.StateKey, st.GCErr))
	}
	return src, st, cache, nil
}

// buildPlan plans the run: the selection, the signed-metadata mode, the
// browse page, the objects found damaged (Config.VerifyExisting), no item
// downloads (Config.NoItemDownload). res.Signer is the key to re-sign
// with, if any.
func buildPlan(ctx context.Context, job Job, log *slog.Logger, r Reporter, src *source.Mirror, st plan.State, res *Result) (*plan.Plan, plan.Options, error) {
	cfg, dst := job.Config, job.Target
	popts := plan.Options{Filters: cfg.Filters, Max: cfg.Max, Keep: cfg.Keep, Grace: time.Duration(cfg.GCGrace)}
	if !cfg.NoBrowsePage {
		page := browse.Page{Generator: "ssmirror " + job.Version, URL: job.PublicURL}
		popts.Browse = func(pub plan.Publication) ([]byte, error) {
			page.Publication = pub
			return browse.Render(page)
		}
	}
	if job.Signing != nil {
		var err error
		if res.Signer, err = job.Signing(src.Signed, &popts); err != nil {
			return nil, popts, err
		}
	}
	p, err := plan.Build(src, st, popts)
	if err != nil {
		return nil, popts, err
	}
	if cfg.VerifyExisting {
		if p, err = verifyExisting(ctx, log, r, cfg, dst, src, st, popts, p); err != nil {
			return nil, popts, err
		}
	}
	if cfg.NoItemDownload && len(p.Transfers) > 0 {
		skipped := make(map[string]bool, len(p.Transfers))
		for _, x := range p.Transfers {
			skipped[x.Path] = true
		}
		if p, err = p.Without(skipped); err != nil {
			return nil, popts, err
		}
	}
	p.Target = dst.String()
	for _, x := range p.Transfers {
		log.Debug("transfer", "path", x.Path, "size", x.Size, "reason", x.Reason)
	}
	for _, d := range p.Deletes {
		log.Debug("delete", "path", d.Path, "reason", d.Reason)
	}
	return p, popts, nil
}

// verifyExisting reads back the objects p keeps and returns the plan that
// also copies again those found damaged.
func verifyExisting(ctx context.Context, log *slog.Logger, r Reporter, cfg config.Sync, dst target.Store,
	src *source.Mirror, st plan.State, popts plan.Options, p *plan.Plan) (*plan.Plan, error) {
	held := p.Held()
	began := time.Now()
	bad, err := apply.CheckObjects(ctx, dst, held, cfg.Transfers)
	if err != nil {
		return nil, fmt.Errorf("verifying the objects %s holds: %w", dst, err)
	}
	log.Info("verified the objects the target holds", "objects", len(held), "damaged", len(bad), "took", time.Since(began).Round(time.Millisecond))
	if len(bad) == 0 {
		return p, nil
	}
	for _, path := range catalog.SortedKeys(bad) {
		r.Warning(fmt.Sprintf("%s/%s is damaged (%s): copying it again", dst, path, strings.TrimPrefix(bad[path].Error(), path+": ")))
	}
	st.Damaged = bad
	return plan.Build(src, st, popts)
}

// publishedBytes returns what the target will publish at a key once p is
// applied (nil for none): a file published byte for byte is its own kept
// copy for conditional fetches (the upstream's signed files, in upstream
// mode). If the run does not get that far, the copy's digest shows it and
// the next run fetches the file whole.
func publishedBytes(st plan.State, p *plan.Plan) func(key string) []byte {
	will := map[string][]byte{}
	for _, m := range p.Publish {
		if !m.Sign {
			will[m.Key] = m.Body
		}
	}
	for _, d := range p.Deletes {
		will[d.Path] = nil
	}
	return func(key string) []byte {
		if b, ok := will[key]; ok {
			return b
		}
		return st.Metadata[key]
	}
}
