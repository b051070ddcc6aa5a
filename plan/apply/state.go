package apply

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
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
// page each. The metadata is read once the listing shows it there, and
// not at all where the listing shows that it holds the bytes the caller
// expects (LoadOptions.Expect). On a new target that costs one request
// answered "not found" (the state).
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
	if opts.Sequential {
		marks = nil // one pass
	}
	objs, err := listTarget(ctx, dst, marks)
	if err != nil {
		return st, fmt.Errorf("list %s: %w", dst, err)
	}
	st.Objects = objs
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
	have := held{dst: dst, objs: objs}
	if opts.Expect != nil {
		have.expect = opts.Expect(objs)
	}
	pub, err := source.Read(ctx, have, plan.IndexJSON, source.Options{})
	if err != nil {
		return st, fmt.Errorf("the target's published metadata is unreadable (remove %s/%s to start afresh): %w",
			dst, plan.IndexJSON, err)
	}
	st.Published = pub
	for k, v := range pub.Raw {
		st.Metadata[k] = v
	}
	// Read the other metadata files at once: each is one request, unless
	// the listing shows that it holds the bytes the caller expects.
	keys := extraMetaKeys(st.Objects)
	bodies := make([][]byte, len(keys))
	got := make([]bool, len(keys)) // false: gone since the listing
	err = forEach(ctx, len(keys), listWorkers, func(ctx context.Context, i int) error {
		if body, ok := have.expected(keys[i]); ok {
			bodies[i], got[i] = body, true
			return nil
		}
		body, err := readAll(ctx, dst, keys[i])
		if errors.Is(err, target.ErrNotExist) {
			return nil
		}
		bodies[i], got[i] = body, err == nil
		return err
	})
	if err != nil {
		return st, err
	}
	for i, key := range keys {
		if got[i] {
			st.Metadata[key] = bodies[i]
		}
	}
	return st, nil
}

// LoadOptions tune LoadState.
type LoadOptions struct {
	// Expect, when set, returns bytes that the caller expects metadata
	// keys to hold, given the listing: the upstream's signed files, which
	// a mirror publishes byte for byte, and the .json files the run
	// would publish (plan.Rendered). LoadState calls it once, after the
	// listing, when the target holds an index, and does not read a key
	// whose listed size and ETag are those of the expected bytes (S3
	// reports the MD5 as the ETag of an object stored with a single
	// PUT); any other is read.
	Expect func(objs map[string]target.Object) map[string][]byte
	// Sequential lists the target in one pass even when it is a
	// target.RangeLister: its store ignores start-after (a probe found).
	Sequential bool
}

// held reads the target's metadata (a source.Fetcher), but for the keys
// the listing shows holding the bytes expected, which it serves without
// a request.
type held struct {
	dst    target.Store
	objs   map[string]target.Object
	expect map[string][]byte
}

// expected returns the bytes expected at key, if the listing shows that
// key holds them.
func (h held) expected(key string) ([]byte, bool) {
	body, ok := h.expect[key]
	obj, listed := h.objs[key]
	return body, ok && listed && obj.Size == int64(len(body)) && etagIsMD5(obj.ETag, body)
}

// Fetch implements source.Fetcher.
func (h held) Fetch(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if body, ok := h.expected(key); ok {
		return io.NopCloser(bytes.NewReader(body)), int64(len(body)), nil
	}
	return source.Store{Store: h.dst}.Fetch(ctx, key)
}

// String implements source.Fetcher.
func (h held) String() string { return h.dst.String() }

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
