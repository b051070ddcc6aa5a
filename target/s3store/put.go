package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ssmirror/ssmirror/target"
)

// checksumHeader carries the expected SHA-256 (base64) of a single PUT; the
// server refuses the body with BadDigest when it does not match. minio-go
// sends user metadata keys starting with "x-amz-" as plain headers.
const checksumHeader = "x-amz-checksum-sha256"

// sha256Meta is the user metadata (x-amz-meta-…) that records the verified
// SHA-256 of a multipart object.
const sha256Meta = "ssmirror-sha256"

// Put stores exactly size bytes from body under key. See the package
// documentation for how single and multipart uploads are verified.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	name, err := s.object("put", key)
	if err != nil {
		return "", err
	}
	if size < 0 {
		return "", fmt.Errorf("s3store: put %s: negative size %d", s.objURL(key), size)
	}
	if n := len(opts.SHA256); n != 0 && n != sha256.Size {
		return "", fmt.Errorf("s3store: put %s: PutOptions.SHA256 has %d bytes, want %d", s.objURL(key), n, sha256.Size)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("s3store: put %s: %w", s.objURL(key), err)
	}
	partSize := s.partSizeFor(size)
	conditional := opts.IfAbsent || opts.IfMatch != ""
	switch {
	case size <= partSize, conditional && size <= MaxPartSize:
		// A conditional write is one PUT, however large (up to what S3
		// takes in one): S3 checks If-Match/If-None-Match on it. Its
		// callers write metadata, which they hold in memory anyway, so it
		// does not wait for the upload memory either: a lease renewal must
		// not queue behind the parts of items that stream from a slow
		// upstream and hold the whole budget (the lease was lost so).
		if !conditional {
			s.mem.acquire(size)
			defer s.mem.release(size)
		}
		return s.putSingle(ctx, key, name, body, size, opts)
	case conditional:
		return "", fmt.Errorf("s3store: put %s: %w: a conditional write is one PUT, of at most %d bytes", s.objURL(key), target.ErrTooLarge, int64(MaxPartSize))
	case s.streams(size, opts):
		return s.putStream(ctx, key, name, body, size, opts)
	case partSize > s.partSize && partSize > s.mem.total:
		// The size needs parts larger than the configured ones (S3 takes
		// at most MaxParts) and than the whole upload memory: buffering
		// one would break the memory bound, whatever the body turns out
		// to hold.
		return "", fmt.Errorf("s3store: put %s: %w: %d bytes need parts of %d bytes (at most %d parts), more than the upload memory of %d bytes",
			s.objURL(key), target.ErrTooLarge, size, partSize, MaxParts, s.mem.total)
	}
	return s.putMultipart(ctx, key, name, body, size, partSize, opts, nil)
}

// partSizeFor returns the part size for an object of size bytes: the
// configured one, grown (in whole MiB) if the upload would otherwise need
// more than MaxParts parts.
func (s *Store) partSizeFor(size int64) int64 {
	ps := s.partSize
	if (size+ps-1)/ps > MaxParts {
		const mib = 1 << 20
		ps = (size + MaxParts - 1) / MaxParts
		ps = (ps + mib - 1) / mib * mib
	}
	return ps
}

func putObjectOptions(opts target.PutOptions) minio.PutObjectOptions {
	o := minio.PutObjectOptions{
		ContentType:  opts.ContentType, // minio-go defaults it to application/octet-stream
		CacheControl: opts.CacheControl,
		UserMetadata: map[string]string{},
	}
	for k, v := range opts.Meta {
		o.UserMetadata[k] = v // sent as x-amz-meta-k
	}
	switch {
	case opts.IfAbsent:
		o.SetMatchETagExcept("*")
	case opts.IfMatch != "":
		o.SetMatchETag(opts.IfMatch)
	}
	return o
}

// putSingle uploads body with one PUT request. The body (at most one part
// size) is read into memory and checked first, so nothing is sent unless
// its length and digest are right, and minio-go can retry the request on
// transient errors.
//
// The caller accounts for the buffer in the memory budget (Put does; the
// resume records of an upload, which holds its part buffers, are not
// counted: see recordStore).
func (s *Store) putSingle(ctx context.Context, key, name string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	buf := s.bufs.get(size)
	defer s.bufs.put(buf)
	r := target.ContextReader(ctx, body)
	if n, err := io.ReadFull(r, buf); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = fmt.Errorf("body ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
		} else {
			err = fmt.Errorf("reading body at offset %d: %w", n, err)
		}
		return "", fmt.Errorf("s3store: put %s: %w", s.objURL(key), err)
	}
	if extra, err := target.MoreData(r); err != nil {
		return "", fmt.Errorf("s3store: put %s: reading body after %d bytes: %w", s.objURL(key), size, err)
	} else if extra {
		return "", fmt.Errorf("s3store: put %s: body is longer than the declared %d bytes", s.objURL(key), size)
	}
	// A body that verified these very bytes against the same SHA-256 as
	// it streamed (source.VerifyingReader) need not be hashed again.
	if opts.SHA256 != nil && !s.noLocalVerify && !target.Verified(body, opts.SHA256) {
		if got := sha256.Sum256(buf); !bytes.Equal(got[:], opts.SHA256) {
			return "", fmt.Errorf("s3store: put %s: %w", s.objURL(key), checksumError("SHA-256", got[:], opts.SHA256))
		}
	}
	// The server verifies the body as well: against the checksum header
	// when the caller gave a digest and the store enforces the header,
	// else against Content-MD5, which every S3 API checks. So the payload
	// need not also be signed as an aws-chunked stream (a second hash on
	// both sides), and a proxy may sign the request again.
	mopts := putObjectOptions(opts)
	mopts.DisableContentSha256 = true
	var md5b64 string
	if opts.SHA256 != nil && s.capabilities().ChecksumSHA256 {
		mopts.UserMetadata[checksumHeader] = base64.StdEncoding.EncodeToString(opts.SHA256)
	} else {
		h := md5.Sum(buf)
		md5b64 = base64.StdEncoding.EncodeToString(h[:])
		if opts.SHA256 != nil {
			mopts.UserMetadata[sha256Meta] = hex.EncodeToString(opts.SHA256) // for Stat
		}
	}
	if size > refusedDrain && (opts.IfAbsent || opts.IfMatch != "") {
		if err := s.precheck(ctx, key, opts); err != nil {
			return "", err
		}
	}
	var (
		etag string
		err  error
		done bool
	)
	if s.direct != nil && !opts.IfAbsent && opts.IfMatch == "" {
		etag, done, err = s.direct.put(ctx, name, buf, md5b64, mopts)
	}
	if !done {
		etag, err = s.putObject(ctx, name, buf, md5b64, mopts)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			return "", fmt.Errorf("s3store: put %s: %w (%w)", s.objURL(key), cerr, err)
		}
		if opts.IfMatch != "" && errors.Is(s.mapErr(err), target.ErrNotExist) {
			return "", fmt.Errorf("s3store: put %s: %w: it does not exist", s.objURL(key), target.ErrPrecondition)
		}
		return "", s.wrapErr("put", key, err)
	}
	return etag, nil
}

// refusedDrain is how much of a refused request's body S3 servers read
// before they close the connection (Go's net/http, hence MinIO and
// SeaweedFS, and versitygw: 256 KiB). A conditional PUT whose condition
// fails is answered 412 as soon as its headers are in; with more body than
// this still on its way, the connection is reset, and a client still
// sending (or slow to read the answer) sees the reset instead of the 412.
const refusedDrain = 256 << 10

// precheck tells a conditional write of key that would be refused from
// one that may succeed, with a HEAD request, before a body larger than
// refusedDrain is sent: ErrPrecondition if the condition fails now (the
// object exists for IfAbsent; for IfMatch, it is missing or has another
// ETag). The PUT still carries the condition, which S3 checks: this only
// spares the body and the reset, and a write racing the check is still
// refused by the server.
func (s *Store) precheck(ctx context.Context, key string, opts target.PutOptions) error {
	obj, err := s.Stat(ctx, key)
	switch {
	case errors.Is(err, target.ErrNotExist) && opts.IfAbsent:
		return nil
	case errors.Is(err, target.ErrNotExist):
		return fmt.Errorf("s3store: put %s: %w: it does not exist", s.objURL(key), target.ErrPrecondition)
	case err != nil:
		return err
	case opts.IfAbsent:
		return fmt.Errorf("s3store: put %s: %w: it exists", s.objURL(key), target.ErrPrecondition)
	case strings.Trim(obj.ETag, `"`) != strings.Trim(opts.IfMatch, `"`):
		return fmt.Errorf("s3store: put %s: %w: its ETag is %s, not %s", s.objURL(key), target.ErrPrecondition, obj.ETag, opts.IfMatch)
	}
	return nil
}

// streams reports whether a Put of size bytes (larger than a part, not
// conditional) is one streamed PUT: up to the multipart threshold, with a
// SHA-256 the store checks.
func (s *Store) streams(size int64, opts target.PutOptions) bool {
	return size <= s.streamMax && opts.SHA256 != nil && s.capabilities().ChecksumSHA256
}

// putStream uploads body with one PUT request sent as body is read, with
// the checksum header the server verifies the whole body against. The
// last byte is held back until body has ended at size without an error,
// so a body that fails, is short or is too long never reaches the server
// whole; the request is then cut and the server stores nothing.
func (s *Store) putStream(ctx context.Context, key, name string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	sb := &sealedBody{r: target.ContextReader(ctx, body), left: size}
	mopts := putObjectOptions(opts)
	mopts.DisableContentSha256 = true
	mopts.UserMetadata[checksumHeader] = base64.StdEncoding.EncodeToString(opts.SHA256)
	info, err := s.putCore.PutObject(ctx, s.bucket, name, sb, size, "", "", mopts)
	if err != nil {
		if berr := sb.failure(); berr != nil {
			// The body's own failure, not the request's that it cut.
			return "", fmt.Errorf("s3store: put %s: %w", s.objURL(key), berr)
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			return "", fmt.Errorf("s3store: put %s: %w (%w)", s.objURL(key), cerr, err)
		}
		return "", s.wrapErr("put", key, err)
	}
	return info.ETag, nil
}

// sealedBody reads exactly left bytes of r, holding the last one back
// until r has ended there without an error. Its first error is kept in
// err, since the HTTP client reports a request it cut in its own words.
type sealedBody struct {
	mu   sync.Mutex // the HTTP client may still read when the request has failed
	r    io.Reader
	left int64 // bytes still to deliver
	err  error
}

// failure is the body's first error, if any.
func (b *sealedBody) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *sealedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.left > 1 {
		n, err := b.r.Read(p[:min(int64(len(p)), b.left-1)])
		b.left -= int64(n)
		if err == io.EOF {
			err = fmt.Errorf("body ended %d bytes short: %w", b.left, io.ErrUnexpectedEOF)
		}
		if err != nil {
			b.err = err
		}
		return n, err
	}
	// Not io.ReadFull: it drops an error that comes with the last byte,
	// which is where a verifying body reports a mismatch.
	var last [1]byte
	n, err := 0, error(nil)
	for try := 0; n == 0 && err == nil; try++ {
		if try == 100 {
			err = io.ErrNoProgress
			break
		}
		n, err = b.r.Read(last[:])
	}
	switch {
	case n == 0 && err == io.EOF:
		b.err = fmt.Errorf("body ended 1 byte short: %w", io.ErrUnexpectedEOF)
	case err != nil && err != io.EOF:
		b.err = err
	case err == nil:
		if extra, merr := target.MoreData(b.r); merr != nil {
			b.err = fmt.Errorf("reading body after its last byte: %w", merr)
		} else if extra {
			b.err = errors.New("body is longer than the declared size")
		}
	}
	if b.err != nil {
		return 0, b.err
	}
	b.left = 0
	p[0] = last[0]
	return 1, nil
}

// conflictRetries bounds the tries of a conditional PUT the store answers
// 409 ConditionalRequestConflict (another conditional write of the key
// was in flight: AWS asks to try again).
const conflictRetries = 5

// putObject sends one PUT request of buf (Core.PutObject: no automatic
// multipart upload, no extra trailing checksum), with Content-MD5 md5b64
// when set, and tries again after a 409 conflict.
func (s *Store) putObject(ctx context.Context, name string, buf []byte, md5b64 string, mopts minio.PutObjectOptions) (string, error) {
	delay := 20 * time.Millisecond
	for try := 1; ; try++ {
		info, err := s.putCore.PutObject(ctx, s.bucket, name, bytes.NewReader(buf), int64(len(buf)), md5b64, "", mopts)
		var er minio.ErrorResponse
		if err == nil || try == conflictRetries || !errors.As(err, &er) || er.StatusCode != http.StatusConflict {
			return info.ETag, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func checksumError(algo string, got, want []byte) error {
	return fmt.Errorf("%w: body has %s %s, want %s", target.ErrChecksum, algo,
		hex.EncodeToString(got), hex.EncodeToString(want))
}

// algoOf names the digest putMultipart checks: rs's sum, else SHA-256.
func algoOf(rs *resumable) string {
	if rs != nil {
		return rs.sum.Algo
	}
	return "SHA-256"
}

// putMultipart uploads body as a multipart upload of parts of partSize
// bytes, at most s.concurrency in flight, and aborts it on any failure.
// With rs set, the upload goes on after the parts rs holds (body is the
// rest), each part done is recorded, and a cut-off upload with parts
// recorded is kept rather than aborted.
func (s *Store) putMultipart(ctx context.Context, key, name string, body io.Reader, size, partSize int64, opts target.PutOptions, rs *resumable) (etag string, err error) {
	mopts := putObjectOptions(opts)
	if opts.SHA256 != nil {
		// A multipart object has no whole-object checksum in S3: record
		// the digest verified below as metadata, for Stat.
		mopts.UserMetadata[sha256Meta] = hex.EncodeToString(opts.SHA256)
	}
	var (
		first    int       // parts already done
		restored hash.Hash // the digest (of rs.sum's algorithm) of those
		uploadID string
		keep     bool // a cut-off: keep the parts recorded
	)
	if rs != nil {
		first, restored = rs.first()
		uploadID = rs.rec.UploadID
	}
	if uploadID == "" {
		if uploadID, err = s.core.NewMultipartUpload(ctx, s.bucket, name, mopts); err != nil {
			return "", s.wrapErr("put (starting multipart upload)", key, err)
		}
		if rs != nil {
			rs.rec.UploadID = uploadID
		}
	}
	defer func() {
		if rs != nil && err == nil {
			rs.removeRecord()
		}
		// A cancelled Put (the run interrupted) keeps nothing.
		if err == nil || rs != nil && keep && ctx.Err() == nil && rs.kept() {
			return
		}
		if rs != nil {
			s.dropRecord(ctx, name, rs.rec)
			return
		}
		// Abort even when ctx is cancelled: nothing may be left behind.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if aerr := s.core.AbortMultipartUpload(actx, s.bucket, name, uploadID); aerr != nil {
			err = fmt.Errorf("%w (and aborting multipart upload %s failed: %v)", err, uploadID, aerr)
		}
	}()

	nparts := int((size + partSize - 1) / partSize)
	parts := make([]minio.CompletePart, nparts)
	if rs != nil {
		for i, p := range rs.rec.Parts {
			parts[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
		}
	}

	upctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	setErr := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel(err) })
	}
	// Buffers: one being filled plus at most concurrency being uploaded,
	// each taken from the store's memory budget (the first one waits for
	// it; further ones only if it is free now, else a buffer is reused).
	free := make(chan []byte, s.concurrency+1)
	allocated := 0
	bufSize := min(partSize, size)
	var all [][]byte
	defer func() {
		for _, b := range all {
			s.bufs.put(b)
		}
		s.mem.release(int64(allocated) * bufSize)
	}()
	sem := make(chan struct{}, s.concurrency)

	var h hash.Hash
	want := opts.SHA256
	if opts.SHA256 != nil {
		h = sha256.New()
	}
	if restored != nil {
		// A resumable upload checks its own sum (the SHA-256 when the
		// body has one, so opts.SHA256 is that digest).
		h, want = restored, rs.sum.Digest
	}
	md5Parts := !s.capabilities().ChecksumSHA256
	r := target.ContextReader(ctx, body)
	var (
		readErr error
		longer  bool // the body is longer than size
	)
	for i := first; i < nparts; i++ {
		if upctx.Err() != nil {
			break // an upload failed or ctx was cancelled
		}
		n := min(partSize, size-int64(i)*partSize)
		var buf []byte
		select {
		case buf = <-free:
		default:
			if allocated == 0 {
				s.mem.acquire(bufSize)
			}
			if allocated == 0 || allocated < s.concurrency+1 && s.mem.tryAcquire(bufSize) {
				allocated++
				buf = s.bufs.get(bufSize)
				all = append(all, buf)
			} else {
				select {
				case buf = <-free:
				case <-upctx.Done():
				}
			}
		}
		if buf == nil {
			break // an upload failed
		}
		buf = buf[:n]
		if m, rerr := io.ReadFull(r, buf); rerr != nil {
			if rerr == io.ErrUnexpectedEOF || rerr == io.EOF {
				rerr = fmt.Errorf("body ended after %d of %d bytes: %w", int64(i)*partSize+int64(m), size, io.ErrUnexpectedEOF)
			} else {
				rerr = fmt.Errorf("reading body at offset %d: %w", int64(i)*partSize+int64(m), rerr)
			}
			readErr = rerr
			break
		}
		var state []byte
		if h != nil {
			h.Write(buf)
			if rs != nil {
				state = target.DigestState(h)
			}
		}
		if i == nparts-1 {
			if extra, perr := target.MoreData(r); perr != nil {
				readErr = fmt.Errorf("reading body after %d bytes: %w", size, perr)
				break
			} else if extra {
				readErr = fmt.Errorf("body is longer than the declared %d bytes", size)
				longer = true
				break
			}
			if h != nil {
				if got := h.Sum(nil); !bytes.Equal(got, want) {
					readErr = checksumError(algoOf(rs), got, want)
					break
				}
			}
		}
		select {
		case sem <- struct{}{}:
		case <-upctx.Done():
		}
		if upctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(partNum int, buf []byte) {
			defer wg.Done()
			defer func() { <-sem }()
			var popts minio.PutObjectPartOptions
			if md5Parts {
				// The store does not enforce the SHA-256 checksum header:
				// it verifies each part against its Content-MD5 instead.
				h := md5.Sum(buf)
				popts.Md5Base64 = base64.StdEncoding.EncodeToString(h[:])
				popts.DisableContentSha256 = true
			}
			p, err := s.putPart(upctx, name, uploadID, partNum, buf, popts)
			free <- buf[:cap(buf)]
			if err != nil {
				setErr(fmt.Errorf("uploading part %d of %d: %w", partNum, nparts, err))
				return
			}
			parts[partNum-1] = minio.CompletePart{PartNumber: partNum, ETag: p.ETag}
			if rs != nil {
				rs.done(partNum, p.ETag, int64(len(buf)), state)
			}
		}(i+1, buf)
	}
	wg.Wait()

	switch {
	case readErr != nil:
		if errors.Is(readErr, target.ErrChecksum) {
			return "", fmt.Errorf("s3store: put %s: %w", s.objURL(key), readErr)
		}
		// A body cut short (not one too long) leaves good parts.
		keep = !longer
		if cerr := ctx.Err(); cerr != nil && !errors.Is(readErr, cerr) {
			return "", fmt.Errorf("s3store: put %s: %w (%w)", s.objURL(key), cerr, readErr)
		}
		return "", fmt.Errorf("s3store: put %s: %w", s.objURL(key), readErr)
	case firstErr != nil:
		keep = true
		if cerr := ctx.Err(); cerr != nil {
			return "", fmt.Errorf("s3store: put %s: %w", s.objURL(key), cerr)
		}
		return "", s.wrapErr("put", key, firstErr)
	case ctx.Err() != nil:
		keep = true
		return "", fmt.Errorf("s3store: put %s: %w", s.objURL(key), ctx.Err())
	}

	info, err := s.core.CompleteMultipartUpload(ctx, s.bucket, name, uploadID, parts, minio.PutObjectOptions{})
	if err != nil {
		return "", s.wrapErr("put (completing multipart upload)", key, err)
	}
	return info.ETag, nil
}

// putPart uploads one part of a multipart upload. Cancelling ctx cuts the
// part's body while it is being sent, and the server stores nothing. Once
// the whole body has gone out, putPart waits for the server's answer
// instead (for up to abortTimeout): the server may still store the part,
// and a part stored after its upload was aborted lists the upload again,
// left behind.
func (s *Store) putPart(ctx context.Context, name, uploadID string, num int, buf []byte, popts minio.PutObjectPartOptions) (minio.ObjectPart, error) {
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	body := &partBody{r: bytes.NewReader(buf), ctx: ctx, cancel: cancel}
	stop := context.AfterFunc(ctx, func() {
		if !body.cut() {
			time.AfterFunc(abortTimeout, cancel)
		}
	})
	defer stop()
	return s.core.PutObjectPart(pctx, s.bucket, name, uploadID, num, body, int64(len(buf)), popts)
}

// partBody is a part's body that can be cut while it is being sent. It is
// seekable, so that minio-go can send it again after a transient error,
// unless it was cut or ctx is done.
type partBody struct {
	mu     sync.Mutex
	r      *bytes.Reader
	ctx    context.Context    // the Put's
	cancel context.CancelFunc // of the part's request
	isCut  bool
}

var errPartCut = errors.New("part upload cancelled")

func (b *partBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isCut {
		return 0, errPartCut
	}
	return b.r.Read(p)
}

func (b *partBody) Seek(offset int64, whence int) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isCut || b.ctx.Err() != nil {
		b.isCut = true
		b.cancel()
		return 0, errPartCut
	}
	return b.r.Seek(offset, whence)
}

// cut cancels the part's request if its body has not all been read, and
// reports whether it did.
func (b *partBody) cut() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.r.Len() == 0 {
		return false
	}
	b.isCut = true
	b.cancel()
	return true
}
