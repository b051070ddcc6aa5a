package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ssmirror/ssmirror/target"
)

// ProbeKey is where a probe's result is kept in the store, outside
// streams/.
const ProbeKey = ".ssmirror/capabilities.json"

// probeDir holds a probe's scratch keys (one directory per probe).
const probeDir = ".ssmirror/probe-"

// probeVersion changes when the checks do: a result of other checks is
// not reused.
const probeVersion = 1

// staleProbe is the age after which scratch keys are left over from a
// probe that did not finish.
var staleProbe = time.Hour

// cachedProbe is the content of ProbeKey.
type cachedProbe struct {
	Version int `json:"version"`
	target.Probe
}

// Probe implements target.Prober. It tries, on scratch keys it deletes
// afterwards: If-None-Match: * on a missing and on an existing key,
// If-Match with a wrong ETag, on a missing key and with the right ETag;
// a single PUT with the right and with a wrong x-amz-checksum-sha256; with
// the right and with a wrong Content-MD5; a listing with start-after;
// user metadata and Cache-Control read back. Conditional writes the store
// answers 409 ConditionalRequestConflict are tried again, as Put does.
//
// From then on Put sends Content-MD5 (on single PUTs and parts) instead of
// the checksum header when the store rejects that header or does not
// enforce it; callers list sequentially (no ListAfter ranges) when
// StartAfter is missing, and must not count on the lease when
// ConditionalWrites is.
func (s *Store) Probe(ctx context.Context, fresh bool) (target.Probe, error) {
	if !fresh {
		p, ok, err := s.cachedProbe(ctx)
		if err != nil {
			return p, err
		}
		if ok {
			p.Kind = target.KindS3 // absent from the results of older versions
			s.caps.Store(&p.Capabilities)
			return p, nil
		}
	}
	p, err := s.probe(ctx)
	if err != nil {
		return p, err
	}
	s.caps.Store(&p.Capabilities)
	b, err := json.MarshalIndent(cachedProbe{Version: probeVersion, Probe: p}, "", "  ")
	if err != nil {
		return p, err
	}
	if _, err := s.Put(ctx, ProbeKey, bytes.NewReader(b), int64(len(b)), target.PutOptions{ContentType: "application/json"}); err != nil {
		return p, fmt.Errorf("s3store: keeping the probe's result: %w", err)
	}
	return p, nil
}

// cachedProbe reads back the result of an earlier probe of the same
// endpoint and server (the identity the store answered this read with).
// It is the store's first request in a run: an error other than a
// missing result (a missing bucket, refused credentials, an untrusted
// certificate) is returned.
func (s *Store) cachedProbe(ctx context.Context) (target.Probe, bool, error) {
	rc, _, err := s.Open(ctx, ProbeKey)
	if errors.Is(err, target.ErrNotExist) {
		return target.Probe{}, false, nil
	}
	if err != nil {
		return target.Probe{}, false, err
	}
	defer rc.Close()
	var c cachedProbe
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&c); err != nil ||
		c.Version != probeVersion || c.Endpoint != s.endpoint || c.Server != s.server.String() {
		return target.Probe{}, false, nil
	}
	c.Cached = true
	c.Store = s.String()
	return c.Probe, true, nil
}

// prober runs the checks of one probe.
type prober struct {
	s      *Store
	ctx    context.Context
	dir    string   // object name prefix of the scratch keys
	made   []string // scratch object names to delete
	checks []target.Check
}

// answer describes the outcome of a request for a check.
func answer(err error) string {
	if err == nil {
		return "accepted"
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.StatusCode != 0 {
		code := er.Code
		if code == "" {
			code = http.StatusText(er.StatusCode)
		}
		return fmt.Sprintf("refused (%d %s)", er.StatusCode, code)
	}
	return "failed: " + err.Error()
}

// check records a request whose answer should be accepted (want true) or
// refused; it returns whether it was.
func (p *prober) check(name string, wantAccepted bool, err error) bool {
	got := answer(err)
	ok := (err == nil) == wantAccepted
	want := "refused"
	if wantAccepted {
		want = "accepted"
	}
	if !wantAccepted && err != nil {
		// Refused, but for a reason that says nothing of the feature
		// (the store broke, a proxy in the way): not a pass.
		var er minio.ErrorResponse
		if !errors.As(err, &er) || er.StatusCode/100 != 4 || er.StatusCode == http.StatusForbidden {
			ok = false
		}
	}
	p.checks = append(p.checks, target.Check{Name: name, Want: want, Got: got, OK: ok})
	return ok
}

// put sends a single PUT of body to scratch key k and remembers the key.
func (p *prober) put(k string, body []byte, md5b64 string, opts minio.PutObjectOptions) (string, error) {
	name := p.dir + k
	p.made = append(p.made, name)
	opts.DisableContentSha256 = true
	if opts.UserMetadata == nil {
		opts.UserMetadata = map[string]string{}
	}
	return p.s.putObject(p.ctx, name, body, md5b64, opts)
}

// fatal reports whether err means the probe cannot go on (the context
// ended, the store refuses our credentials or has no such bucket, or its
// certificate is not trusted).
func (p *prober) fatal(err error) error {
	if err == nil {
		return nil
	}
	if cerr := p.ctx.Err(); cerr != nil {
		return cerr
	}
	var cert *tls.CertificateVerificationError
	if errors.Is(p.s.mapErr(err), target.ErrAccess) || errors.Is(p.s.mapErr(err), target.ErrNoBucket) || errors.As(err, &cert) {
		return p.s.wrapErr("probe", strings.TrimPrefix(p.dir, p.s.prefix), err)
	}
	return nil
}

func (s *Store) probe(ctx context.Context) (target.Probe, error) {
	var r [6]byte
	rand.Read(r[:])
	p := &prober{s: s, ctx: ctx, dir: s.prefix + probeDir + hex.EncodeToString(r[:]) + "/"}
	defer func() {
		// A fresh context: scratch keys are removed even after a cancel.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		for _, name := range p.made {
			s.client.RemoveObject(dctx, s.bucket, name, minio.RemoveObjectOptions{})
		}
	}()
	// Scratch keys of a probe that was killed are removed by a later one.
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + probeDir, Recursive: true}) {
		if obj.Err == nil && time.Since(obj.LastModified) > staleProbe {
			p.made = append(p.made, obj.Key)
		}
	}
	res := target.Probe{Store: s.String(), Kind: target.KindS3, Endpoint: s.endpoint, Server: s.server.String(), Time: time.Now().UTC()}
	body := []byte("ssmirror capability probe\n")
	sum := sha256.Sum256(body)
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	wrong := sha256.Sum256([]byte("not the body"))
	md5sum := md5.Sum(body)
	wrongMD5 := md5.Sum([]byte("not the body"))

	// Conditional writes.
	opts := minio.PutObjectOptions{CacheControl: "max-age=7", UserMetadata: map[string]string{"ssmirror-probe": "kept"}}
	opts.SetMatchETagExcept("*")
	etag, err := p.put("a", body, "", opts)
	if ferr := p.fatal(err); ferr != nil {
		return res, ferr
	}
	cond := p.check("PUT If-None-Match: * of a missing key", true, err)
	if err != nil { // the other checks need the key
		if etag, err = p.put("a", body, "", minio.PutObjectOptions{CacheControl: opts.CacheControl, UserMetadata: opts.UserMetadata}); p.fatal(err) != nil {
			return res, p.fatal(err)
		}
	}
	_, err = p.put("a", body, "", opts)
	cond = p.check("PUT If-None-Match: * of an existing key", false, err) && cond
	var m minio.PutObjectOptions
	m.SetMatchETag(`"00000000000000000000000000000000"`)
	_, err = p.put("a", body, "", m)
	cond = p.check("PUT If-Match with a wrong ETag", false, err) && cond
	_, err = p.put("missing", body, "", m)
	cond = p.check("PUT If-Match of a missing key", false, err) && cond
	m = minio.PutObjectOptions{CacheControl: opts.CacheControl, UserMetadata: opts.UserMetadata}
	m.SetMatchETag(etag)
	_, err = p.put("a", body, "", m)
	cond = p.check("PUT If-Match with the right ETag", true, err) && cond
	res.ConditionalWrites = cond

	// Checksums.
	_, err = p.put("sha-right", body, "", minio.PutObjectOptions{UserMetadata: map[string]string{checksumHeader: b64(sum[:])}})
	sha := p.check("PUT with the right x-amz-checksum-sha256", true, err)
	_, err = p.put("sha-wrong", body, "", minio.PutObjectOptions{UserMetadata: map[string]string{checksumHeader: b64(wrong[:])}})
	sha = p.check("PUT with a wrong x-amz-checksum-sha256", false, err) && sha
	res.ChecksumSHA256 = sha
	_, err = p.put("md5-right", body, b64(md5sum[:]), minio.PutObjectOptions{})
	md := p.check("PUT with the right Content-MD5", true, err)
	_, err = p.put("md5-wrong", body, b64(wrongMD5[:]), minio.PutObjectOptions{})
	md = p.check("PUT with a wrong Content-MD5", false, err) && md
	res.ContentMD5 = md

	// Listing and metadata.
	var keys []string
	err = nil
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{
		Prefix: p.dir, Recursive: true, StartAfter: p.dir + "a", FetchOwner: new(false)}) {
		if obj.Err != nil {
			err = obj.Err
			break
		}
		keys = append(keys, strings.TrimPrefix(obj.Key, p.dir))
	}
	after := err == nil && len(keys) > 0 && keys[0] > "a"
	got := "listed " + strings.Join(keys, ", ")
	if err != nil {
		got = answer(err)
	}
	p.checks = append(p.checks, target.Check{Name: `ListObjectsV2 start-after "a"`, Want: "keys after a", Got: got, OK: after})
	res.StartAfter = after

	info, err := s.client.StatObject(ctx, s.bucket, p.dir+"a", minio.StatObjectOptions{})
	var meta string
	for k, v := range info.UserMetadata {
		if strings.EqualFold(k, "ssmirror-probe") {
			meta = v
		}
	}
	kept := err == nil && info.Metadata.Get("Cache-Control") == "max-age=7" && meta == "kept"
	got = answer(err)
	if err == nil {
		got = fmt.Sprintf("Cache-Control %q, x-amz-meta-ssmirror-probe %q", info.Metadata.Get("Cache-Control"), meta)
	}
	p.checks = append(p.checks, target.Check{Name: "HEAD returns user metadata and Cache-Control", Want: "both kept", Got: got, OK: kept})
	res.Metadata = kept
	res.Checks = p.checks
	return res, nil
}
