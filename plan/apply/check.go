package apply

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
	"github.com/ssmirror/ssmirror/target"
)

// CheckObjects reads the object of each item (by path) from dst, workers
// at a time, and checks its size and strongest checksum as it streams. It
// returns the objects that are not sound, by path: the error wraps
// target.ErrNotExist for one that vanished, source.ErrIntegrity for wrong
// bytes. An object that cannot be read (the store failing) stops the check
// with that error.
func CheckObjects(ctx context.Context, dst target.Store, items map[string]*catalog.Item, workers int) (map[string]error, error) {
	paths := catalog.SortedKeys(items)
	findings := make([]error, len(paths))
	err := forEach(ctx, len(paths), workers, func(ctx context.Context, i int) error {
		var err error
		findings[i], err = checkObject(ctx, dst, paths[i], items[paths[i]])
		return err
	})
	bad := map[string]error{}
	for i, f := range findings {
		if f != nil {
			bad[paths[i]] = f
		}
	}
	return bad, err
}

// checkObject reads p and checks it against the item. It returns a
// finding for a bad or vanished object, and an error when the object
// cannot be read.
func checkObject(ctx context.Context, dst target.Store, p string, it *catalog.Item) (finding, err error) {
	rc, _, err := dst.Open(ctx, p)
	if errors.Is(err, target.ErrNotExist) {
		return fmt.Errorf("%s: %w", p, target.ErrNotExist), nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, source.NewVerifyingReader(rc, p, it.Size, it.Strongest()))
	if errors.Is(err, source.ErrIntegrity) {
		return err, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", dst, p, err)
	}
	return nil, nil
}
