package apply

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/target"
)

// LoadState reads what dst holds: one listing of the whole target, the
// metadata this tool published there (streams/v1/index.json and the
// products files it names) and the bytes of the other metadata files
// present, so that the planner can compare without a request per object.
//
// The garbage collection state is read first: its list marks let a store
// that lists in pages (target.RangeLister) be listed in ranges at once, a
// page each. The published catalog is read while the listing runs. On a
// new target that costs two requests answered "not found"; what they say
// counts only if the listing has them.
func LoadState(ctx context.Context, dst target.Store, opts LoadOptions) (plan.State, error) {
	st := plan.State{Objects: map[string]target.Object{}, Metadata: map[string][]byte{}, Now: time.Now()}
	gcData, gcErr := readAll(ctx, dst, plan.StateKey)
	var (
		gc       *plan.GCState
		gcBadErr error
		marks    []string
	)
	if gcErr == nil {
		if gc, gcBadErr = plan.DecodeGCState(gcData); gcBadErr == nil {
			marks = gc.ListMarks
		}
	}
	var (
		pub     *source.Mirror
		pubErr  error
		reading sync.WaitGroup
	)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reading.Go(func() { pub, pubErr = source.Read(rctx, source.Store{Store: dst}, plan.IndexJSON, source.Options{}) })
	if opts.Sequential {
		marks = nil // one pass
	}
	objs, err := listTarget(ctx, dst, marks)
	if err != nil {
		cancel()
		reading.Wait()
		return st, fmt.Errorf("list %s: %w", dst, err)
	}
	st.Objects = objs
	reading.Wait()
	if _, ok := st.Objects[plan.StateKey]; ok {
		if gcErr != nil && !errors.Is(gcErr, target.ErrNotExist) {
			return st, gcErr
		}
		if gcErr == nil {
			st.Metadata[plan.StateKey] = gcData
			// A corrupt state is rebuilt by the planner (st.GC stays
			// nil); it is never a reason to delete.
			st.GC, st.GCErr = gc, gcBadErr
		}
	}
	if _, ok := st.Objects[plan.IndexJSON]; !ok {
		return st, nil
	}
	if pubErr != nil {
		return st, fmt.Errorf("the target's published metadata is unreadable (remove %s/%s to start afresh): %w",
			dst, plan.IndexJSON, pubErr)
	}
	st.Published = pub
	for k, v := range pub.Raw {
		st.Metadata[k] = v
	}
	// Read the other metadata files at once: each is one request, unless
	// the listing shows that it holds the bytes the caller expects.
	keys := extraMetaKeys(st.Objects)
	var expect map[string][]byte
	if opts.Expect != nil && len(keys) > 0 {
		expect = opts.Expect()
	}
	bodies := make([][]byte, len(keys))
	have := make([]bool, len(keys)) // false: gone since the listing
	err = forEach(ctx, len(keys), listWorkers, func(ctx context.Context, i int) error {
		if body, ok := expect[keys[i]]; ok && etagIsMD5(st.Objects[keys[i]].ETag, body) {
			bodies[i], have[i] = body, true
			return nil
		}
		body, err := readAll(ctx, dst, keys[i])
		if errors.Is(err, target.ErrNotExist) {
			return nil
		}
		bodies[i], have[i] = body, err == nil
		return err
	})
	if err != nil {
		return st, err
	}
	for i, key := range keys {
		if have[i] {
			st.Metadata[key] = bodies[i]
		}
	}
	return st, nil
}

// LoadOptions tune LoadState.
type LoadOptions struct {
	// Expect, when set, returns bytes that the caller expects metadata
	// keys to hold (the upstream's signed files, which a mirror publishes
	// byte for byte). LoadState calls it once, after the listing, and
	// does not read a signed file or key whose listed ETag is the MD5 of
	// the expected bytes (as S3 reports for an object stored with a
	// single PUT); any other is read.
	Expect func() map[string][]byte
	// Sequential lists the target in one pass even when it is a
	// target.RangeLister: its store ignores start-after (a probe found).
	Sequential bool
}

// etagIsMD5 reports whether etag is the MD5 of body, in hex.
func etagIsMD5(etag string, body []byte) bool {
	sum := md5.Sum(body)
	return len(etag) == 2*md5.Size && strings.EqualFold(etag, hex.EncodeToString(sum[:]))
}

// listWorkers is the number of ranges listed at once.
var listWorkers = 8

// errRangeEnd ends the listing of a range.
var errRangeEnd = errors.New("end of range")

// listTarget lists dst: in the ranges that marks bound, several at once,
// when dst is a target.RangeLister; else in one pass. Each range (the
// previous mark, the mark] stops at its mark, so that when the marks fall
// where the pages end each range is one request, as many in all as one
// pass would send.
func listTarget(ctx context.Context, dst target.Store, marks []string) (map[string]target.Object, error) {
	rl, ok := dst.(target.RangeLister)
	if !ok || len(marks) == 0 {
		objs := map[string]target.Object{}
		err := dst.List(ctx, "", func(o target.Object) error {
			objs[o.Key] = o
			return nil
		})
		return objs, err
	}
	ranges := make([][]target.Object, len(marks)+1)
	err := forEach(ctx, len(ranges), listWorkers, func(ctx context.Context, i int) error {
		after, last := "", ""
		if i > 0 {
			after = marks[i-1]
		}
		if i < len(marks) {
			last = marks[i]
		}
		err := rl.ListAfter(ctx, "", after, func(o target.Object) error {
			if last != "" && o.Key > last {
				return errRangeEnd
			}
			ranges[i] = append(ranges[i], o)
			if o.Key == last {
				return errRangeEnd
			}
			return nil
		})
		if errors.Is(err, errRangeEnd) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	n := 0
	for _, r := range ranges {
		n += len(r)
	}
	objs := make(map[string]target.Object, n)
	for _, r := range ranges {
		for _, o := range r {
			objs[o.Key] = o
		}
	}
	return objs, nil
}

// extraMetaKeys lists the metadata objects of a publication beyond the
// .json files: signed files (including upstream ones the .json index does
// not name) and the published public key.
func extraMetaKeys(objs map[string]target.Object) []string {
	var keys []string
	for k := range objs {
		if strings.HasPrefix(k, "streams/v1/") && (strings.HasSuffix(k, ".sjson") || k == plan.KeyringGPG || k == plan.KeyringASC) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func readAll(ctx context.Context, dst target.Store, key string) ([]byte, error) {
	rc, _, err := dst.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", dst, key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, source.DefaultMaxMetadata))
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", dst, key, err)
	}
	return data, nil
}
