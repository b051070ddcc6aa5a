package catalog

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzMembers checks the fast object walker against encoding/json on
// valid objects without duplicate keys: the same keys, the same values.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { "a" : 1 , "b":[1,{"c":"}"}], "d":"x\"y", "e\u0041":null } `,
		`{"k":{"nested":{"deep":[[],{}]}},"s":"\\","n":-1.5e3,"t":true}`,
		`{"":"","a":"","b":{"c":""},"d":[""]}`, // empty strings: a quote right after a quote
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want map[string]json.RawMessage
		if json.Unmarshal(data, &want) != nil || want == nil || checkStrict("fuzz", data, rAny) != nil {
			return
		}
		got, err := fieldsOf(data)
		if err != nil {
			t.Fatalf("fieldsOf(%q): %v", data, err)
		}
		if len(got) != len(want) {
			t.Fatalf("fieldsOf(%q) has %d members, want %d", data, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(bytes.TrimSpace(got[k]), bytes.TrimSpace(v)) {
				t.Fatalf("member %q = %q, want %q", k, got[k], v)
			}
		}
	})
}

// TestUnquote: the fast path for plain strings agrees with encoding/json,
// which undoes escapes, replaces invalid UTF-8 and refuses raw control
// characters.
func TestUnquote(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{`""`, ""}, {`"a b"`, "a b"}, {`"é"`, "é"},
		{`"\\"`, `\`}, {`"\\\\"`, `\\`}, {`"\u0041"`, "A"},
		{"\"\x80\"", "\ufffd"}, {"\"\xff\xfe\"", "\ufffd\ufffd"},
	} {
		if got, err := unquote([]byte(c.raw)); err != nil || got != c.want {
			t.Errorf("unquote(%q) = %q, %v; want %q", c.raw, got, err, c.want)
		}
	}
	for _, raw := range []string{"\"\x01\"", "\"a\nb\"", `7`, `"a`} {
		if got, err := unquote([]byte(raw)); err == nil {
			t.Errorf("unquote(%q) = %q, want an error", raw, got)
		}
	}
}

// TestTruncate: a string up to the limit is whole; a longer one is cut
// and marked.
func TestTruncate(t *testing.T) {
	if got := truncate("abcd", 4); got != "abcd" {
		t.Errorf("truncate at the limit = %q", got)
	}
	if got := truncate("abcde", 4); got != "abcd..." {
		t.Errorf("truncate past the limit = %q", got)
	}
}
