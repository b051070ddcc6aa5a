package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/internal/ui"
	"github.com/ssmirror/ssmirror/source/catalog"
)

// listJSON runs list --json and decodes its lines.
func listJSON(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	out, errOut, code := run(t, append([]string{"list", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("list %q: exit %d\n%s%s", args, code, out, errOut)
	}
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

func recPaths(recs []map[string]any) map[string]bool {
	m := map[string]bool{}
	for _, r := range recs {
		if p, ok := r["path"].(string); ok {
			m[p] = true
		}
	}
	return m
}

// TestList lists the upstream fixture with the MAAS selection and checks
// the result against what sync would mirror, the attributes and the
// order.
func TestList(t *testing.T) {
	f := newFixture(t)
	want := f.expected()
	recs := listJSON(t, append([]string{"--keyring", f.keyring, f.srv.Root()}, maasFilter...)...)
	if got := recPaths(recs); !reflect.DeepEqual(got, want) {
		t.Errorf("listed paths:\n got %v\nwant %v", catalog.SortedKeys(got), catalog.SortedKeys(want))
	}
	var keys []string
	for _, r := range recs {
		p := r["path"].(string)
		body := f.tree.Files[p]
		sum := sha256.Sum256(body)
		if r["size"] != float64(len(body)) || r["sha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: size %v sha256 %v, want %d %x", p, r["size"], r["sha256"], len(body), sum)
		}
		// Attributes are flattened: arch and os come from the product.
		if r["arch"] != "amd64" && !strings.Contains(str(r["os"]), "grub") && !strings.Contains(str(r["os"]), "pxelinux") {
			t.Errorf("%s: does not match the filters: %v", p, r)
		}
		for _, k := range []string{"content_id", "product_name", "version_name", "item_name", "ftype"} {
			if str(r[k]) == "" {
				t.Errorf("%s: no %s attribute", p, k)
			}
		}
		keys = append(keys, strings.Join([]string{str(r["content_id"]), str(r["product_name"]), str(r["version_name"]), str(r["item_name"])}, "\x00"))
	}
	if !sort.StringsAreSorted(keys) {
		t.Errorf("records are not sorted by content id, product, version and item")
	}

	// The table: one row per item, the same paths in the same order.
	out, errOut, code := run(t, append([]string{"list", "--keyring", f.keyring, f.srv.Root()}, maasFilter...)...)
	if code != 0 {
		t.Fatalf("list exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if got := strings.Fields(lines[0]); !reflect.DeepEqual(got, []string{"PRODUCT", "VERSION", "ITEM", "FTYPE", "SIZE", "PATH"}) {
		t.Errorf("header %q", lines[0])
	}
	if len(lines)-1 != len(recs) {
		t.Fatalf("table has %d rows, --json %d records", len(lines)-1, len(recs))
	}
	for i, l := range lines[1:] {
		fields := strings.Fields(l)
		r := recs[i]
		if fields[0] != r["product_name"] || fields[1] != r["version_name"] || fields[2] != r["item_name"] ||
			fields[3] != r["ftype"] || fields[len(fields)-1] != r["path"] {
			t.Errorf("row %d %q does not match record %v", i, l, r)
		}
	}

	// Without --max every version is listed; --max 1 keeps the newest.
	all := listJSON(t, "--keyring", f.keyring, f.srv.Root(), "arch=amd64")
	newest := listJSON(t, "--keyring", f.keyring, f.srv.Root(), "arch=amd64", "--max", "1")
	versions := func(recs []map[string]any) map[string][]string {
		m := map[string][]string{}
		for _, r := range recs {
			p, v := str(r["product_name"]), str(r["version_name"])
			if vs := m[p]; len(vs) == 0 || vs[len(vs)-1] != v {
				m[p] = append(vs, v)
			}
		}
		return m
	}
	va, vn := versions(all), versions(newest)
	several := false
	for p, vs := range va {
		several = several || len(vs) > 1
		if want := vs[len(vs)-1]; !reflect.DeepEqual(vn[p], []string{want}) {
			t.Errorf("%s --max 1: versions %v, want [%s] of %v", p, vn[p], want, vs)
		}
	}
	if !several || len(vn) != len(va) {
		t.Errorf("the fixture has no product with several amd64 versions, or --max dropped products: %v / %v", va, vn)
	}
}

// TestListMirror lists a mirror published by sync, in a directory and in
// S3, through its unsigned index.json: the mirrored items, nothing else.
func TestListMirror(t *testing.T) {
	for _, tc := range targets() {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dst, flags, _ := tc.open(t)
			args := append(append([]string{"sync", "--keyring", f.keyring}, flags...), f.srv.Root(), dst)
			if out, errOut, code := run(t, append(args, maasFilter...)...); code != 0 {
				t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
			}
			recs := listJSON(t, append(flags, dst+"/streams/v1/index.json")...)
			if got, want := recPaths(recs), f.expected(); !reflect.DeepEqual(got, want) {
				t.Errorf("listed paths:\n got %v\nwant %v", catalog.SortedKeys(got), catalog.SortedKeys(want))
			}
			// Filters and --or work on a mirror too.
			recs = listJSON(t, append(flags, dst+"/streams/v1/index.json", "os~grub", "--or", "os~pxelinux")...)
			if len(recs) == 0 {
				t.Fatal("no bootloaders listed")
			}
			for _, r := range recs {
				if !strings.Contains(str(r["os"]), "grub") && !strings.Contains(str(r["os"]), "pxelinux") {
					t.Errorf("%v does not match os~grub --or os~pxelinux", r)
				}
			}
		})
	}
}

// TestListBadInput: signatures are checked, usage errors are exit 2, and a
// mirror root without signed metadata gets a hint.
func TestListBadInput(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t)
	if out, errOut, code := run(t, "list", "--keyring", other.keyring, f.srv.Root()); code != exitIntegrity || out != "" {
		t.Errorf("wrong keyring: exit %d\n%s%s", code, out, errOut)
	}
	dir := filepath.Join(t.TempDir(), "m")
	if out, errOut, code := run(t, "sync", "--keyring", f.keyring, "--signed-metadata", "none", f.srv.Root(), dir, "arch=amd64"); code != 0 {
		t.Fatalf("sync exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run(t, "list", "--no-verify", dir); code != exitError || !strings.Contains(errOut, "streams/v1/index.json") {
		t.Errorf("unsigned mirror by its root: exit %d\n%s%s", code, out, errOut)
	}
	for _, args := range [][]string{
		{"list"},
		{"list", f.srv.Root(), "arch"},
		{"list", f.srv.Root(), "--or", "arch=amd64"},
		{"list", f.srv.Root(), "arch=amd64", "--or"},
		{"list", "--max", "-1", f.srv.Root()},
		{"list", "--no-verify", "--keyring", f.keyring, f.srv.Root()},
		{"list", "--keyring", filepath.Join(t.TempDir(), "absent.gpg"), f.srv.Root()},
		{"list", "--endpoint", "minio:9000", "s3://bucket"},
		{"list", "ftp://example.com/"},
	} {
		if out, errOut, code := run(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
}

// TestListTableContentID: a product name repeated under two content ids
// (daily and released streams) brings in the CONTENT ID column.
func TestListTableContentID(t *testing.T) {
	row := func(cid, product string) catalog.Flat {
		return catalog.Flat{Product: product, Version: "20250101", Name: "disk1.img",
			Item:  &catalog.Item{Path: "server/" + cid + "/disk1.img", Size: 2048},
			Attrs: map[string]string{"content_id": cid, "ftype": "disk1.img"}}
	}
	var b bytes.Buffer
	if err := ui.WriteListTable(&b, []catalog.Flat{row("daily", "server:24.04:amd64"), row("released", "server:24.04:arm64")}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "CONTENT ID") {
		t.Errorf("distinct products: want no CONTENT ID column:\n%s", b.String())
	}
	b.Reset()
	if err := ui.WriteListTable(&b, []catalog.Flat{row("daily", "server:24.04:amd64"), row("released", "server:24.04:amd64")}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if !strings.HasPrefix(lines[0], "CONTENT ID") || !strings.HasPrefix(lines[1], "daily ") || !strings.HasPrefix(lines[2], "released ") ||
		!strings.Contains(lines[1], "2.0 KiB") {
		t.Errorf("repeated product: want a CONTENT ID column:\n%s", b.String())
	}
}

// TestListOutputFormat checks sstream-query's --output-format and --pretty
// against --json.
func TestListOutputFormat(t *testing.T) {
	f := newFixture(t)
	args := append([]string{"--keyring", f.keyring, f.srv.Root()}, maasFilter...)
	recs := listJSON(t, args...)
	var want strings.Builder
	for _, r := range recs {
		want.WriteString(r["path"].(string) + " " + r["sha256"].(string) + "\n")
	}
	out, errOut, code := run(t, append([]string{"list", "--output-format", "%(path)s %(sha256)s"}, args...)...)
	if code != 0 || out != want.String() {
		t.Errorf("--output-format: exit %d\n%s%s\nwant\n%s", code, out, errOut, want.String())
	}
	out, _, code = run(t, append([]string{"list", "-o", "%(size)d"}, args...)...)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != len(recs) || lines[0] != fmt.Sprint(recs[0]["size"]) {
		t.Errorf("-o %%(size)d: exit %d\n%s", code, out)
	}

	out, errOut, code = run(t, append([]string{"list", "--pretty"}, args...)...)
	var pretty []map[string]any
	if err := json.Unmarshal([]byte(out), &pretty); code != 0 || err != nil || !reflect.DeepEqual(pretty, recs) || !strings.Contains(out, "\n  {\n    \"") {
		t.Errorf("--pretty: exit %d, %v\n%s%s", code, err, out, errOut)
	}

	for _, tc := range []struct {
		flags []string
		code  int
		want  string
	}{
		{[]string{"-o", "%s"}, exitUsage, "--output-format: bad output format"},
		{[]string{"-o", "%(nokey)s"}, exitError, `no key "nokey"`},
		{[]string{"--pretty", "--json"}, exitUsage, "give one"},
		{[]string{"-o", "%(path)s", "--json"}, exitUsage, "give one"},
	} {
		_, errOut, code := run(t, append(append([]string{"list"}, tc.flags...), args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, want %d and %q\n%s", tc.flags, code, tc.code, tc.want, errOut)
		}
	}
}
