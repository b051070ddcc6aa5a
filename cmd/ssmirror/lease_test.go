package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ssmirror/ssmirror/internal/fakeclock"
	"github.com/ssmirror/ssmirror/internal/faultproxy"
	"github.com/ssmirror/ssmirror/internal/s3test"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/lease"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// TestLostLeasePublishesNothing: a sync whose lease renewal hangs (the
// store stalls it) for longer than the lease may go unrenewed writes no
// products file and no index, and fails naming the lost lease, although
// the renewal never returned an error.
func TestLostLeasePublishesNothing(t *testing.T) {
	srv := s3test.Shared(t)
	setS3Env(t, srv)
	f := newFixture(t)
	store := faultproxy.Start(t, srv.Endpoint)
	bucket := srv.NewBucket(t)
	clk := fakeclock.New(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	leaseClock = clk
	t.Cleanup(func() { leaseClock = nil })
	requested, release := slowItems(f)
	defer release()
	type result struct {
		stdout, stderr string
		code           int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := run(t, append([]string{"sync", "--keyring", f.keyring, "--endpoint", store.URL, "--path-style",
			f.srv.Root(), "s3://" + bucket + "/m"}, maasFilter...)...)
		done <- result{out, errOut, code}
	}()
	<-requested
	clk.Settle(t, 1, nil) // the renewal waits for its time
	stall := store.Add(&faultproxy.Rule{Method: "PUT", Path: "/" + lease.Key, Fault: faultproxy.StallHeaders})
	clk.Advance(lease.DefaultTTL / 4)
	<-stall.Matched()             // the renewal is sent, and hangs
	clk.Advance(lease.DefaultTTL) // another publisher may have taken over by now
	release()
	r := <-done
	if r.code != exitError || !strings.Contains(r.stderr, "lease lost") {
		t.Errorf("exit %d, want 1 naming the lost lease\n%s%s", r.code, r.stdout, r.stderr)
	}
	st, err := s3store.New(context.Background(), s3store.Config{Bucket: bucket, Prefix: "m", Endpoint: srv.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	st.List(context.Background(), "streams/", func(o target.Object) error {
		t.Errorf("%s published after the lease was lost", o.Key)
		return nil
	})
}
