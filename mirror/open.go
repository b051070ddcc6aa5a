package mirror

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/bwlimit"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// ErrUsage is wrapped by the errors of a location or a file a setting
// names that cannot be used as given (a malformed URL, a missing keyring,
// an unreadable passphrase file): the operator's mistake, not the run's.
var ErrUsage = errors.New("usage")

// OpenTarget opens a TARGET location: s3://BUCKET[/PREFIX] or a directory.
func OpenTarget(ctx context.Context, loc string, s3cfg config.S3) (target.Store, error) {
	if strings.HasPrefix(loc, "s3://") {
		bucket, prefix, err := s3store.ParseURL(loc)
		if err != nil {
			return nil, fmt.Errorf("%w: target: %w", ErrUsage, err)
		}
		roots, err := loadCACert(s3cfg.CACert)
		if err != nil {
			return nil, err
		}
		return s3store.New(ctx, s3store.Config{RootCAs: roots,
			Bucket: bucket, Prefix: prefix,
			Endpoint: s3cfg.Endpoint, Region: s3cfg.Region, PathStyle: s3cfg.PathStyle,
			Anonymous: s3cfg.Anonymous, InsecureTLS: s3cfg.InsecureTLS, PartSize: int64(s3cfg.PartSize), MultipartThreshold: int64(s3cfg.MultipartThreshold),
			Concurrency: s3cfg.PartUploads, Memory: int64(s3cfg.UploadMemory),
			AccessKey: s3cfg.AccessKeyID, SecretKey: s3cfg.SecretAccessKey.Reveal(), SessionToken: s3cfg.SessionToken.Reveal(),
		})
	}
	if strings.Contains(loc, "://") && !strings.HasPrefix(loc, "file://") {
		return nil, fmt.Errorf("%w: target %q: want s3://BUCKET[/PREFIX] or a directory", ErrUsage, loc)
	}
	return dirstore.New(strings.TrimPrefix(loc, "file://"))
}

// OpenSource opens a SOURCE location and returns the fetcher for its
// mirror root, which retries transient failures as retry says, and the
// start path. meter, if set, counts every request and the bytes read;
// proxy, if set, is the proxy of an http(s) source (else the environment's).
func OpenSource(ctx context.Context, loc string, s3cfg config.S3, proxy string, retry source.RetryPolicy, meter *source.Meter) (source.Fetcher, string, error) {
	f, start, err := openFetcher(ctx, loc, s3cfg, proxy)
	if err != nil {
		return nil, "", err
	}
	if meter != nil {
		f = meter.Fetcher(f)
	}
	return source.NewRetrying(f, retry), start, nil
}

// Upstream is how a sync reads its upstream.
type Upstream struct {
	Meta  source.Fetcher // the metadata: SOURCE only
	Items source.Fetcher // the items: SOURCE, then the --mirror locations
	Start string
	Meter *source.Meter    // every request to SOURCE and the mirrors
	Limit *bwlimit.Limiter // nil without --bwlimit
	fail  *source.Failover // nil without --mirror
}

// OpenUpstream opens SOURCE and the --mirror locations of cfg, each
// retrying as retry says and counted by one meter, under one --bwlimit
// limiter; notify is told when an item comes from another mirror.
func OpenUpstream(ctx context.Context, cfg config.Sync, retry source.RetryPolicy, notify func(path, from string, err error)) (*Upstream, error) {
	up := &Upstream{Meter: &source.Meter{}}
	var err error
	if up.Meta, up.Start, err = OpenSource(ctx, cfg.Source, cfg.S3, cfg.UpstreamProxy, retry, up.Meter); err != nil {
		return nil, err
	}
	up.Items = up.Meta
	if len(cfg.ItemMirrors) > 0 {
		sources := []source.Fetcher{up.Meta}
		for _, loc := range cfg.ItemMirrors {
			f, _, err := OpenSource(ctx, loc, cfg.S3, cfg.UpstreamProxy, retry, up.Meter)
			if err != nil {
				return nil, fmt.Errorf("--mirror %s: %w", loc, err)
			}
			sources = append(sources, f)
		}
		up.fail = source.NewFailover(sources...)
		up.fail.Notify = notify
		up.Items = up.fail
	}
	if !cfg.BWLimit.Off() {
		up.Limit = bwlimit.New(cfg.BWLimit.At, bwlimit.Clock{})
		up.Meta, up.Items = source.NewLimited(up.Meta, up.Limit), source.NewLimited(up.Items, up.Limit)
	}
	return up, nil
}

// SourceBytes is the summary's account of the item bytes each source
// gave, with --mirror; nil without.
func (up *Upstream) SourceBytes() []source.SourceBytes {
	if up.fail == nil {
		return nil
	}
	return up.fail.Bytes()
}

// openFetcher opens the mirror root loc names and returns its start file.
func openFetcher(ctx context.Context, loc string, s3cfg config.S3, proxy string) (source.Fetcher, string, error) {
	root, start := source.SplitStart(loc)
	switch {
	case strings.HasPrefix(loc, "http://"), strings.HasPrefix(loc, "https://"):
		client := source.DefaultHTTPClient()
		roots, err := loadCACert(s3cfg.CACert)
		if err != nil {
			return nil, "", err
		}
		tr := client.Transport.(*http.Transport)
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, InsecureSkipVerify: s3cfg.InsecureTLS}
		if proxy != "" {
			u, err := url.Parse(proxy)
			if err != nil {
				return nil, "", fmt.Errorf("%w: --upstream-proxy: %w", ErrUsage, err)
			}
			tr.Proxy = http.ProxyURL(u)
		}
		f, err := source.NewHTTP(root, client)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %w", ErrUsage, err)
		}
		return f, start, nil
	case strings.HasPrefix(loc, "s3://"):
		st, err := OpenTarget(ctx, strings.TrimSuffix(root, "/"), s3cfg)
		if err != nil {
			return nil, "", err
		}
		return source.Store{Store: st}, start, nil
	case strings.Contains(loc, "://") && !strings.HasPrefix(loc, "file://"):
		return nil, "", fmt.Errorf("%w: source %q: want http(s)://, s3://, file:// or a directory", ErrUsage, loc)
	}
	dir := strings.TrimPrefix(root, "file://")
	if dir == "" {
		dir = "."
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, "", fmt.Errorf("source %s: not a directory", dir)
	}
	return source.Dir{Root: dir}, start, nil
}

// LoadKeyring loads the keyrings a sync verifies with: the given files, or,
// for a signed (.sjson) start, the system's Ubuntu cloud-image keyring when
// none is given and it exists. A .json start is verified (with detached
// signatures) only when keyrings are given.
func LoadKeyring(paths []string, noVerify bool, start string) (*gpg.Keyring, error) {
	if noVerify {
		return nil, nil
	}
	if len(paths) == 0 {
		if !strings.HasSuffix(start, ".sjson") {
			return nil, nil
		}
		if _, err := os.Stat(config.DefaultKeyring); err != nil {
			return nil, nil
		}
		paths = []string{config.DefaultKeyring}
	}
	kr, err := gpg.LoadKeyrings(paths...)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
		return nil, err
	}
	return kr, nil
}

// loadCACert reads a PEM bundle of certificate authorities; "" means the
// system's.
func loadCACert(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --cacert: %w", ErrUsage, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: --cacert %s: no PEM certificates in it", ErrUsage, path)
	}
	return pool, nil
}

// Signing resolves the signed-metadata mode into opts and loads the
// operator's key when re-signing.
func Signing(cfg *config.Sync, sourceSigned bool, opts *plan.Options) (*gpg.SigningKey, error) {
	mode := cfg.SignedMetadata
	if mode == "" {
		switch {
		case cfg.SignKey != "":
			mode = "resign"
		case sourceSigned:
			mode = "upstream"
		default:
			mode = "none"
		}
	}
	m, err := plan.ParseSignedMode(mode)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if m == plan.SignedUpstream && !sourceSigned {
		return nil, fmt.Errorf("%w: --signed-metadata upstream needs a signed source (an .sjson start); use resign or none", ErrUsage)
	}
	opts.Signed = m
	if m != plan.SignedResign {
		return nil, nil
	}
	pass, err := passphrase(cfg.SignPassphraseFile, cfg.SignPassphrase)
	if err != nil {
		return nil, err
	}
	key, err := gpg.LoadSigningKey(cfg.SignKey, pass)
	if err != nil {
		return nil, fmt.Errorf("%w: --sign-key: %w", ErrUsage, err)
	}
	opts.Resign = &plan.ResignKey{Public: key.PublicKeyring(), Armored: key.ArmoredPublicKeyring(), Verifier: key.Keyring()}
	return key, nil
}

// passphrase returns the signing key's passphrase: from the file, else
// the sign_passphrase setting (SSMIRROR_SIGN_PASSPHRASE).
func passphrase(file string, given config.Secret) ([]byte, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%w: --sign-passphrase-file: %w", ErrUsage, err)
		}
		return []byte(strings.TrimRight(string(data), "\r\n")), nil
	}
	return []byte(given.Reveal()), nil
}

// PublicURL returns where clients reach the mirror: the operator's
// --public-url, else the store's own address.
func PublicURL(given string, dst target.Store) string {
	if given != "" {
		return strings.TrimSuffix(given, "/") + "/"
	}
	switch s := dst.(type) {
	case *s3store.Store:
		return strings.TrimSuffix(s.URL(), "/") + "/"
	case *dirstore.Store:
		abs, err := filepath.Abs(s.Root())
		if err != nil {
			abs = s.Root()
		}
		return "file://" + filepath.ToSlash(abs) + "/"
	}
	return dst.String() + "/"
}

// OpenJob opens what a sync of cfg reads and writes: the upstream (with
// the --mirror locations and the --bwlimit limiter, retrying as cfg says
// and logging each retry and each item read from another mirror on log),
// the start file (cfg.Path, if given), the keyring, the target and where
// clients reach it. The caller fills in Version, LeaseClock and Run.
func OpenJob(ctx context.Context, cfg config.Sync, log *slog.Logger) (Job, *Upstream, error) {
	retry := source.RetryPolicy{
		Attempts: cfg.Retries, BaseDelay: time.Duration(cfg.RetryDelay), IdleTimeout: time.Duration(cfg.IdleTimeout),
		LowSpeed: source.LowSpeed{Rate: int64(cfg.LowSpeed.Rate), Window: time.Duration(cfg.LowSpeed.Window)},
		Notify: func(path string, attempt int, wait time.Duration, err error) {
			log.Info("retrying", "path", path, "attempt", attempt, "wait", wait.Round(time.Millisecond), "err", err)
		},
	}
	up, err := OpenUpstream(ctx, cfg, retry, func(path, from string, err error) {
		if err == nil {
			// Chosen as the fastest, or tried again after a read from
			// the first.
			log.Info("reading from another mirror", "path", path, "mirror", from)
			return
		}
		log.Info("reading from another mirror", "path", path, "mirror", from, "err", err)
	})
	if err != nil {
		return Job{}, nil, err
	}
	start := up.Start
	if cfg.Path != "" {
		if root, named := source.SplitStart(cfg.Source); root != cfg.Source {
			return Job{}, nil, fmt.Errorf("%w: path %s: the source already names its start file %s", config.ErrInvalid, cfg.Path, named)
		}
		start = cfg.Path
	}
	keyring, err := LoadKeyring(cfg.Keyrings, cfg.NoVerify, start)
	if err != nil {
		return Job{}, nil, err
	}
	dst, err := OpenTarget(ctx, cfg.Target, cfg.S3)
	if err != nil {
		return Job{}, nil, err
	}
	return Job{Config: cfg, Meta: up.Meta, Items: up.Items, Start: start, Keyring: keyring, Target: dst, Retry: retry,
		PublicURL: PublicURL(cfg.PublicURL, dst), Log: log,
		Signing: func(sourceSigned bool, opts *plan.Options) (*gpg.SigningKey, error) {
			return Signing(&cfg, sourceSigned, opts)
		}}, up, nil
}
