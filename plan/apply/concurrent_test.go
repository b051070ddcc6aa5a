package apply_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/upstream"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/plan/apply"
	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
)

// rivalStore is a target on which another publisher replaces the index
// when this run writes its first metadata file: after this run read the
// index, before it writes its own.
type rivalStore struct {
	target.Store
	rival []byte
	once  sync.Once
}

func (s *rivalStore) Put(ctx context.Context, key string, body io.Reader, size int64, opts target.PutOptions) (string, error) {
	if strings.HasPrefix(key, "streams/") || key == plan.StateKey {
		var err error
		s.once.Do(func() {
			_, err = s.Store.Put(ctx, plan.IndexJSON, bytes.NewReader(s.rival), int64(len(s.rival)), target.PutOptions{})
		})
		if err != nil {
			return "", err
		}
	}
	return s.Store.Put(ctx, key, body, size, opts)
}

// publishLog records the metadata writes, in order.
type publishLog struct {
	mu   sync.Mutex
	keys []string
	errs []error
}

func (l *publishLog) TransferStarted(plan.Transfer) func(int64)        { return nil }
func (l *publishLog) TransferDone(plan.Transfer, error, time.Duration) {}
func (l *publishLog) TransferAdopted(plan.Transfer)                    {}

func (l *publishLog) Published(m plan.Meta, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, m.Key)
	l.errs = append(l.errs, err)
}

func (l *publishLog) Deleted(d plan.Delete, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, "delete "+d.Path)
	l.errs = append(l.errs, err)
}

// TestIndexReplacedDuringRun: another publisher replaces the index between
// this run's read and its write. The run fails with ErrConcurrent at the
// index, leaves the other publisher's index in place, and writes and
// deletes nothing after it.
func TestIndexReplacedDuringRun(t *testing.T) {
	stores := map[string]func(t *testing.T) target.Store{
		"dir": func(t *testing.T) target.Store {
			st, err := dirstore.New(filepath.Join(t.TempDir(), "m"))
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"s3": func(t *testing.T) target.Store { st, _ := s3Target(t, "m"); return st },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := newSetup(t)
			s.dst = open(t)
			if _, err := apply.Run(ctx, s.plan(t), s.src, s.dst, apply.Options{Transfers: 4}); err != nil {
				t.Fatal(err)
			}
			docs, dst := s.tree.Docs, s.dst
			// Upstream drops a version: the next plan rewrites a products
			// file and the index, and deletes the version's files.
			var dropped string
			for _, p := range docs[0]["products"].(map[string]any) {
				vers := p.(map[string]any)["versions"].(map[string]any)
				if len(vers) < 2 {
					continue
				}
				for v := range vers {
					for _, it := range vers[v].(map[string]any)["items"].(map[string]any) {
						dropped = it.(map[string]any)["path"].(string)
					}
					delete(vers, v)
					break
				}
				break
			}
			tree, err := upstream.Build(docs, upstream.Options{Scale: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			s.srv.Set(tree)
			p := s.plan(t) // no grace period: the plan deletes the version's files
			if len(p.Deletes) == 0 {
				t.Fatal("the plan deletes nothing; the test is wrong")
			}
			rival := []byte(`{"format": "index:1.0", "index": {}}` + "\n")
			log := &publishLog{}
			_, err = apply.Run(ctx, p, s.src, &rivalStore{Store: dst, rival: rival}, apply.Options{Report: log, Retry: source.RetryPolicy{Attempts: 1, BaseDelay: time.Millisecond}})
			if !errors.Is(err, apply.ErrConcurrent) {
				t.Fatalf("err = %v, want ErrConcurrent", err)
			}
			rc, _, err := dst.Open(ctx, plan.IndexJSON)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			got.ReadFrom(rc)
			rc.Close()
			if !bytes.Equal(got.Bytes(), rival) {
				t.Errorf("the other publisher's index was replaced:\n%s", got.Bytes())
			}
			last := len(log.keys) - 1
			if last < 0 || log.keys[last] != plan.IndexJSON || !errors.Is(log.errs[last], target.ErrPrecondition) {
				t.Errorf("writes %v (%v): want the index refused last", log.keys, log.errs)
			}
			if !has(dst, dropped) {
				t.Errorf("%s was deleted after the index was refused", dropped)
			}
		})
	}
}
