package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bad := map[string]error{}
	todo := make(chan string)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for range max(workers, 1) {
		wg.Go(func() {
			for p := range todo {
				finding, err := checkObject(ctx, dst, p, items[p])
				mu.Lock()
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = err
					}
					cancel()
				case finding != nil:
					bad[p] = finding
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range catalog.SortedKeys(items) {
		select {
		case todo <- p:
		case <-ctx.Done():
		}
	}
	close(todo)
	wg.Wait()
	if firstErr != nil {
		return bad, firstErr
	}
	return bad, ctx.Err()
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
