package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ssmirror.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// show runs `config show` and decodes the printed settings by mirror.
func show(t *testing.T, args ...string) (map[string]map[string]any, string, int) {
	t.Helper()
	out, errOut, code := run(t, append([]string{"config", "show"}, args...)...)
	got := map[string]map[string]any{}
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		name, _ := m["name"].(string)
		got[name] = m
	}
	return got, errOut, code
}

// TestPrecedence: flags > SSMIRROR_* environment > the mirror's section >
// the defaults section > built-in defaults, key by key.
func TestPrecedence(t *testing.T) {
	file := writeConfig(t, `
defaults:
  transfers: 3
  max: 5
  s3: {endpoint: "http://defaults:9000", region: r-defaults}
mirrors:
  m:
    source: https://up.example/
    target: s3://b/p
    max: 2
    s3: {region: r-mirror}
`)
	cases := []struct {
		name  string
		env   map[string]string
		flags []string
		key   string // dotted
		want  any
	}{
		{"built-in default", nil, nil, "gc_grace", "24h0m0s"},
		{"defaults section", nil, nil, "transfers", 3.0},
		{"mirror over defaults", nil, nil, "max", 2.0},
		{"nested: mirror over defaults", nil, nil, "s3.region", "r-mirror"},
		{"nested: defaults kept", nil, nil, "s3.endpoint", "http://defaults:9000"},
		{"env over file", map[string]string{"SSMIRROR_MAX": "7"}, nil, "max", 7.0},
		{"env nested", map[string]string{"SSMIRROR_S3_ENDPOINT": "http://env:1"}, nil, "s3.endpoint", "http://env:1"},
		{"env over default", map[string]string{"SSMIRROR_GC_GRACE": "1h"}, nil, "gc_grace", "1h0m0s"},
		{"flag over env", map[string]string{"SSMIRROR_MAX": "7"}, []string{"--max", "9"}, "max", 9.0},
		{"flag nested", map[string]string{"SSMIRROR_S3_ENDPOINT": "http://env:1"}, []string{"--endpoint", "http://flag:2"}, "s3.endpoint", "http://flag:2"},
		{"flag duration", nil, []string{"--gc-grace", "90m"}, "gc_grace", "1h30m0s"},
		{"flag size", nil, []string{"--part-size", "32MiB"}, "s3.part_size", float64(32 << 20)},
		{"env size", map[string]string{"SSMIRROR_S3_PART_SIZE": "8M"}, nil, "s3.part_size", float64(8 << 20)},
		{"flag upload memory", nil, []string{"--upload-memory", "128MiB"}, "s3.upload_memory", float64(128 << 20)},
		{"flag part uploads", map[string]string{"SSMIRROR_S3_PART_UPLOADS": "2"}, []string{"--part-uploads", "8"}, "s3.part_uploads", 8.0},
		{"env part uploads", map[string]string{"SSMIRROR_S3_PART_UPLOADS": "2"}, nil, "s3.part_uploads", 2.0},
		{"env list", map[string]string{"SSMIRROR_KEYRINGS": "a.gpg,b.gpg"}, nil, "keyrings", []any{"a.gpg", "b.gpg"}},
		{"env filters", map[string]string{"SSMIRROR_FILTERS": "arch=amd64 --or os~grub"}, nil, "filters", []any{[]any{"arch=amd64"}, []any{"os~grub"}}},
		{"built-in low speed", nil, nil, "low_speed", "off"},
		{"flag low speed", nil, []string{"--low-speed", "10K/30s"}, "low_speed", "10K/30s"},
		{"env low speed", map[string]string{"SSMIRROR_LOW_SPEED": "1M/1m"}, nil, "low_speed", "1M/1m0s"},
		{"built-in bwlimit", nil, nil, "bwlimit", "off"},
		{"flag bwlimit timetable", nil, []string{"--bwlimit", "08:00,1M 18:00,off"}, "bwlimit", "08:00,1M 18:00,off"},
		{"env bwlimit", map[string]string{"SSMIRROR_BWLIMIT": "512k"}, nil, "bwlimit", "512K"},
		{"flag mirrors", nil, []string{"--mirror", "https://a.example/", "--mirror", "/srv/b"}, "item_mirrors", []any{"https://a.example/", "/srv/b"}},
		{"env mirrors", map[string]string{"SSMIRROR_ITEM_MIRRORS": "https://a.example/,https://b.example/"}, nil, "item_mirrors", []any{"https://a.example/", "https://b.example/"}},
		{"flag upstream proxy", nil, []string{"--upstream-proxy", "http://proxy.example:3128"}, "upstream_proxy", "http://proxy.example:3128"},
		{"env upstream proxy", map[string]string{"SSMIRROR_UPSTREAM_PROXY": "socks5://127.0.0.1:1080"}, nil, "upstream_proxy", "socks5://127.0.0.1:1080"},
		{"unset flag does not override", map[string]string{"SSMIRROR_TRANSFERS": "11"}, nil, "transfers", 11.0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			got, errOut, code := show(t, append([]string{"--config", file}, c.flags...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var v any = got["m"]
			for _, part := range strings.Split(c.key, ".") {
				v = v.(map[string]any)[part]
			}
			if b1, _ := json.Marshal(v); string(b1) != mustJSON(c.want) {
				t.Errorf("%s = %s, want %s", c.key, b1, mustJSON(c.want))
			}
		})
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestConfigErrors: unknown keys and invalid values fail with the key's
// name and status 2; secrets never appear in the output.
func TestConfigErrors(t *testing.T) {
	cases := []struct{ body, want string }{
		{"mirrors:\n  m: {source: a, target: b, trasnfers: 3}\n", "unknown key mirrors.m.trasnfers"},
		{"mirrors:\n  m: {source: a, target: b, s3: {endpont: x}}\n", "unknown key mirrors.m.s3.endpont"},
		{"defaults: {colour: red}\nmirrors:\n  m: {source: a, target: b}\n", "unknown key defaults.colour"},
		{"mirors:\n  m: {source: a, target: b}\n", "unknown key mirors"},
		{"mirrors:\n  m: {source: a, target: b, gc_grace: soon}\n", "gc_grace"},
		{"mirrors:\n  m: {source: a, target: b, transfers: many}\n", "transfers"},
		{"mirrors:\n  m: {source: a, target: b, transfers: 0}\n", "transfers"},
		{"mirrors:\n  m: {source: a}\n", "mirrors.m: invalid configuration: target: missing"},
		{"mirrors:\n  m: {source: a, target: b, filters: [[arch]]}\n", `filter "arch"`},
		{"mirrors:\n  m: {source: a, target: b, s3: {part_size: 1KiB}}\n", "s3.part_size"},
		{"mirrors:\n  m: {source: a, target: b, s3: {part_uploads: 100}}\n", "s3.part_uploads"},
		{"mirrors:\n  m: {source: a, target: b, s3: {upload_memory: lots}}\n", "s3.upload_memory"},
		{"mirrors:\n  m: {source: a, target: b, low_speed: fast}\n", "low_speed"},
		{"mirrors:\n  m: {source: a, target: b, bwlimit: fast}\n", "bwlimit"},
		{"mirrors:\n  m: {source: a, target: b, bwlimit: \"18:00,1M 08:00,off\"}\n", "not later"},
		{"mirrors:\n  m: {source: a, target: b, upstream_proxy: proxy.example}\n", "upstream_proxy"},
		{"mirrors:\n  m: {source: a, target: b, item_mirrors: [\"\"]}\n", "item_mirrors"},
		{"mirrors: {}\n", "no mirrors"},
		{"mirrors: [\n", "config"},
	}
	for _, c := range cases {
		_, errOut, code := show(t, "--config", writeConfig(t, c.body))
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, want 2 with %q:\n%s", c.body, code, c.want, errOut)
		}
	}
	_, errOut, code := show(t, "--config", writeConfig(t, "mirrors:\n  m: {source: a, target: b}\n"), "other")
	if code != 2 || !strings.Contains(errOut, `no mirror "other"`) {
		t.Errorf("unknown mirror name: exit %d: %s", code, errOut)
	}

	t.Setenv("SSMIRROR_SIGN_PASSPHRASE", "pass-phrase-123")
	t.Setenv("SSMIRROR_S3_SECRET_ACCESS_KEY", "secret-key-456")
	t.Setenv("SSMIRROR_S3_ACCESS_KEY_ID", "AKIAEXAMPLE")
	out, errOut, code := run(t, "config", "show", "--config", writeConfig(t, "mirrors:\n  m: {source: a, target: b}\n"))
	if code != 0 || strings.Contains(out+errOut, "pass-phrase-123") || strings.Contains(out+errOut, "secret-key-456") ||
		!strings.Contains(out, `"secret_access_key": "REDACTED"`) || !strings.Contains(out, `"sign_passphrase": "REDACTED"`) {
		t.Errorf("secrets: exit %d\n%s%s", code, out, errOut)
	}
}

// TestSyncFromConfig runs named mirrors from a config file.
func TestSyncFromConfig(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	file := writeConfig(t, `
defaults:
  keyrings: [`+f.keyring+`]
  max: 1
mirrors:
  images:
    source: `+f.srv.Root()+`
    target: `+filepath.Join(dir, "images")+`
    filters: [[arch=amd64, "release~(jammy|noble)"]]
  boot:
    source: `+f.srv.Root()+`
    target: `+filepath.Join(dir, "boot")+`
    filters: ["os~(grub|pxelinux)"]
`)
	out, errOut, code := run(t, "sync", "--config", file, "boot")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "images")); err == nil {
		t.Error("a mirror that was not named was synced")
	}
	out, errOut, code = run(t, "sync", "--config", file)
	if code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("all mirrors: exit %d\n%s%s", code, out, errOut)
	}
	for _, name := range []string{"images", "boot"} {
		if _, err := os.Stat(filepath.Join(dir, name, "streams/v1/index.json")); err != nil {
			t.Errorf("mirror %s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "boot", "noble")); err == nil {
		t.Error("the boot mirror holds images: its filters were not applied")
	}
}

// TestEveryCommandReadsSettings: every command that reads a source or a
// target takes its settings from the one table (resolve), as sync does:
// from SSMIRROR_* variables, from the mirror --config FILE MIRROR names
// (whose source or target it then reads), and from its flags over both.
// The setting shown is s3.cacert, which each command loads before it
// reaches the store and names when the file is missing (exit 2).
func TestEveryCommandReadsSettings(t *testing.T) {
	dir := t.TempDir()
	pem := func(name string) string { return filepath.Join(dir, name+".pem") }
	file := writeConfig(t, "mirrors:\n  m:\n    source: s3://bucket/up/\n    target: s3://bucket/mirror\n    s3: {cacert: "+pem("config")+"}\n")
	locs := map[string][]string{
		"verify": {"s3://bucket/mirror"}, "gc": {"s3://bucket/mirror"}, "status": {"s3://bucket/mirror"},
		"doctor": {"s3://bucket/mirror"}, "list": {"s3://bucket/up/"},
		"plan": {"s3://bucket/up/", "s3://bucket/mirror"}, "sync": {"s3://bucket/up/", "s3://bucket/mirror"},
	}
	for _, command := range []string{"verify", "list", "gc", "status", "doctor", "plan", "sync"} {
		for _, c := range []struct {
			name string
			env  string // SSMIRROR_S3_CACERT
			args []string
			want string // the file the error names
		}{
			{"environment", pem("env"), locs[command], pem("env")},
			{"config file", "", []string{"--config", file, "m"}, pem("config")},
			{"config file under the environment", pem("env"), []string{"--config", file, "m"}, pem("env")},
			{"flag over the environment", pem("env"), append([]string{"--cacert", pem("flag")}, locs[command]...), pem("flag")},
			{"flag over the config file", "", []string{"--config", file, "--cacert", pem("flag"), "m"}, pem("flag")},
		} {
			t.Run(command+"/"+c.name, func(t *testing.T) {
				t.Setenv("SSMIRROR_S3_CACERT", c.env)
				if c.env == "" {
					os.Unsetenv("SSMIRROR_S3_CACERT")
				}
				out, errOut, code := run(t, append([]string{command}, c.args...)...)
				if code != 2 || !strings.Contains(errOut, c.want) {
					t.Errorf("%s %q: exit %d, want 2 naming %s\n%s%s", command, c.args, code, c.want, out, errOut)
				}
			})
		}
	}
}

// TestListFromConfig: list --config FILE NAME reads the mirror's source
// with its keyrings and filters; FILTER arguments replace the filters.
func TestListFromConfig(t *testing.T) {
	f := newFixture(t)
	file := writeConfig(t, `
mirrors:
  boot:
    source: `+f.srv.Root()+`
    target: `+filepath.Join(t.TempDir(), "boot")+`
    keyrings: [`+f.keyring+`]
    filters: ["os~(grub|pxelinux)"]
`)
	out, errOut, code := run(t, "list", "--config", file, "boot")
	if code != 0 || out == "" || strings.Contains(out, "noble") {
		t.Errorf("the mirror's filters: exit %d, want the boot loaders only\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, "list", "--config", file, "boot", "release=noble")
	if code != 0 || !strings.Contains(out, "noble") || strings.Contains(out, "grub") {
		t.Errorf("FILTER arguments: exit %d, want noble's items only\n%s%s", code, out, errOut)
	}
}

// TestTargetFromConfig: verify, status, gc and doctor --config FILE NAME
// read the target of the mirror NAME.
func TestTargetFromConfig(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "mirror")
	file := writeConfig(t, "mirrors:\n  m:\n    source: "+f.srv.Root()+"\n    target: "+dir+"\n    keyrings: ["+f.keyring+"]\n")
	if out, errOut, code := run(t, "sync", "--config", file, "m"); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify"}, "OK " + dir + ": "},
		{[]string{"status"}, dir + "\n  last synced:"},
		{[]string{"gc", "--dry-run"}, ""},
		{[]string{"doctor"}, "store     " + dir + "\n"},
	} {
		out, errOut, code := run(t, append(c.args, "--config", file, "m")...)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("%s --config FILE m: exit %d, want 0 and %q\n%s%s", c.args[0], code, c.want, out, errOut)
		}
		if _, err := os.Stat("m"); err == nil {
			os.RemoveAll("m")
			t.Errorf("%s --config FILE m took the name for a directory", c.args[0])
		}
	}
}
