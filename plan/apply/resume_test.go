package apply

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	"github.com/ssmirror/ssmirror/target/dirstore"
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
	srv  *upstream.Server
	st   target.Store
	src  source.Fetcher
	cut  atomic.Bool
	kept int64 // the bytes a cut keeps: whole parts (S3), all written (directory)
	// left fails the test if an upload or a temporary file is left;
	// vanish removes the upload or file a record names.
	left   func(t *testing.T)
	vanish func(t *testing.T, rec target.ResumeRecord)
}

// eachResumeStore runs fn on a rig into each S3 server kind and into a
// directory.
func eachResumeStore(t *testing.T, body []byte, fn func(t *testing.T, r *resumeRig)) {
	s3test.Each(t, func(t *testing.T, s3 *s3test.Server) {
		r := newResumeRig(t, body)
		bucket := s3.NewBucket(t)
		st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: s3.Endpoint, PathStyle: true,
			Region: s3.Region, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PartSize: s3store.MinPartSize, Concurrency: 2,
			MultipartThreshold: s3store.MinPartSize}) // resumable: a multipart upload
		if err != nil {
			t.Fatal(err)
		}
		r.st, r.kept = st, 2*s3store.MinPartSize
		r.left = func(t *testing.T) {
			for up := range s3.Client(t).ListIncompleteUploads(context.Background(), bucket, "", true) {
				if up.Err != nil {
					t.Fatal(up.Err)
				}
				t.Errorf("incomplete upload %s of %s left behind", up.UploadID, up.Key)
			}
		}
		r.vanish = func(t *testing.T, rec target.ResumeRecord) {
			core := minio.Core{Client: s3.Client(t)}
			if err := core.AbortMultipartUpload(context.Background(), bucket, "m/"+resumePath, rec.UploadID); err != nil {
				t.Fatal(err)
			}
		}
		fn(t, r)
	})
	t.Run("dir", func(t *testing.T) {
		r := newResumeRig(t, body)
		root := filepath.Join(t.TempDir(), "m")
		st, err := dirstore.New(root)
		if err != nil {
			t.Fatal(err)
		}
		r.st, r.kept = st, cutAt
		r.left = func(t *testing.T) {
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && strings.Contains(d.Name(), ".tmp-") {
					t.Errorf("temporary file %s left behind", p)
				}
				return err
			})
		}
		r.vanish = func(t *testing.T, rec target.ResumeRecord) {
			if err := os.Remove(filepath.Join(root, rec.Temp)); err != nil {
				t.Fatal(err)
			}
		}
		fn(t, r)
	})
}

func newResumeRig(t *testing.T, body []byte) *resumeRig {
	r := &resumeRig{}
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
	return r
}

func transferOf(body []byte) plan.Transfer {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	return plan.Transfer{Path: resumePath, Size: int64(len(body)), SHA256: h, Sum: catalog.Checksum{Algo: "sha256", Hex: h}}
}

// cutRun transfers t with the upstream breaking: it must fail and leave a
// resume record of what it kept.
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
	if rec.Offset != r.kept {
		t.Fatalf("resume record after the cut: offset %d, want %d", rec.Offset, r.kept)
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
	r.left(t)
	return fetched
}

// TestResumeAcrossRuns: an item cut off part way (the upstream breaks
// and the retries run out) keeps its multipart upload (two of its three
// parts done) or its temporary file, and a resume record; the next run
// fetches only the rest with a ranged GET, and the object verifies.
func TestResumeAcrossRuns(t *testing.T) {
	body := upstream.Payload("big", resumeSize)
	eachResumeStore(t, body, func(t *testing.T, r *resumeRig) {
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
// changed since the cut, the record is dropped and its upload aborted (its
// temporary file removed), and the item is fetched from byte 0.
func TestResumeCatalogChanged(t *testing.T) {
	body := upstream.Payload("big", resumeSize)
	eachResumeStore(t, body, func(t *testing.T, r *resumeRig) {
		rec := r.cutRun(t, transferOf(body))
		changed := upstream.Payload("changed", resumeSize)
		r.srv.Set(&upstream.Tree{Files: map[string][]byte{resumePath: changed}})
		if fetched := r.secondRun(t, transferOf(changed), changed); fetched != resumeSize {
			t.Errorf("second run fetched %d bytes, want the whole %d", fetched, resumeSize)
		}
		// secondRun checked that nothing is left: the old upload was
		// aborted, the old temporary file removed.
		t.Logf("dropped the record of %d bytes", rec.Offset)
	})
}

// TestResumeUploadGone: a record whose upload (temporary file) vanished,
// aborted by another tool, is dropped, and the item fetched from byte 0.
func TestResumeUploadGone(t *testing.T) {
	body := upstream.Payload("big", resumeSize)
	eachResumeStore(t, body, func(t *testing.T, r *resumeRig) {
		tr := transferOf(body)
		r.vanish(t, r.cutRun(t, tr))
		if fetched := r.secondRun(t, tr, body); fetched != resumeSize {
			t.Errorf("second run fetched %d bytes, want the whole %d", fetched, resumeSize)
		}
	})
}

// TestResumeBadBytesNotKept: when the item's bytes fail the catalog's
// checksum after a resume (upstream changed them in place), what was kept
// is dropped, so the next try starts from byte 0.
func TestResumeBadBytesNotKept(t *testing.T) {
	body := upstream.Payload("big", resumeSize)
	eachResumeStore(t, body, func(t *testing.T, r *resumeRig) {
		tr := transferOf(body)
		r.cutRun(t, tr)
		r.srv.Set(&upstream.Tree{Files: map[string][]byte{resumePath: upstream.Payload("changed", resumeSize)}})
		err := transfer(context.Background(), tr, r.src, r.st, "", nil)
		if !errors.Is(err, source.ErrIntegrity) {
			t.Fatalf("transfer of changed bytes: %v, want an integrity error", err)
		}
		if _, err := target.ReadResume(context.Background(), r.st, resumePath); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("resume record after the checksum failed: %v, want none", err)
		}
		r.left(t)
	})
}

// TestResumeRecordGC: gc's drop of stale resume records (all of them
// here) removes each record with its upload or temporary file.
func TestResumeRecordGC(t *testing.T) {
	body := upstream.Payload("big", resumeSize)
	eachResumeStore(t, body, func(t *testing.T, r *resumeRig) {
		r.cutRun(t, transferOf(body))
		if !plan.Internal(target.ResumeKey(resumePath)) {
			t.Errorf("%s is not one of the tool's own keys", target.ResumeKey(resumePath))
		}
		dropped, err := target.DropResumes(context.Background(), r.st, func(target.ResumeRecord, target.Object) bool { return true })
		if err != nil || len(dropped) != 1 || dropped[0] != resumePath {
			t.Fatalf("DropResumes: %v, %v; want [%s]", dropped, err, resumePath)
		}
		if _, err := target.ReadResume(context.Background(), r.st, resumePath); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("resume record after it was dropped: %v, want none", err)
		}
		r.left(t)
	})
}

// TestAbortUploadDropsRecord: gc's abort of a stale upload removes its
// resume record too. (MinIO lists no uploads under a prefix, so there gc
// finds cut-off uploads by their records, TestResumeRecordGC.)
func TestAbortUploadDropsRecord(t *testing.T) {
	body := upstream.Payload("big", resumeSize)
	eachResumeStore(t, body, func(t *testing.T, r *resumeRig) {
		st, ok := r.st.(*s3store.Store)
		if !ok || t.Name() == "TestAbortUploadDropsRecord/minio" {
			t.Skip("a directory has no uploads; MinIO lists none under a prefix")
		}
		r.cutRun(t, transferOf(body))
		aborted, err := st.AbortIncompleteUploads(context.Background(), -time.Minute)
		if err != nil || len(aborted) != 1 {
			t.Fatalf("AbortIncompleteUploads: %v, %v; want the cut upload", aborted, err)
		}
		if _, err := target.ReadResume(context.Background(), r.st, resumePath); !errors.Is(err, target.ErrNotExist) {
			t.Errorf("resume record after its upload was aborted: %v, want none", err)
		}
		r.left(t)
	})
}

// TestResumeKeysOnSHA256: an item with a SHA-256 and another checksum in
// the catalog keeps the SHA-256's digest state (the checksum the store
// verifies), whichever the catalog's strongest other one is.
func TestResumeKeysOnSHA256(t *testing.T) {
	body := upstream.Payload("big", resumeSize)
	eachResumeStore(t, body, func(t *testing.T, r *resumeRig) {
		tr := transferOf(body)
		m := md5.Sum(body)
		tr.Sum = catalog.Checksum{Algo: "md5", Hex: hex.EncodeToString(m[:])}
		if rec := r.cutRun(t, tr); rec.Algo != "sha256" || rec.Sum != tr.SHA256 {
			t.Errorf("resume record keyed on %s %s, want the SHA-256 %s", rec.Algo, rec.Sum, tr.SHA256)
		}
		r.secondRun(t, tr, body)
	})
}

// dropFails is a resumable store whose DropResume fails.
type dropFails struct {
	target.Store
	target.Resumer
}

var errDrop = errors.New("drop refused by the test store")

func (dropFails) DropResume(context.Context, string) error { return errDrop }

// TestResumeBadBytesDropFails: when what was kept cannot be dropped after
// the item's bytes failed their checksum, the error says so as well: the
// next try would resume from bytes known to be bad.
func TestResumeBadBytesDropFails(t *testing.T) {
	body := upstream.Payload("big", resumeSize)
	r := newResumeRig(t, body)
	st, err := dirstore.New(filepath.Join(t.TempDir(), "m"))
	if err != nil {
		t.Fatal(err)
	}
	r.st, r.kept = st, cutAt
	tr := transferOf(body)
	r.cutRun(t, tr)
	r.srv.Set(&upstream.Tree{Files: map[string][]byte{resumePath: upstream.Payload("changed", resumeSize)}})
	err = transfer(context.Background(), tr, r.src, dropFails{st, st}, "", nil)
	if !errors.Is(err, source.ErrIntegrity) || !errors.Is(err, errDrop) {
		t.Fatalf("transfer of changed bytes, drop failing: %v, want the integrity error and the drop's", err)
	}
}
