package dirstore

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

const xattrPrefix = "user.ssmirror."

// writeMeta keeps meta in extended attributes of f. Metadata is an
// optimisation (it lets a later run trust a file it did not record), so a
// file system without user xattrs just keeps none.
func writeMeta(f *os.File, meta map[string]string) {
	for k, v := range meta {
		_ = syscall.Setxattr(f.Name(), xattrPrefix+k, []byte(v), 0)
	}
}

// readMeta returns the metadata kept in p's extended attributes.
func readMeta(p string) map[string]string {
	meta := map[string]string{}
	buf := make([]byte, 4096)
	n, err := syscall.Listxattr(p, buf)
	if err != nil {
		return meta
	}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		k, ok := strings.CutPrefix(name, xattrPrefix)
		if !ok {
			continue
		}
		v := make([]byte, 1024)
		if m, err := syscall.Getxattr(p, name, v); err == nil {
			meta[k] = string(v[:m])
		}
	}
	return meta
}

// lock takes the store's exclusive lock (flock on ROOT/.ssmirror.lock),
// which serialises conditional replacements across processes.
func (s *Store) lock() (unlock func(), err error) {
	return lockFile(filepath.Join(s.root, lockName))
}

// lockFile takes an exclusive flock on the file at p, creating it.
func lockFile(p string) (unlock func(), err error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
