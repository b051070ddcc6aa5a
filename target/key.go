package target

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ValidateKey reports why key is not a portable store key, or nil: a key
// is a relative slash-separated path of non-empty UTF-8 segments without
// "." or ".." segments, backslashes or control characters. Stores check
// keys with it and may refuse more (a length limit, names of their own).
func ValidateKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("key %q is absolute", key)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("key %q is not valid UTF-8", key)
	}
	for _, r := range key {
		switch {
		case r == '\\':
			return fmt.Errorf("key %q contains a backslash", key)
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("key %q contains control character %U", key, r)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("key %q has an empty path segment", key)
		case ".", "..":
			return fmt.Errorf("key %q contains a %q segment", key, seg)
		}
	}
	return nil
}
