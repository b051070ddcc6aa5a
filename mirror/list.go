package mirror

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/filter"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
)

// ListOptions say how List reads a catalog and what it selects.
type ListOptions struct {
	S3                  config.S3
	Keyrings            []string
	NoVerify, AllowSHA1 bool
	Filters             filter.Set
	Max                 int // the newest Max versions of each product, after filtering; 0: all
}

// List reads and verifies the catalog at loc as Sync reads its upstream,
// downloading nothing but the metadata, and returns the items the filters
// select (plan.ListItems).
func List(ctx context.Context, loc string, opts ListOptions) ([]catalog.Flat, error) {
	switch {
	case opts.Max < 0:
		return nil, fmt.Errorf("%w: --max: %d is negative", config.ErrInvalid, opts.Max)
	case opts.NoVerify && len(opts.Keyrings) > 0:
		return nil, fmt.Errorf("%w: --no-verify contradicts --keyring: give one or the other", config.ErrInvalid)
	}
	if err := opts.S3.Validate(); err != nil {
		return nil, err
	}
	fetcher, start, err := OpenSource(ctx, loc, opts.S3, "", source.RetryPolicy{}, nil)
	if err != nil {
		return nil, err
	}
	keyring, err := LoadKeyring(opts.Keyrings, opts.NoVerify, start)
	if err != nil {
		return nil, err
	}
	m, err := source.Read(ctx, fetcher, start, source.Options{Keyring: keyring, NoVerify: opts.NoVerify, AllowSHA1: opts.AllowSHA1})
	if err != nil {
		if errors.Is(err, source.ErrNotExist) && start == source.DefaultStart && !strings.HasSuffix(loc, start) {
			return nil, fmt.Errorf("%w (a mirror published without signed metadata is read through its streams/v1/index.json)", err)
		}
		return nil, err
	}
	return plan.ListItems(m, opts.Filters, opts.Max), nil
}
