package apply

import (
	"context"
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
func LoadState(ctx context.Context, dst target.Store) (plan.State, error) {
	st := plan.State{Objects: map[string]target.Object{}, Metadata: map[string][]byte{}, Now: time.Now()}
	err := dst.List(ctx, "", func(o target.Object) error {
		st.Objects[o.Key] = o
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("list %s: %w", dst, err)
	}
	if _, ok := st.Objects[plan.StateKey]; ok {
		data, err := readAll(ctx, dst, plan.StateKey)
		if err != nil && !errors.Is(err, target.ErrNotExist) {
			return st, err
		}
		if err == nil {
			st.Metadata[plan.StateKey] = data
			// A corrupt state is rebuilt by the planner (st.GC stays
			// nil); it is never a reason to delete.
			st.GC, st.GCErr = plan.DecodeGCState(data)
		}
	}
	if _, ok := st.Objects[plan.IndexJSON]; !ok {
		return st, nil
	}
	pub, err := source.Read(ctx, source.Store{Store: dst}, plan.IndexJSON, source.Options{})
	if err != nil {
		return st, fmt.Errorf("the target's published metadata is unreadable (remove %s/%s to start afresh): %w",
			dst, plan.IndexJSON, err)
	}
	st.Published = pub
	for k, v := range pub.Raw {
		st.Metadata[k] = v
	}
	// Read the other metadata files at once: each is one request.
	keys := extraMetaKeys(st.Objects)
	bodies := make([][]byte, len(keys))
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i], errs[i] = readAll(ctx, dst, key)
		}()
	}
	wg.Wait()
	for i, key := range keys {
		if errors.Is(errs[i], target.ErrNotExist) {
			continue
		}
		if errs[i] != nil {
			return st, errs[i]
		}
		st.Metadata[key] = bodies[i]
	}
	return st, nil
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
