package mirror

import (
	"context"
	"time"

	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/lease"
)

// GCOptions say what GC collects, and whom it tells.
type GCOptions struct {
	Grace      time.Duration // delete objects unreferenced for at least this long
	UploadsAge time.Duration // abort incomplete multipart uploads started at least this long ago
	DryRun     bool          // decide, tell Deleting, change nothing
	Wait       time.Duration // how long to wait for another publisher's lease
	LeaseClock lease.Clock   // nil: the system's
	// Deleting is told every object GC is about to delete (or would, with
	// DryRun); Aborted every key whose incomplete upload it aborted.
	Deleting func(plan.Delete)
	Aborted  func(key string)
	// Dropped is told every key whose resume record (target.ResumeDir) it
	// dropped, with its upload or temporary file.
	Dropped func(key string)
}

// GCResult is what GC did.
type GCResult struct {
	Deleted, DeleteErrors, Aborted int
}

// GC deletes, under the target's lease, the objects whose grace period
// after they left the mirror is over (never one the published metadata
// references), then drops the resume records not written for UploadsAge
// (with their uploads or temporary files), then aborts stale incomplete
// multipart uploads where the store has them.
func GC(ctx context.Context, dst target.Store, opts GCOptions) (GCResult, error) {
	guarded := dst // what gc deletes through: only while the lease is held
	var l *lease.Lease
	var err error
	if !opts.DryRun {
		if l, err = lease.Acquire(ctx, dst, lease.Options{Wait: opts.Wait, Clock: opts.LeaseClock}); err != nil {
			return GCResult{}, err
		}
		defer l.Release(context.WithoutCancel(ctx))
		guarded = l.Guard(dst)
	}
	st, err := apply.LoadState(ctx, dst, apply.LoadOptions{})
	if err != nil {
		return GCResult{}, err
	}
	p := plan.GC(st, opts.Grace)
	for _, d := range p.Deletes {
		opts.Deleting(d)
	}
	aborter, canAbort := dst.(interface {
		AbortIncompleteUploads(context.Context, time.Duration) ([]string, error)
	})
	if opts.DryRun {
		return GCResult{}, nil
	}
	res, err := apply.Run(ctx, p, nil, guarded, apply.Options{})
	if err != nil {
		return GCResult{}, err
	}
	out := GCResult{Deleted: res.Deleted, DeleteErrors: res.DeleteErrors}
	// Cut-off transfers no sync went on with for UploadsAge: their resume
	// records, uploads and temporary files.
	dropped, err := target.DropResumes(ctx, guarded, func(_ target.ResumeRecord, rec target.Object) bool {
		return time.Since(rec.ModTime) >= opts.UploadsAge
	})
	for _, k := range dropped {
		if opts.Dropped != nil {
			opts.Dropped(k)
		}
	}
	if err != nil {
		return out, err
	}
	if canAbort {
		if err := l.Check(); err != nil {
			return out, err
		}
		keys, err := aborter.AbortIncompleteUploads(ctx, opts.UploadsAge)
		for _, k := range keys {
			opts.Aborted(k)
		}
		if err != nil {
			return out, err
		}
		out.Aborted = len(keys)
	}
	return out, nil
}
