package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/minio/minio-go/v7/pkg/signer"
)

// The store ceiling: what the store itself can take. A minimal client
// PUTs the files of a directory (the very objects a mirror run wrote)
// from memory, with no upstream, no hashing (SigV4 with UNSIGNED-PAYLOAD)
// and kept-alive connections, at a given concurrency. It runs as its own
// process ("ssbench ceiling ...") so it is measured like every other tool,
// and prints the time of its PUT phase alone (loading the files into
// memory comes before it).

// ceilingPhase is the line the ceiling client prints with its PUT phase's
// wall time in seconds.
const ceilingPhase = "put phase seconds:"

// ceilingMain is "ssbench ceiling": the minimal client.
func ceilingMain(args []string) error {
	fl := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	endpoint := fl.String("endpoint", "", "store endpoint (http://127.0.0.1:PORT)")
	bucket := fl.String("bucket", "", "bucket to PUT into (it exists)")
	dir := fl.String("dir", "", "directory whose files are PUT, each under its relative path")
	conc := fl.Int("concurrency", 8, "PUTs in flight")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *endpoint == "" || *bucket == "" || *dir == "" || *conc < 1 {
		return errors.New("ceiling: -endpoint, -bucket, -dir and -concurrency ≥ 1 are required")
	}
	ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	type object struct {
		key  string
		body []byte
	}
	var objs []object
	err := filepath.WalkDir(*dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(*dir, p)
		objs = append(objs, object{filepath.ToSlash(rel), body})
		return nil
	})
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        *conc,
		MaxIdleConnsPerHost: *conc,
		DisableCompression:  true,
	}}
	base := strings.TrimSuffix(*endpoint, "/") + "/" + *bucket + "/"
	put := func(o object) error {
		req, err := http.NewRequest(http.MethodPut, base+s3utils.EncodePath(o.key), bytes.NewReader(o.body))
		if err != nil {
			return err
		}
		req.ContentLength = int64(len(o.body))
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		req = signer.SignV4(*req, ak, sk, "", region)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("PUT %s: %s: %s", o.key, resp.Status, bytes.TrimSpace(msg))
		}
		return nil
	}

	var total int64
	for _, o := range objs {
		total += int64(len(o.body))
	}
	work := make(chan object)
	errs := make(chan error, *conc)
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := put(o); err != nil {
					errs <- err
					for range work { // drain
					}
					return
				}
			}
		}()
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	phase := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("%d objects, %d bytes, concurrency %d\n%s %.6f\n", len(objs), total, *conc, ceilingPhase, phase.Seconds())
	return nil
}

// ceilingTime reads the PUT phase's time from a ceiling run's output.
func ceilingTime(r *run) (time.Duration, error) {
	data, err := os.ReadFile(r.LogBase + ".out")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, ceilingPhase); ok {
			var s float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%g", &s); err != nil {
				return 0, err
			}
			return time.Duration(s * float64(time.Second)), nil
		}
	}
	return 0, fmt.Errorf("%s.out has no %q line", r.LogBase, ceilingPhase)
}
