package main

import (
	"context"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// TestResumeAfterKill: a sync SIGKILLed while an item streams (after
// 11 MiB of it) leaves a resume record of what the target holds of it; the
// next run fetches only the rest of the item from upstream, and the
// mirror verifies; so too ("resume-md5") when the catalog gives the item
// an md5 and no SHA-256, and ("resume-mirror") with --bwlimit and a
// --mirror. Or, when the item has left the selection by the next
// run, that run drops the record with its upload or temporary file; and
// so does gc, for a record older than --uploads-older-than. Into each S3
// server kind and into a directory. verify does not report a resume
// record.
func TestResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a process")
	}
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		setS3Env(t, srv)
		for _, mode := range []string{"resume", "resume-md5", "leave", "gc"} {
			bucket := srv.NewBucket(t)
			st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true,
				Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
			if err != nil {
				t.Fatal(err)
			}
			left := func(t *testing.T) {
				for up := range srv.Client(t).ListIncompleteUploads(context.Background(), bucket, "", true) {
					t.Errorf("incomplete upload of %s left behind (%v)", up.Key, up.Err)
				}
			}
			testResumeAfterKill(t, st, left, mode, "s3://"+bucket+"/m", "--endpoint", srv.Endpoint, "--path-style", "--part-size", "5MiB", "--multipart-threshold", "5MiB")
		}
	})
	t.Run("dir", func(t *testing.T) {
		for _, mode := range []string{"resume", "resume-md5", "resume-mirror", "leave", "gc"} {
			dir := filepath.Join(t.TempDir(), "m")
			st, err := dirstore.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			left := func(t *testing.T) {
				filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
					if err == nil && strings.Contains(d.Name(), ".tmp-") {
						t.Errorf("temporary file %s left behind", p)
					}
					return err
				})
			}
			testResumeAfterKill(t, st, left, mode, dir)
		}
	})
}

func testResumeAfterKill(t *testing.T, st target.Store, left func(*testing.T), mode, dest string, extra ...string) {
	f := newFixture(t)
	const big = "noble/amd64/20250709/squashfs"
	const size = 16<<20 + 123
	tree, err := upstream.Build(f.docs, upstream.Options{Scale: scale, Key: f.key, Items: map[string][]byte{big: upstream.Payload(big, size)},
		MD5Only: map[string]bool{big: mode == "resume-md5"}})
	if err != nil {
		t.Fatal(err)
	}
	f.tree = tree
	f.srv.Set(tree)
	// The first answer for the item sends 11 MiB, then hangs until the
	// process is gone.
	answered := make(chan struct{})
	var once sync.Once
	f.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/"+big) || r.Header.Get("Range") != "" {
			return false
		}
		defer once.Do(func() { close(answered) })
		w.Header().Set("Content-Length", "16777339")
		w.Write(f.srv.File(big)[:11<<20])
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		return true
	})
	args := append([]string{"sync", "--keyring", f.keyring, "--transfers", "1"}, extra...)
	if mode == "resume-mirror" {
		args = append(args, "--bwlimit", "1G", "--mirror", upstream.Serve(t, tree).Root())
	}
	args = append(append(args, f.srv.Root(), dest), maasFilter...)
	p := start(t, nil, args...)
	exited := make(chan int, 1)
	go func() { exited <- p.wait() }()
	// Until the first part's record is there: the run holds the rest of
	// the item's answer, which never ends, so it cannot finish first.
	var rec target.ResumeRecord
	for {
		rec, err = target.ReadResume(context.Background(), st, big)
		if err == nil && rec.Offset >= 8<<20 {
			break
		}
		select {
		case code := <-exited:
			t.Fatalf("the run ended (exit %d) with no resume record of 8 MiB or more (%v, %+v)\n%s", code, err, rec.Offset, p.stderr.String())
		case <-time.After(50 * time.Millisecond): // a poll interval, not a limit
		}
	}
	p.cmd.Process.Kill()
	<-exited
	f.srv.SetHook(nil)
	if want := map[bool]string{true: "md5", false: "sha256"}[mode == "resume-md5"]; rec.Algo != want {
		t.Errorf("the resume record keeps a %q digest state, want %s", rec.Algo, want)
	}
	<-answered // the killed run's answer has been counted
	if !strings.HasPrefix(mode, "resume") {
		args = append(args[:len(args)-len(maasFilter)], "os~(grub|pxelinux)")
		if mode == "gc" {
			args = []string{"gc", "--uploads-older-than", "0s"}
			args = append(args, extra[:min(len(extra), 3)]...) // the endpoint flags
			args = append(args, dest)
		}
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%s run: exit %d\n%s%s", mode, code, out, errOut)
		}
		if mode == "gc" && !strings.Contains(out, "dropped the resume record of "+big) {
			t.Errorf("gc did not say it dropped the record:\n%s", out)
		}
		if mode == "leave" {
			// verify does not report a resume record as an object of the
			// mirror.
			other := "noble/amd64/20250709/boot-initrd"
			if err := target.WriteResume(context.Background(), st, target.ResumeRecord{Key: other, Size: 2, Algo: "sha256", Sum: "00", Offset: 1}); err != nil {
				t.Fatal(err)
			}
			vargs := append([]string{"verify"}, extra[:min(len(extra), 3)]...)
			out, errOut, code := run(t, append(vargs, dest)...)
			if code != 0 || strings.Contains(out+errOut, target.ResumeDir) {
				t.Errorf("verify with a resume record: exit %d\n%s%s", code, out, errOut)
			}
			target.DropResume(context.Background(), st, other)
		}
		if _, err := target.ReadResume(context.Background(), st, big); err == nil {
			t.Errorf("the resume record of an item that left the selection is still there")
		}
		left(t)
		return
	}
	before := f.srv.Bytes(big)
	if out, errOut, code := run(t, args...); code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errOut)
	}
	fetched := f.srv.Bytes(big) - before
	t.Logf("the killed run kept %d bytes; the next run fetched %d of the item's %d", rec.Offset, fetched, size)
	if fetched != size-rec.Offset {
		t.Errorf("the next run fetched %d bytes of the item, want the %d after the kept ones", fetched, size-rec.Offset)
	}
	f.checkMirror(t, st, f.expected())
	if _, err := target.ReadResume(context.Background(), st, big); err == nil {
		t.Errorf("the resume record is still there after the item completed")
	}
	left(t)
}

// TestBigItemsFillUploadMemory: items whose part buffers take the whole
// --upload-memory are still mirrored whole: the resume record each part
// writes does not wait for memory its own upload holds (before, every
// item larger than --upload-memory stopped there, the process with it).
func TestBigItemsFillUploadMemory(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	f := newFixture(t)
	items := map[string][]byte{}
	for _, p := range []string{"noble/amd64/20250709/squashfs", "noble/amd64/20250709/boot-initrd"} {
		items[p] = upstream.Payload(p, 16<<20+123)
	}
	f.rebuildWith(t, items)
	bucket := srv.NewBucket(t)
	st := bucketStore(t, srv, bucket)
	args := append([]string{"sync", "--keyring", f.keyring, "--endpoint", srv.Endpoint, "--path-style",
		"--part-size", "5MiB", "--multipart-threshold", "5MiB", "--upload-memory", "10MiB", f.srv.Root(), "s3://" + bucket + "/m"}, maasFilter...)
	p := start(t, nil, args...)
	code, ok := p.waitWithin(3 * time.Minute)
	if !ok {
		t.Fatalf("sync of items larger than --upload-memory never finished\n%s", p.stderr.String())
	}
	if code != 0 {
		t.Fatalf("sync: exit %d\n%s", code, p.stderr.String())
	}
	f.checkMirror(t, st, f.expected())
}
