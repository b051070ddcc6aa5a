package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/bwlimit"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// openTarget opens a TARGET argument: s3://BUCKET[/PREFIX] or a directory.
func openTarget(ctx context.Context, loc string, s3cfg config.S3) (target.Store, error) {
	if strings.HasPrefix(loc, "s3://") {
		bucket, prefix, err := s3store.ParseURL(loc)
		if err != nil {
			return nil, fmt.Errorf("%w: target: %w", errUsage, err)
		}
		roots, err := loadCACert(s3cfg.CACert)
		if err != nil {
			return nil, err
		}
		return s3store.New(ctx, s3store.Config{RootCAs: roots,
			Bucket: bucket, Prefix: prefix,
			Endpoint: s3cfg.Endpoint, Region: s3cfg.Region, PathStyle: s3cfg.PathStyle,
			Anonymous: s3cfg.Anonymous, InsecureTLS: s3cfg.InsecureTLS, PartSize: int64(s3cfg.PartSize),
			Concurrency: s3cfg.PartUploads, Memory: int64(s3cfg.UploadMemory),
			AccessKey: s3cfg.AccessKeyID, SecretKey: s3cfg.SecretAccessKey.Reveal(), SessionToken: s3cfg.SessionToken.Reveal(),
		})
	}
	if strings.Contains(loc, "://") && !strings.HasPrefix(loc, "file://") {
		return nil, fmt.Errorf("%w: target %q: want s3://BUCKET[/PREFIX] or a directory", errUsage, loc)
	}
	return dirstore.New(strings.TrimPrefix(loc, "file://"))
}

// openSource opens a SOURCE argument and returns the fetcher for its
// mirror root, which retries transient failures as retry says, and the
// start path. meter, if set, counts every request and the bytes read;
// proxy, if set, is the proxy of an http(s) source (else the environment's).
func openSource(ctx context.Context, loc string, s3cfg config.S3, proxy string, retry source.RetryPolicy, meter *source.Meter) (source.Fetcher, string, error) {
	f, start, err := openFetcher(ctx, loc, s3cfg, proxy)
	if err != nil {
		return nil, "", err
	}
	if meter != nil {
		f = meter.Fetcher(f)
	}
	return source.NewRetrying(f, retry), start, nil
}

// upstreamReaders are how a sync reads its upstream.
type upstreamReaders struct {
	meta  source.Fetcher // the metadata: SOURCE only
	items source.Fetcher // the items: SOURCE, then the --mirror locations
	start string
	meter *source.Meter    // every request to SOURCE and the mirrors
	fail  *source.Failover // nil without --mirror
	limit *bwlimit.Limiter // nil without --bwlimit
}

// openUpstream opens SOURCE and the --mirror locations of cfg, each
// retrying as retry says and counted by one meter, under one --bwlimit
// limiter; notify is told when an item comes from another mirror.
func openUpstream(ctx context.Context, cfg config.Sync, retry source.RetryPolicy, notify func(path, from string, err error)) (*upstreamReaders, error) {
	up := &upstreamReaders{meter: &source.Meter{}}
	var err error
	if up.meta, up.start, err = openSource(ctx, cfg.Source, cfg.S3, cfg.UpstreamProxy, retry, up.meter); err != nil {
		return nil, err
	}
	up.items = up.meta
	if len(cfg.ItemMirrors) > 0 {
		sources := []source.Fetcher{up.meta}
		for _, loc := range cfg.ItemMirrors {
			f, _, err := openSource(ctx, loc, cfg.S3, cfg.UpstreamProxy, retry, up.meter)
			if err != nil {
				return nil, fmt.Errorf("--mirror %s: %w", loc, err)
			}
			sources = append(sources, f)
		}
		up.fail = source.NewFailover(sources...)
		up.fail.Notify = notify
		up.items = up.fail
	}
	if !cfg.BWLimit.Off() {
		up.limit = bwlimit.New(cfg.BWLimit.At, bwlimit.Clock{})
		up.meta, up.items = source.NewLimited(up.meta, up.limit), source.NewLimited(up.items, up.limit)
	}
	return up, nil
}

// sourceBytes is the summary's account of the item bytes each source
// gave, with --mirror; nil without.
func (up *upstreamReaders) sourceBytes() []source.SourceBytes {
	if up.fail == nil {
		return nil
	}
	return up.fail.Bytes()
}

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
				return nil, "", fmt.Errorf("%w: --upstream-proxy: %w", errUsage, err)
			}
			tr.Proxy = http.ProxyURL(u)
		}
		f, err := source.NewHTTP(root, client)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %w", errUsage, err)
		}
		return f, start, nil
	case strings.HasPrefix(loc, "s3://"):
		st, err := openTarget(ctx, strings.TrimSuffix(root, "/"), s3cfg)
		if err != nil {
			return nil, "", err
		}
		return source.Store{Store: st}, start, nil
	case strings.Contains(loc, "://") && !strings.HasPrefix(loc, "file://"):
		return nil, "", fmt.Errorf("%w: source %q: want http(s)://, s3://, file:// or a directory", errUsage, loc)
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

// loadKeyring loads the keyrings a sync verifies with: the given files, or,
// for a signed (.sjson) start, the system's Ubuntu cloud-image keyring when
// none is given and it exists. A .json start is verified (with detached
// signatures) only when keyrings are given.
func loadKeyring(paths []string, noVerify bool, start string) (*gpg.Keyring, error) {
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
			return nil, fmt.Errorf("%w: %w", errUsage, err)
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
		return nil, fmt.Errorf("%w: --cacert: %w", errUsage, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: --cacert %s: no PEM certificates in it", errUsage, path)
	}
	return pool, nil
}
