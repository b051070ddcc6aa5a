package dirstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ssmirror/ssmirror/target"
)

// Probe implements target.Prober. A directory has no S3 API to probe, so
// it checks what the store rests on, in scratch files it removes
// afterwards (temporary names, never listed): that link(2) refuses an
// existing name (IfAbsent, so the lease and the first index), that a
// file there takes flock(2) as the store's lock file must (IfMatch), and
// that extended
// attributes in the user namespace are kept (the SHA-256 each Put
// verified, which lets a later run adopt the file without copying it
// again). Each Put writes and checks its file itself, so the checksum
// capabilities hold, and a listing is one walk of the tree. fresh is
// ignored: the checks are cheap and never cached.
func (s *Store) Probe(ctx context.Context, _ bool) (target.Probe, error) {
	p := target.Probe{Store: s.root, Kind: target.KindDirectory, Time: time.Now().UTC(), Capabilities: target.Full}
	a, err := os.CreateTemp(s.root, "."+lockName+tmpMarker)
	if err != nil {
		return p, fmt.Errorf("dirstore %s: probe: %w", s.root, err)
	}
	a.Close()
	defer os.Remove(a.Name())
	b := a.Name() + "-link"
	defer os.Remove(b)

	first := link(a.Name(), b)
	second := link(a.Name(), b)
	p.ConditionalWrites = first == nil && errors.Is(second, os.ErrExist)
	p.Checks = append(p.Checks, target.Check{Name: "link(2) to a new name, then again", Want: "made, then refused (exists)", Got: linkResult(first, second), OK: p.ConditionalWrites})

	// The lock file's own flock, tried on the scratch file beside it: a
	// probe leaves nothing new in the directory.
	unlock, err := lockFile(a.Name())
	if err == nil {
		unlock()
	}
	p.ConditionalWrites = p.ConditionalWrites && err == nil
	p.Checks = append(p.Checks, target.Check{Name: "flock(2) on a file in " + s.root, Want: "taken", Got: errText(err, "taken"), OK: err == nil})

	const probeValue = "probe"
	f, err := os.OpenFile(a.Name(), os.O_WRONLY, 0)
	if err == nil {
		writeMeta(f, map[string]string{"probe": probeValue})
		f.Close()
	}
	got := readMeta(a.Name())["probe"]
	p.Metadata = got == probeValue
	p.Checks = append(p.Checks, target.Check{Name: "extended attribute " + xattrPrefix + "probe", Want: "kept", Got: keptText(p.Metadata), OK: p.Metadata})
	return p, ctx.Err()
}

func linkResult(first, second error) string {
	switch {
	case first != nil:
		return "failed: " + first.Error()
	case second == nil:
		return "made twice"
	case errors.Is(second, os.ErrExist):
		return "made, then refused (exists)"
	default:
		return "made, then failed: " + second.Error()
	}
}

func errText(err error, ok string) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	return ok
}

func keptText(kept bool) string {
	if kept {
		return "kept"
	}
	return "not kept"
}
