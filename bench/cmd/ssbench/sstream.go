package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// sstreamPeer is Canonical's python simplestreams, unpacked from the
// peers' snapshot (simplestreams.tar.gz) into the work directory: a
// measuring tool, run as PYTHONPATH=dir python3 dir/bin/sstream-mirror.
type sstreamPeer struct {
	dir     string // the unpacked tree (its simplestreams package and bin/)
	script  string // dir/bin/sstream-mirror
	tarball string
	sum     string // SHA-256 of the tarball, to name the snapshot
	python  string
}

// unpackSstream unpacks peers/simplestreams.tar.gz into dest and checks
// that python can run its sstream-mirror (PyYAML imports, gpgv is
// there). The error says why sstream-mirror cannot run.
func unpackSstream(peers, dest, python string) (*sstreamPeer, error) {
	if peers == "" {
		return nil, errors.New("no peers directory (-peers, SSMIRROR_PEERS)")
	}
	p := &sstreamPeer{tarball: filepath.Join(peers, "simplestreams.tar.gz"), python: python}
	data, err := os.ReadFile(p.tarball)
	if err != nil {
		return nil, fmt.Errorf("no snapshot: %w", err)
	}
	sum := sha256.Sum256(data)
	p.sum = hex.EncodeToString(sum[:])
	os.RemoveAll(dest)
	if err := untar(p.tarball, dest); err != nil {
		return nil, fmt.Errorf("unpacking %s: %w", p.tarball, err)
	}
	// The tree is the directory that holds bin/sstream-mirror.
	matches, _ := filepath.Glob(filepath.Join(dest, "*", "bin", "sstream-mirror"))
	if direct := filepath.Join(dest, "bin", "sstream-mirror"); fileExists(direct) {
		matches = append([]string{direct}, matches...)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("%s holds no bin/sstream-mirror", p.tarball)
	}
	p.script = matches[0]
	p.dir = filepath.Dir(filepath.Dir(p.script))
	if out, err := exec.Command(python, "-c", "import yaml").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s cannot import yaml (install python3-yaml): %v %s", python, err, strings.TrimSpace(string(out)))
	}
	if _, err := exec.LookPath("gpgv"); err != nil {
		return nil, errors.New("gpgv is not installed (it verifies the signed streams)")
	}
	return p, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// untar extracts the gzipped tar file into dest (regular files,
// directories and symbolic links; no entry may leave dest).
func untar(file, dest string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("entry %q leaves the directory", h.Name)
		}
		p := filepath.Join(dest, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			var out *os.File
			if out, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(h.Mode)&0o755|0o600); err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.Symlink(h.Linkname, p)
			}
		}
		if err != nil {
			return err
		}
	}
}

// describe names the snapshot and the interpreter, for the report.
func (p *sstreamPeer) describe() string {
	py := strings.TrimSpace(output(p.python, "--version"))
	yaml := strings.TrimSpace(output(p.python, "-c", "import yaml; print(yaml.__version__)"))
	gpgv := strings.TrimSpace(strings.SplitN(output("gpgv", "--version"), "\n", 2)[0])
	return fmt.Sprintf("python simplestreams snapshot %s (SHA-256 %s…), run as `PYTHONPATH=%s %s %s`; %s, PyYAML %s; %s",
		p.tarball, p.sum[:12], p.dir, p.python, p.script, py, yaml, gpgv)
}

// sameResult compares the items of two mirrors on disk: their payload
// files, without the metadata (streams/), each tool's own state (hidden
// directories: ssmirror's .ssmirror/, sstream-mirror's .data/) and files at
// the top (ssmirror's index.html).
type sameResult struct {
	ssItems, peerItems int
	ssBytes, peerBytes int64
	diff               string // "" when they hold the same items
}

// sameItems compares ssmirror's mirror in ssDir with sstream-mirror's in
// peerDir: the same relative paths with the same sizes. nil when
// sstream-mirror did not run.
func sameItems(ssDir, peerDir string, peer *run) *sameResult {
	if peer == nil {
		return nil
	}
	a, b := items(ssDir), items(peerDir)
	s := &sameResult{ssItems: len(a), peerItems: len(b)}
	var missing, extra, size int
	for k, v := range a {
		s.ssBytes += v
		if w, ok := b[k]; !ok {
			missing++
		} else if w != v {
			size++
		}
	}
	for k, v := range b {
		s.peerBytes += v
		if _, ok := a[k]; !ok {
			extra++
		}
	}
	var d []string
	if !peer.ok() {
		d = append(d, "sstream-mirror failed")
	}
	if missing > 0 {
		d = append(d, fmt.Sprintf("%d of ssmirror's items missing", missing))
	}
	if extra > 0 {
		d = append(d, fmt.Sprintf("%d items ssmirror does not have", extra))
	}
	if size > 0 {
		d = append(d, fmt.Sprintf("%d items of another size", size))
	}
	if len(a) == 0 {
		d = append(d, "no items")
	}
	s.diff = strings.Join(d, ", ")
	return s
}

// items maps the relative path of every payload file under dir to its
// size (see sameResult).
func items(dir string) map[string]int64 {
	out := map[string]int64{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		top := !strings.Contains(filepath.ToSlash(rel), "/")
		if d.IsDir() {
			if top && (rel == "streams" || strings.HasPrefix(rel, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if top {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			out[filepath.ToSlash(rel)] = info.Size()
		}
		return nil
	})
	return out
}
