package catalog

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsafePath is wrapped by every path rejected by ValidPath.
var ErrUnsafePath = errors.New("unsafe path")

// Limits on paths read from a catalog.
const (
	MaxPathLen    = 1024 // bytes in a whole path
	MaxSegmentLen = 255  // bytes in one segment (a file name)
)

// ValidPath reports whether p is safe to use as an object key or a
// relative file name under a mirror root: not empty, relative, no empty,
// "." or ".." segments, no backslashes, no NUL or other control bytes and
// within the length limits. The error wraps ErrUnsafePath and says why.
func ValidPath(p string) error {
	why := pathProblem(p)
	if why == "" {
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrUnsafePath, truncate(p, 80), why)
}

func pathProblem(p string) string {
	switch {
	case p == "":
		return "empty"
	case len(p) > MaxPathLen:
		return fmt.Sprintf("longer than %d bytes", MaxPathLen)
	case p[0] == '/':
		return "absolute"
	case strings.Contains(p, "\\"):
		return "contains a backslash"
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return "contains a control character"
		}
	}
	for rest := p; ; {
		seg, after, more := strings.Cut(rest, "/")
		switch {
		case seg == "":
			return "has an empty segment"
		case seg == "." || seg == "..":
			return "has a '" + seg + "' segment"
		case len(seg) > MaxSegmentLen:
			return fmt.Sprintf("has a segment longer than %d bytes", MaxSegmentLen)
		}
		if !more {
			return ""
		}
		rest = after
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
