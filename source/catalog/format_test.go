package catalog

import (
	"errors"
	"strings"
	"testing"
)

// TestFormat checks the %-style formats against what Python 3 prints for
// the same format and values (fmt % d).
func TestFormat(t *testing.T) {
	attrs := map[string]any{"path": "a/b", "size": int64(1234), "q": "it's", "x": "tab\there"}
	for _, tc := range []struct{ format, want string }{
		{"%(path)s %(size)d", "a/b 1234"},
		{"%(size)08d|%(size)-8d|%(size)+d|%(size) d", "00001234|1234    |+1234| 1234"},
		{"%(size)x %(size)#x %(size)#o %(size)X %(size)#X", "4d2 0x4d2 0o2322 4D2 0X4D2"},
		{"%(size)o %(size)i %(size)u %(size)ld", "2322 1234 1234 1234"},
		{"%(path)r %(q)r %(x)r", `'a/b' "it's" 'tab\there'`},
		{"%(path)10s|%(path)-10s|%(path).1s|%(path)010s", "       a/b|a/b       |a|       a/b"},
		{"100%% %(size)s", "100% 1234"},
		{"%(size).6d", "001234"},
		{"%(path).9s|%(path).10s|%(path).1234s|%(size)hd|%(size)5ld", "a/b|a/b|a/b|1234| 1234"},
		{"%(path)1000s", strings.Repeat(" ", 997) + "a/b"}, // the widest width
		{"no conversion", "no conversion"},
		{"", ""},
		{"%(a(b))s", "nested"},
	} {
		f, err := ParseFormat(tc.format)
		if err != nil {
			t.Errorf("%q: %v", tc.format, err)
			continue
		}
		a := attrs
		if strings.Contains(tc.format, "a(b)") {
			a = map[string]any{"a(b)": "nested"}
		}
		got, err := f.Execute(a)
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.format, got, err, tc.want)
		}
	}
}

func TestFormatErrors(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"%s", "every conversion names its key"},
		{"%(path", "unclosed key"},
		{"%()s", "empty key"},
		{"%(path)", "incomplete conversion"},
		{"%(path)5", "incomplete conversion"},
		{"%(path).5", "incomplete conversion"},
		{"%(path)5.", "incomplete conversion"},
		{"%(path)5h", "incomplete conversion"},
		{"%(path).12345s", "too large"},
		{"%(path)f", `unsupported conversion 'f'`},
		{"x %", "names its key"},
		{"%(size)99999d", "too large"},
	} {
		_, err := ParseFormat(tc.format)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want ErrFormat with %q", tc.format, err, tc.want)
		}
	}
	attrs := map[string]any{"path": "a/b", "size": int64(1)}
	for _, tc := range []struct{ format, want string }{
		{"%(missing)s", `no key "missing"`},
		{"%(path)d", `needs a number`},
	} {
		f, err := ParseFormat(tc.format)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Execute(attrs); !errors.Is(err, ErrFormatKey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want ErrFormatKey with %q", tc.format, err, tc.want)
		}
	}
}

func FuzzFormat(f *testing.F) {
	for _, s := range []string{"%(path)s %(sha256)s", "%(size)08d", "%%", "%(a(b))r", "%(size)#o", "%(x)-5.2s"} {
		f.Add(s)
	}
	attrs := map[string]any{"path": "p", "sha256": "00", "size": int64(7), "x": "abc", "a(b)": "c"}
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := ParseFormat(s)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("%q: %v is not ErrFormat", s, err)
			}
			return
		}
		out, err := fm.Execute(attrs)
		if err != nil && !errors.Is(err, ErrFormatKey) {
			t.Fatalf("%q: %v is not ErrFormatKey", s, err)
		}
		if !strings.Contains(s, "%") && out != s {
			t.Fatalf("%q without conversions rendered as %q", s, out)
		}
	})
}
