package mirror

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/memstore"
	"github.com/ssmirror/ssmirror/target/s3store"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// recorder is a Reporter that counts what it is told.
type recorder struct {
	mu                          sync.Mutex
	plans, transfers, published int
	failed                      []string
	warnings                    []string
}

func (r *recorder) Plan(*plan.Plan) { r.mu.Lock(); r.plans++; r.mu.Unlock() }
func (r *recorder) Warning(msg string) {
	r.mu.Lock()
	r.warnings = append(r.warnings, msg)
	r.mu.Unlock()
}
func (r *recorder) TransferStarted(plan.Transfer) func(int64) { return nil }
func (r *recorder) TransferDone(t plan.Transfer, err error, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed = append(r.failed, t.Path+": "+err.Error())
		return
	}
	r.transfers++
}
func (r *recorder) TransferAdopted(plan.Transfer) {}
func (r *recorder) Published(m plan.Meta, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.published++
	}
}
func (r *recorder) Deleted(plan.Delete, error) {}

// TestSync drives Sync without the command line against the in-memory
// store and the real S3 server: a first run publishes a mirror that Audit
// finds sound with its checksums and upstream signatures; a second run has
// nothing to do.
// newJob returns a Job that mirrors a signed MAAS-shaped upstream, served
// on loopback, into st (arch=amd64 --or os~(grub|pxelinux), --max 1).
func newJob(t *testing.T, st target.Store) (Job, *gpg.Keyring) {
	t.Helper()
	docs, err := upstream.MAASDocs("../testdata/maas")
	if err != nil {
		t.Fatal(err)
	}
	job, kr := signedJob(t, docs, 20000)
	filters, err := filter.ParseArgs([]string{"arch=amd64", filter.OrArg, "os~(grub|pxelinux)"})
	if err != nil {
		t.Fatal(err)
	}
	job.Config.Target, job.Config.Filters, job.Config.Max, job.Target = st.String(), filters, 1, st
	job.PublicURL = "http://mirror.invalid/maas/stable/"
	return job, kr
}

// signedJob returns a Job, without a target, that mirrors the products
// docs (sizes divided by scale), signed with a new key and served on
// loopback, publishing the upstream's signed files; and the keyring that
// verifies them.
func signedJob(t *testing.T, docs []upstream.Doc, scale int64) (Job, *gpg.Keyring) {
	t.Helper()
	key, err := gpg.GenerateKey("ssmirror test", "test@example.invalid", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := upstream.Build(docs, upstream.Options{Scale: scale, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := upstream.Serve(t, tree)
	kr, err := gpg.ParseKeyring("test.gpg", key.PublicKeyring())
	if err != nil {
		t.Fatal(err)
	}
	fetcher, err := source.NewHTTP(srv.Root(), source.DefaultHTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Source = srv.Root()
	return Job{Config: cfg, Meta: fetcher, Items: fetcher, Start: source.DefaultStart, Keyring: kr, Version: "test",
		Signing: func(sourceSigned bool, opts *plan.Options) (*gpg.SigningKey, error) {
			opts.Signed = plan.SignedUpstream
			return nil, nil
		}}, kr
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) target.Store
	}{
		{"mem", func(t *testing.T) target.Store { return memstore.New(t.Name()) }},
		{"s3", func(t *testing.T) target.Store {
			s3 := s3test.Shared(t)
			st, err := s3store.New(ctx, s3store.Config{Bucket: s3.NewBucket(t), Prefix: "maas/stable", Endpoint: s3.Endpoint,
				PathStyle: true, Region: s3.Region, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.open(t)
			job, kr := newJob(t, st)
			var rec recorder
			res, err := Sync(ctx, job, &rec)
			if err != nil {
				t.Fatalf("first run: %v (failed: %v)", err, rec.failed)
			}
			want := len(res.Plan.Transfers)
			if !res.Applied || want == 0 || !res.Apply.IndexPublished || !res.NewMirror || rec.plans != 1 || rec.transfers != want || rec.published == 0 {
				t.Fatalf("first run: applied %v, %d transfers planned, %d reported, %d published, index published %v, new mirror %v",
					res.Applied, want, rec.transfers, rec.published, res.Apply != nil && res.Apply.IndexPublished, res.NewMirror)
			}
			r, err := Audit(ctx, st, AuditOptions{Keyring: kr, Checksums: true, Transfers: 4})
			if err != nil || r.Err() != nil || r.Summary.Signatures != SigsGood || r.Summary.SignedMetadata != "upstream" ||
				r.Summary.Referenced != want || r.Summary.Unreferenced != 0 {
				t.Fatalf("audit after the first run: %v, %v; %+v %+v", err, r.Err(), r.Summary, r.Findings)
			}
			rec = recorder{}
			res, err = Sync(ctx, job, &rec)
			if err != nil || res.Applied || !res.Plan.Empty() || rec.transfers != 0 {
				t.Fatalf("second run: %v; applied %v, %d transfers", err, res.Applied, rec.transfers)
			}
		})
	}
}

// noLinks is a directory store whose file system lacks link(2), as its
// probe finds it.
type noLinks struct{ *memstore.Store }

func (noLinks) Probe(context.Context, bool) (target.Probe, error) {
	return target.Probe{Store: "/srv/fat", Kind: target.KindDirectory, Capabilities: target.Capabilities{ChecksumSHA256: true, ContentMD5: true, StartAfter: true, Metadata: true}}, nil
}

// TestSyncRefusesDirectoryWithoutLinks: a directory whose file system
// fails link(2) or flock(2) is refused with ErrUnsafeStore (exit 2), even
// with --single-writer, since the lease is written with them; nothing is
// written.
func TestSyncRefusesDirectoryWithoutLinks(t *testing.T) {
	st := noLinks{memstore.New("fat")}
	job, _ := newJob(t, st)
	job.Config.SingleWriter = true
	_, err := Sync(context.Background(), job, &recorder{})
	if !errors.Is(err, ErrUnsafeStore) || !strings.Contains(err.Error(), "/srv/fat") || !strings.Contains(err.Error(), "link(2)") {
		t.Fatalf("sync: %v, want ErrUnsafeStore naming the directory and link(2)", err)
	}
	n := 0
	st.List(context.Background(), "", func(target.Object) error { n++; return nil })
	if n != 0 {
		t.Fatalf("a refused sync wrote %d objects", n)
	}
}
