package apply

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/s3store"
)

const (
	resumePath = "images/big.squashfs"
	resumeSize = 13 << 20 // three parts of s3store.MinPartSize
	cutAt      = 11 << 20 // the first answer breaks here: two parts done
)

// resumeRig is one item served by a real upstream whose answers break
// after cutAt bytes while cut is set (ranged ones fail with 503), read
// through a retrying fetcher, into a bucket of a real S3 server.
type resumeRig struct {
	srv    *upstream.Server
	st     *s3store.Store
	s3     *s3test.Server
	bucket string
	src    source.Fetcher
	cut    atomic.Bool
}

func newResumeRig(t *testing.T, s3 *s3test.Server, body []byte) *resumeRig {
	r := &resumeRig{s3: s3, bucket: s3.NewBucket(t)}
	r.srv = upstream.Serve(t, &upstream.Tree{Files: map[string][]byte{resumePath: body}})
	r.srv.SetHook(func(w http.ResponseWriter, req *http.Request) bool {
		if !r.cut.Load() {
			return false
		}
		if req.Header.Get("Range") != "" {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		b := r.srv.File(resumePath)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b[:cutAt])
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	})
	h, err := source.NewHTTP(r.srv.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.src = source.NewRetrying(h, source.RetryPolicy{Attempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	r.st, err = s3store.New(context.Background(), s3store.Config{Bucket: r.bucket, Prefix: "m", Endpoint: s3.Endpoint, PathStyle: true,
		Region: s3.Region, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PartSize: s3store.MinPartSize, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func transferOf(body []byte) plan.Transfer {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	return plan.Transfer{Path: resumePath, Size: int64(len(body)), SHA256: h, Sum: catalog.Checksum{Algo: "sha256", Hex: h}}
}

// cutRun transfers t with the upstream breaking: it must fail and leave a
// resume record of the two parts done.
func (r *resumeRig) cutRun(t *testing.T, tr plan.Transfer) target.ResumeRecord {
	t.Helper()
	r.cut.Store(true)
	defer r.cut.Store(false)
	if err := transfer(context.Background(), tr, r.src, r.st, "", nil); err == nil {
		t.Fatal("the cut transfer succeeded")
	}
	rec, err := target.ReadResume(context.Background(), r.st, resumePath)
	if err != nil {
		t.Fatalf("no resume record after the cut: %v", err)
	}
	if rec.Offset != 2*s3store.MinPartSize || len(rec.Parts) != 2 || rec.UploadID == "" {
		t.Fatalf("resume record after the cut: offset %d, %d parts, upload %q; want 2 parts", rec.Offset, len(rec.Parts), rec.UploadID)
	}
	return rec
}

// secondRun transfers t again with a healthy upstream and returns the
// item bytes it fetched.
func (r *resumeRig) secondRun(t *testing.T, tr plan.Transfer, want []byte) int64 {
	t.Helper()
	before := r.srv.Bytes(resumePath)
	if err := transfer(context.Background(), tr, r.src, r.st, "", nil); err != nil {
		t.Fatalf("second run: %v", err)
	}
	fetched := r.srv.Bytes(resumePath) - before
	rc, obj, err := r.st.Open(context.Background(), resumePath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("stored object: %d bytes (want %d), equal %v, err %v", obj.Size, len(want), bytes.Equal(got, want), err)
	}
	if st, err := r.st.Stat(context.Background(), resumePath); err != nil || st.SHA256 != tr.SHA256 {
		t.Errorf("Stat: SHA256 %q, %v; want %s", st.SHA256, err, tr.SHA256)
	}
	if _, err := target.ReadResume(context.Background(), r.st, resumePath); !errors.Is(err, target.ErrNotExist) {
		t.Errorf("resume record after completion: %v, want none", err)
	}
	r.noUploads(t)
	return fetched
}

func (r *resumeRig) noUploads(t *testing.T) {
	t.Helper()
	for up := range r.s3.Client(t).ListIncompleteUploads(context.Background(), r.bucket, "", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		t.Errorf("incomplete upload %s of %s left behind", up.UploadID, up.Key)
	}
}

// TestResumeAcrossRuns: an item cut off after two of its three parts (the
// upstream breaks and the retries run out) keeps its multipart upload and
// a resume record; the next run fetches only the rest with a ranged GET,
// and the object verifies.
func TestResumeAcrossRuns(t *testing.T) {
	s3test.Each(t, func(t *testing.T, s3 *s3test.Server) {
		body := upstream.Payload("big", resumeSize)
		r := newResumeRig(t, s3, body)
		tr := transferOf(body)
		rec := r.cutRun(t, tr)
		fetched := r.secondRun(t, tr, body)
		t.Logf("second run fetched %d of %d bytes (%d kept)", fetched, resumeSize, rec.Offset)
		if fetched != resumeSize-rec.Offset {
			t.Errorf("second run fetched %d bytes, want the %d after the kept parts", fetched, resumeSize-rec.Offset)
		}
	})
}

// TestResumeCatalogChanged: when the catalog's checksum of the item
// changed since the cut, the record is dropped and its upload aborted, and
// the item is fetched from byte 0.
func TestResumeCatalogChanged(t *testing.T) {
	s3test.Each(t, func(t *testing.T, s3 *s3test.Server) {
		body := upstream.Payload("big", resumeSize)
		r := newResumeRig(t, s3, body)
		rec := r.cutRun(t, transferOf(body))
		changed := upstream.Payload("changed", resumeSize)
		r.srv.Set(&upstream.Tree{Files: map[string][]byte{resumePath: changed}})
		if fetched := r.secondRun(t, transferOf(changed), changed); fetched != resumeSize {
			t.Errorf("second run fetched %d bytes, want the whole %d", fetched, resumeSize)
		}
		// secondRun checked that no upload is left: the old one was aborted.
		t.Logf("dropped the record of upload %s", rec.UploadID)
	})
}

// TestResumeUploadGone: a record whose upload vanished (aborted by
// another tool) is dropped, and the item fetched from byte 0.
func TestResumeUploadGone(t *testing.T) {
	s3test.Each(t, func(t *testing.T, s3 *s3test.Server) {
		body := upstream.Payload("big", resumeSize)
		r := newResumeRig(t, s3, body)
		tr := transferOf(body)
		rec := r.cutRun(t, tr)
		core := minio.Core{Client: r.s3.Client(t)}
		if err := core.AbortMultipartUpload(context.Background(), r.bucket, "m/"+resumePath, rec.UploadID); err != nil {
			t.Fatal(err)
		}
		if fetched := r.secondRun(t, tr, body); fetched != resumeSize {
			t.Errorf("second run fetched %d bytes, want the whole %d", fetched, resumeSize)
		}
	})
}

// TestResumeRecordGC: gc's abort of a stale upload removes its resume
// record too, and the resume records are the tool's own keys (no catalog
// may take them, gc and verify leave them alone).
func TestResumeRecordGC(t *testing.T) {
	s3 := s3test.Shared(t)
	body := upstream.Payload("big", resumeSize)
	r := newResumeRig(t, s3, body)
	r.cutRun(t, transferOf(body))
	if !plan.Internal(target.ResumeKey(resumePath)) {
		t.Errorf("%s is not one of the tool's own keys", target.ResumeKey(resumePath))
	}
	aborted, err := r.st.AbortIncompleteUploads(context.Background(), 0)
	if err != nil || len(aborted) != 1 {
		t.Fatalf("AbortIncompleteUploads: %v, %v; want the cut upload", aborted, err)
	}
	if _, err := target.ReadResume(context.Background(), r.st, resumePath); !errors.Is(err, target.ErrNotExist) {
		t.Errorf("resume record after its upload was aborted: %v, want none", err)
	}
	r.noUploads(t)
}
