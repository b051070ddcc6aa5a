package filter

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// Flattened attributes of real items from images.maas.io stable (July 2025):
// the product attributes of com.ubuntu.maas:stable:1:bootloader-download and
// com.ubuntu.maas:stable:v3:download, plus item attributes.
var (
	grubEFISigned = map[string]string{
		"arch": "amd64", "arches": "amd64", "bootloader-type": "uefi", "label": "stable",
		"os": "grub-efi-signed", "ftype": "archive.tar.xz",
	}
	grubEFI = map[string]string{
		"arch": "arm64", "arches": "arm64", "bootloader-type": "uefi", "label": "stable",
		"os": "grub-efi", "ftype": "archive.tar.xz",
	}
	grubIEEE1275 = map[string]string{
		"arch": "ppc64el", "arches": "ppc64el,ppc64", "bootloader-type": "open-firmware",
		"label": "stable", "os": "grub-ieee1275", "ftype": "archive.tar.xz",
	}
	pxelinux = map[string]string{
		"arch": "amd64", "arches": "amd64, i386", "bootloader-type": "pxe", "label": "stable",
		"os": "pxelinux", "ftype": "archive.tar.xz",
	}
	jammyAMD64 = map[string]string{
		"arch": "amd64", "kflavor": "generic", "krel": "jammy", "label": "stable", "os": "ubuntu",
		"release": "jammy", "release_codename": "Jammy Jellyfish", "release_title": "22.04 LTS",
		"subarch": "ga-22.04", "version": "22.04", "ftype": "squashfs",
	}
	nobleARM64 = map[string]string{
		"arch": "arm64", "kflavor": "generic", "krel": "noble", "label": "stable", "os": "ubuntu",
		"release": "noble", "release_codename": "Noble Numbat", "release_title": "24.04 LTS",
		"subarch": "ga-24.04", "version": "24.04", "ftype": "boot-kernel",
	}
	focalAMD64 = map[string]string{
		"arch": "amd64", "krel": "focal", "label": "stable", "os": "ubuntu",
		"release": "focal", "version": "20.04", "ftype": "squashfs",
	}
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in    string
		key   string
		op    Op
		value string
	}{
		{"arch=amd64", "arch", Eq, "amd64"},
		{"arch!=amd64", "arch", Ne, "amd64"},
		{"release~(jammy|noble)", "release", Search, "(jammy|noble)"},
		{"release!~(jammy|noble)", "release", NotSearch, "(jammy|noble)"},
		// empty values
		{"arch=", "arch", Eq, ""},
		{"arch!=", "arch", Ne, ""},
		{"arch~", "arch", Search, ""},
		{"arch!~", "arch", NotSearch, ""},
		// the value is everything after the first operator
		{"a==b", "a", Eq, "=b"},
		{"a=b=c", "a", Eq, "b=c"},
		{"a=~b", "a", Eq, "~b"},
		{"a~=b", "a", Search, "=b"},
		{"a~~", "a", Search, "~"},
		{"a!=!=", "a", Ne, "!="},
		{"a=!", "a", Eq, "!"},
		{"release_title=22.04 LTS", "release_title", Eq, "22.04 LTS"},
		{"release_codename~ Numbat$", "release_codename", Search, " Numbat$"},
		{"a= ", "a", Eq, " "},
		// keys: word characters, "-" and "|"
		{"bootloader-type=uefi", "bootloader-type", Eq, "uefi"},
		{"release_title=x", "release_title", Eq, "x"},
		{"a|b=1", "a|b", Eq, "1"},
		{"-=1", "-", Eq, "1"},
		{"|~x", "|", Search, "x"},
		{"--or=1", "--or", Eq, "1"},
		{"K9_-|z!~y", "K9_-|z", NotSearch, "y"},
		{"ключ=значение", "ключ", Eq, "значение"}, // Python's \w is Unicode
		{"x²=1", "x²", Eq, "1"},
		// regex specials
		{`path~^boot/.*\.tar\.xz$`, "path", Search, `^boot/.*\.tar\.xz$`},
		{"os~(grub*|pxelinux)", "os", Search, "(grub*|pxelinux)"},
		{`version~^2[24]\.04$`, "version", Search, `^2[24]\.04$`},
		{"a~[=~!]+", "a", Search, "[=~!]+"},
		{"a~(?i)JAMMY", "a", Search, "(?i)JAMMY"},
		{"a~(?P<n>x)", "a", Search, "(?P<n>x)"},
		// "=" compares literally, so regex metacharacters are fine there
		{"a=(", "a", Eq, "("},
		{"a!=[", "a", Ne, "["},
		// as Python's "$", a single trailing newline is allowed and dropped
		{"a=b\n", "a", Eq, "b"},
		{"a~\n", "a", Search, ""},
		{"a=b\r", "a", Eq, "b\r"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if f.Key != tt.key || f.Op != tt.op || f.Value != tt.value {
			t.Errorf("Parse(%q) = %q %v %q, want %q %v %q", tt.in, f.Key, f.Op, f.Value, tt.key, tt.op, tt.value)
		}
		if (f.re != nil) != (f.Op == Search || f.Op == NotSearch) {
			t.Errorf("Parse(%q): compiled regex %v for op %v", tt.in, f.re, f.Op)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in     string
		reason string // substring of the error
	}{
		{"", "empty filter"},
		{"arch", "expected key=value, key!=value, key~regex or key!~regex"},
		{"arch amd64", `invalid character ' ' in key`},
		{"=x", "empty key"},
		{"=", "empty key"},
		{"~x", "empty key"},
		{"!=x", "empty key"},
		{"!~x", "empty key"},
		{"a.b=1", `invalid character '.' in key`},
		{"a b=1", `invalid character ' ' in key`},
		{" a=1", `invalid character ' ' in key`},
		{"a:b=1", `invalid character ':' in key`},
		{"a!b", `invalid character '!' in key`},
		{"a!", `invalid character '!' in key`},
		{"a\n=1", `invalid character '\n' in key`},
		{"é́=1", `invalid character '\u0301' in key`}, // combining mark: not \w
		{"a~(", "invalid regex"},
		{"a!~[", "invalid regex"},
		{"a~(?=x)", "invalid regex"},   // lookahead
		{"a~(?<!x)y", "invalid regex"}, // lookbehind
		{`a~(x)\1`, "invalid regex"},   // backreference
		{"a~x{1001}", "invalid regex"},
		{"a=b\nc", "newline"},
		{"a=b\n\n", "newline"},
		{"a=\xff", "UTF-8"},
		{"\xff=1", "UTF-8"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %q %v %q, want error", tt.in, f.Key, f.Op, f.Value)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q): error %v does not wrap ErrSyntax", tt.in, err)
		}
		var se *SyntaxError
		if !errors.As(err, &se) || se.Arg != tt.in {
			t.Errorf("Parse(%q): error %#v is not a *SyntaxError for the argument", tt.in, err)
		}
		msg := err.Error()
		if want := "filter " + strconv.Quote(tt.in) + ": "; !strings.HasPrefix(msg, want) {
			t.Errorf("Parse(%q): error %q does not start with %q", tt.in, msg, want)
		}
		if !strings.Contains(msg, tt.reason) {
			t.Errorf("Parse(%q): error %q does not contain %q", tt.in, msg, tt.reason)
		}
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := Parse("arch")
	want := `filter "arch": expected key=value, key!=value, key~regex or key!~regex`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(\"arch\") error = %v, want %s", err, want)
	}
	_, err = Parse("a~(?=x)")
	var re *syntax.Error
	if !errors.As(err, &re) || re.Code != syntax.ErrInvalidPerlOp {
		t.Errorf("Parse(lookahead) error = %v, want it to wrap the regexp/syntax error", err)
	}
}

func TestOpString(t *testing.T) {
	for op, want := range map[Op]string{Eq: "=", Ne: "!=", Search: "~", NotSearch: "!~", Op(9): "Op(9)"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", int(op), got, want)
		}
	}
}

func mustParse(t testing.TB, s string) Filter {
	t.Helper()
	f, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFilterMatch(t *testing.T) {
	noArch := map[string]string{"os": "ubuntu"}
	emptyArch := map[string]string{"arch": ""}
	tests := []struct {
		filter string
		item   map[string]string
		want   bool
	}{
		// a missing key matches as ""
		{"arch=amd64", noArch, false},
		{"arch!=amd64", noArch, true},
		{"arch=", noArch, true},
		{"arch!=", noArch, false},
		{"arch=", emptyArch, true},
		{"arch=", nil, true},
		{"arch~amd", noArch, false},
		{"arch!~amd", noArch, true},
		{"arch~", noArch, true},
		{"arch~^$", noArch, true},
		{"arch!~.", noArch, true},
		{"arch!~", noArch, false},
		// "=" is exact, "~" is an unanchored search
		{"arch=amd64", jammyAMD64, true},
		{"arch=amd", jammyAMD64, false},
		{"arch=AMD64", jammyAMD64, false},
		{"arch=amd64 ", jammyAMD64, false},
		{"arch~amd", jammyAMD64, true},
		{"arch~md6", jammyAMD64, true},
		{"arch~^md6", jammyAMD64, false},
		{"arch~^amd64$", jammyAMD64, true},
		{"arch!~md6", jammyAMD64, false},
		{"arch!=amd64", jammyAMD64, false},
		{"arch!=arm64", jammyAMD64, true},
		{"version=22.04", jammyAMD64, true},
		{"version=22x04", jammyAMD64, false},
		{"version~22.04", map[string]string{"version": "22x04"}, true}, // "." is a regex metachar
		{"version=22.0", jammyAMD64, false},
		{"version~22.0", jammyAMD64, true},
		{"release_title=22.04 LTS", jammyAMD64, true},
		{"release_codename~Numbat", nobleARM64, true},
		{"subarch=ga", jammyAMD64, false},
		{"subarch~ga", jammyAMD64, true},
		// release~(jammy|noble)
		{"release~(jammy|noble)", jammyAMD64, true},
		{"release~(jammy|noble)", nobleARM64, true},
		{"release~(jammy|noble)", focalAMD64, false},
		{"release~(jammy|noble)", grubEFI, false}, // bootloaders have no release
		{"release!~(jammy|noble)", focalAMD64, true},
		{"release!~(jammy|noble)", grubEFI, true},
		{"release=(jammy|noble)", jammyAMD64, false},
		// os~(grub*|pxelinux) against the real bootloader and image os values
		{"os~(grub*|pxelinux)", grubEFISigned, true},
		{"os~(grub*|pxelinux)", grubEFI, true},
		{"os~(grub*|pxelinux)", grubIEEE1275, true},
		{"os~(grub*|pxelinux)", pxelinux, true},
		{"os~(grub*|pxelinux)", jammyAMD64, false},
		{"os=grub-efi", grubEFI, true},
		{"os=grub-efi", grubEFISigned, false},
		{"os~grub-efi", grubEFISigned, true},
		{"os~^grub-efi$", grubEFISigned, false},
		{"os!~(grub*|pxelinux)", jammyAMD64, true},
		{"os!~(grub*|pxelinux)", pxelinux, false},
		{"bootloader-type=uefi", grubEFI, true},
		{"bootloader-type!=uefi", pxelinux, true},
		{"arches~(^|,)\\s*i386(,|$)", pxelinux, true},
		{"arches~(^|,)\\s*i386(,|$)", grubEFISigned, false},
	}
	for _, tt := range tests {
		f := mustParse(t, tt.filter)
		if got := f.Match(tt.item); got != tt.want {
			t.Errorf("%q.Match(%v) = %v, want %v", tt.filter, tt.item, got, tt.want)
		}
		// A literal Filter (no compiled regex) behaves the same.
		lit := Filter{Key: f.Key, Op: f.Op, Value: f.Value}
		if got := lit.Match(tt.item); got != tt.want {
			t.Errorf("literal %q.Match(%v) = %v, want %v", tt.filter, tt.item, got, tt.want)
		}
	}
}

func TestLiteralInvalidFilterMatchesNothing(t *testing.T) {
	item := map[string]string{"a": "x"}
	for _, f := range []Filter{
		{Key: "a", Op: Search, Value: "("},
		{Key: "a", Op: NotSearch, Value: "("},
		{Key: "a", Op: Op(7), Value: "x"},
	} {
		if f.Match(item) {
			t.Errorf("%#v matched", f)
		}
	}
}

func TestGroupAndSetMatch(t *testing.T) {
	all := []map[string]string{grubEFISigned, grubEFI, grubIEEE1275, pxelinux, jammyAMD64, nobleARM64, focalAMD64, nil}
	var empty Set
	var emptyGroup Group
	for _, item := range all {
		if !empty.Match(item) {
			t.Errorf("empty Set does not match %v", item)
		}
		if !(Set{}).Match(item) {
			t.Errorf("Set{} does not match %v", item)
		}
		if !emptyGroup.Match(item) {
			t.Errorf("empty Group does not match %v", item)
		}
	}

	// The MAAS case the reference tool needs two runs for.
	set, err := ParseArgs([]string{"arch=amd64", "release~(jammy|noble)", OrArg, "os~(grub*|pxelinux)"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[*map[string]string]bool{
		&grubEFISigned: true, &grubEFI: true, &grubIEEE1275: true, &pxelinux: true,
		&jammyAMD64: true, &nobleARM64: false /* arm64 */, &focalAMD64: false, /* focal */
	}
	for item, w := range want {
		if got := set.Match(*item); got != w {
			t.Errorf("%s.Match(%v) = %v, want %v", set, *item, got, w)
		}
	}
	// AND within the first group alone.
	g := set[0]
	for item, w := range map[*map[string]string]bool{&jammyAMD64: true, &nobleARM64: false, &focalAMD64: false, &pxelinux: false} {
		if got := g.Match(*item); got != w {
			t.Errorf("%s.Match(%v) = %v, want %v", g, *item, got, w)
		}
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want [][]string // nil for an empty set
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{"arch=amd64"}, [][]string{{"arch=amd64"}}},
		{[]string{"arch=amd64", "release~(jammy|noble)"}, [][]string{{"arch=amd64", "release~(jammy|noble)"}}},
		{
			[]string{"arch=amd64", "release~(jammy|noble)", "--or", "os~(grub*|pxelinux)"},
			[][]string{{"arch=amd64", "release~(jammy|noble)"}, {"os~(grub*|pxelinux)"}},
		},
		{
			[]string{"a=1", "--or", "b=2", "--or", "c=3", "d!~4"},
			[][]string{{"a=1"}, {"b=2"}, {"c=3", "d!~4"}},
		},
		// one argument is one filter, spaces and all; only the exact "--or" separates
		{[]string{"release_title=22.04 LTS", "--or=x"}, [][]string{{"release_title=22.04 LTS", "--or=x"}}},
	}
	for _, tt := range tests {
		set, err := ParseArgs(tt.args)
		if err != nil {
			t.Errorf("ParseArgs(%q): %v", tt.args, err)
			continue
		}
		if got := setStrings(set); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseArgs(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // whole error message
	}{
		{[]string{"--or"}, `argument 1 "--or": leading --or leaves an empty group (--or must separate non-empty groups of filters)`},
		{[]string{"--or", "a=1"}, `argument 1 "--or": leading --or leaves an empty group (--or must separate non-empty groups of filters)`},
		{[]string{"a=1", "--or"}, `argument 2 "--or": trailing --or leaves an empty group (--or must separate non-empty groups of filters)`},
		{[]string{"a=1", "--or", "--or", "b=2"}, `argument 3 "--or": doubled --or leaves an empty group (--or must separate non-empty groups of filters)`},
		{[]string{"a=1", "--or", "--or"}, `argument 3 "--or": doubled --or leaves an empty group (--or must separate non-empty groups of filters)`},
		{[]string{"a=1", "a.b=1"}, `argument 2: filter "a.b=1": invalid character '.' in key (keys are letters, digits, "_", "-" and "|"); expected key=value, key!=value, key~regex or key!~regex`},
		{[]string{"a=1", "--or", "arch"}, `argument 3: filter "arch": expected key=value, key!=value, key~regex or key!~regex`},
		{[]string{"a~(?=x)"}, "argument 1: filter \"a~(?=x)\": invalid regex: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
		{[]string{"--OR"}, `argument 1: filter "--OR": expected key=value, key!=value, key~regex or key!~regex`},
	}
	for _, tt := range tests {
		set, err := ParseArgs(tt.args)
		if err == nil {
			t.Errorf("ParseArgs(%q) = %s, want error", tt.args, set)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseArgs(%q): %v does not wrap ErrSyntax", tt.args, err)
		}
		if err.Error() != tt.want {
			t.Errorf("ParseArgs(%q) error:\n got %s\nwant %s", tt.args, err, tt.want)
		}
		if set != nil {
			t.Errorf("ParseArgs(%q) returned %v with an error", tt.args, set)
		}
	}
}

func setStrings(s Set) [][]string {
	if len(s) == 0 {
		return nil
	}
	out := make([][]string, len(s))
	for i, g := range s {
		for _, f := range g {
			out[i] = append(out[i], f.String())
		}
	}
	return out
}

func sameFilter(a, b Filter) bool { return a.Key == b.Key && a.Op == b.Op && a.Value == b.Value }

func sameSet(a, b Set) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if !sameFilter(a[i][j], b[i][j]) {
				return false
			}
		}
	}
	return true
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range []string{
		"arch=amd64", "arch!=amd64", "release~(jammy|noble)", "os!~(grub*|pxelinux)",
		"arch=", "a==b", "a~=b", "a!=!=", "release_title=22.04 LTS", "a|b-c_d~x",
		`path~^boot/.*\.tar\.xz$`, "ключ=значение",
	} {
		f := mustParse(t, s)
		if got := f.String(); got != s {
			t.Errorf("Parse(%q).String() = %q", s, got)
		}
		g, err := Parse(f.String())
		if err != nil || !sameFilter(f, g) {
			t.Errorf("Parse(%q) = %#v, %v; want %#v", f.String(), g, err, f)
		}
	}
	// Trailing newline is dropped, so the canonical text differs from the input.
	if got := mustParse(t, "a=b\n").String(); got != "a=b" {
		t.Errorf(`Parse("a=b\n").String() = %q, want "a=b"`, got)
	}
	// Literal filters print the same way.
	if got := (Filter{Key: "os", Op: NotSearch, Value: "grub"}).String(); got != "os!~grub" {
		t.Errorf("literal String() = %q", got)
	}
}

func TestSetString(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"arch=amd64"}, "arch=amd64"},
		{
			[]string{"arch=amd64", "release~(jammy|noble)", "--or", "os~(grub|pxelinux)"},
			"arch=amd64 release~(jammy|noble) --or os~(grub|pxelinux)",
		},
		{[]string{"a=1", "--or", "b!=2", "--or", "c!~3"}, "a=1 --or b!=2 --or c!~3"},
	}
	for _, tt := range tests {
		set, err := ParseArgs(tt.args)
		if err != nil {
			t.Fatal(err)
		}
		if got := set.String(); got != tt.want {
			t.Errorf("ParseArgs(%q).String() = %q, want %q", tt.args, got, tt.want)
		}
		// Without spaces in values, the text splits back into the same set.
		back, err := ParseArgs(strings.Fields(set.String()))
		if err != nil || !sameSet(set, back) {
			t.Errorf("ParseArgs(Fields(%q)) = %v, %v", set.String(), back, err)
		}
	}
	if got := (Set{}).String(); got != "" {
		t.Errorf("Set{}.String() = %q", got)
	}
}

func TestJSON(t *testing.T) {
	set, err := ParseArgs([]string{"arch=amd64", "release~(jammy|noble)", "--or", "os~(grub*|pxelinux)", "--or", "release_title=22.04 LTS", `a~"\d<>&`})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	want := `[["arch=amd64","release~(jammy|noble)"],["os~(grub*|pxelinux)"],["release_title=22.04 LTS","a~\"\\d\u003c\u003e\u0026"]]`
	if string(data) != want {
		t.Errorf("Marshal = %s\nwant      %s", data, want)
	}
	var back Set
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !sameSet(set, back) {
		t.Errorf("round trip: got %s, want %s", back, set)
	}
	for _, g := range back {
		for _, f := range g {
			if (f.Op == Search || f.Op == NotSearch) && f.re == nil {
				t.Errorf("unmarshalled %s has no compiled regex", f)
			}
		}
	}
	if !back.Match(pxelinux) || back.Match(focalAMD64) {
		t.Error("unmarshalled set matches wrongly")
	}

	// Inside a config struct, and the empty set.
	type config struct {
		Filters Set `json:"filters"`
	}
	for _, tt := range []struct {
		in   string
		want string
	}{
		{`{"filters":[["arch=amd64"],["os~grub"]]}`, "arch=amd64 --or os~grub"},
		{`{"filters":[]}`, ""},
		{`{"filters":null}`, ""},
		{`{}`, ""},
	} {
		var c config
		if err := json.Unmarshal([]byte(tt.in), &c); err != nil {
			t.Errorf("Unmarshal(%s): %v", tt.in, err)
			continue
		}
		if got := c.Filters.String(); got != tt.want {
			t.Errorf("Unmarshal(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, s := range []Set{nil, {}} {
		data, err := json.Marshal(config{Filters: s})
		if err != nil || string(data) != `{"filters":[]}` {
			t.Errorf("Marshal(%#v) = %s, %v", s, data, err)
		}
	}

	// A single filter marshals as its string, so Group and []Filter do too.
	data, err = json.Marshal(Group{mustParse(t, "os~grub"), mustParse(t, "arch!=i386")})
	if err != nil || string(data) != `["os~grub","arch!=i386"]` {
		t.Errorf("Marshal(Group) = %s, %v", data, err)
	}
	var g Group
	if err := json.Unmarshal(data, &g); err != nil || g.String() != "os~grub arch!=i386" || g[0].re == nil {
		t.Errorf("Unmarshal(Group) = %v, %v", g, err)
	}
}

func TestJSONErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // substring of the error
	}{
		{`[["arch"]]`, `filter set: group 1: filter "arch": expected key=value`},
		{`[["a=1"],["a.b=1"]]`, `filter set: group 2: filter "a.b=1": invalid character '.'`},
		{`[["a~(?=x)"]]`, `filter set: group 1: filter "a~(?=x)": invalid regex`},
		{`[["a=1"],[]]`, "filter set: group 2 is empty"},
		{`[null]`, "filter set: group 1 is empty"},
		{`[["a=1",null]]`, `filter set: group 1: filter "": empty filter`},
		{`["a=1"]`, "filter set: want a JSON array of arrays of filter strings"},
		{`{"a":1}`, "filter set: want a JSON array of arrays of filter strings"},
		{`[[1]]`, "filter set: want a JSON array of arrays of filter strings"},
		{`"a=1"`, "filter set: want a JSON array of arrays of filter strings"},
	}
	for _, tt := range tests {
		before := Set{{mustParse(t, "keep=me")}}
		s := before
		err := json.Unmarshal([]byte(tt.in), &s)
		if err == nil {
			t.Errorf("Unmarshal(%s) = %s, want error", tt.in, s)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Unmarshal(%s): %v does not wrap ErrSyntax", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Unmarshal(%s) error %q does not contain %q", tt.in, err, tt.want)
		}
		if !sameSet(s, before) {
			t.Errorf("Unmarshal(%s) changed the set to %s on error", tt.in, s)
		}
	}
	// The JSON decoder's error is wrapped, not only quoted.
	var s Set
	var te *json.UnmarshalTypeError
	if err := s.UnmarshalJSON([]byte(`["a=1"]`)); !errors.As(err, &te) || !errors.Is(err, ErrSyntax) {
		t.Errorf("UnmarshalJSON of a flat array: %v, want ErrSyntax wrapping a *json.UnmarshalTypeError", err)
	}
}

// reference is the sstream-mirror pattern ^(?P<key>[\w|-]+)(?P<op>!?[=~])(?P<value>.*)$
// as Python's re.match reads it (Unicode \w, "." excluding newline, "$" also
// before a final newline), written in RE2.
var reference = regexp.MustCompile(`\A([\p{L}\p{N}_|-]+)(!?[=~])([^\n]*)\n?\z`)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"arch=amd64", "arch!=amd64", "release~(jammy|noble)", "os!~(grub*|pxelinux)",
		"arch=", "a==b", "a~=b", "a!=!=", "release_title=22.04 LTS", "a|b-c_d~x", "-=",
		"", "arch", "=x", "a.b=1", "a~(", "a~(?=x)", "a=b\n", "a=b\nc", "a!", "a!b=1",
		"ключ=значение", "é́=1", "a=\xff", "a~x{1001}", "--or",
	} {
		f.Add(s)
	}
	item := map[string]string{"arch": "amd64", "os": "grub-efi-signed", "": "x"}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(s)
		// Differential check against the reference pattern (valid UTF-8 only:
		// Python strings cannot hold invalid UTF-8, and Parse rejects it).
		if utf8.ValidString(s) {
			m := reference.FindStringSubmatch(s)
			switch {
			case m == nil && err == nil:
				t.Fatalf("Parse(%q) = %#v, but the reference pattern does not match", s, flt)
			case m != nil && err == nil:
				if flt.Key != m[1] || flt.Op.String() != m[2] || flt.Value != m[3] {
					t.Fatalf("Parse(%q) = %q %q %q, reference %q %q %q", s, flt.Key, flt.Op, flt.Value, m[1], m[2], m[3])
				}
			case m != nil && err != nil:
				if _, rerr := regexp.Compile(m[3]); !strings.Contains(m[2], "~") || rerr == nil {
					t.Fatalf("Parse(%q): %v, but the reference pattern matches", s, err)
				}
			}
		} else if err == nil {
			t.Fatalf("Parse(%q) accepted invalid UTF-8", s)
		}
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q): %v does not wrap ErrSyntax", s, err)
			}
			if !strings.HasPrefix(err.Error(), "filter "+strconv.Quote(s)+": ") {
				t.Fatalf("Parse(%q): error %q does not name the argument", s, err)
			}
			return
		}
		flt.Match(item)
		flt.Match(nil)
		g, err := Parse(flt.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, flt.String(), err)
		}
		if !sameFilter(flt, g) {
			t.Fatalf("Parse(%q) = %#v, reparsed %#v", s, flt, g)
		}
		if g.Match(item) != flt.Match(item) {
			t.Fatalf("reparsed %q matches differently", s)
		}
		// JSON carries it losslessly.
		data, err := json.Marshal(Set{{flt}})
		if err != nil {
			t.Fatal(err)
		}
		var back Set
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", data, err)
		}
		if len(back) != 1 || len(back[0]) != 1 || !sameFilter(back[0][0], flt) {
			t.Fatalf("JSON round trip of %q gave %#v", s, back)
		}
	})
}

// TestSetKeys: the keys a set reads, each once, in order; none for the
// empty set, which reads nothing.
func TestSetKeys(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, []string{}},
		{[]string{"arch=amd64"}, []string{"arch"}},
		{[]string{"arch=amd64", "release~(jammy|noble)", OrArg, "os~grub", "arch!=arm64"}, []string{"arch", "release", "os"}},
	} {
		s, err := ParseArgs(c.args)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Keys(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Keys of %q = %q, want %q", c.args, got, c.want)
		}
	}
}
