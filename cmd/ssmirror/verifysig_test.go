package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifySignatureRealKeyring: the real Ubuntu cloud-image keyring, in
// both encodings, verifies the real Canonical detached signature; a one-byte
// change to the data, the signature or the keyring fails with status 4.
func TestVerifySignatureRealKeyring(t *testing.T) {
	const dir = "../../testdata/keys/"
	for _, kr := range []string{"ubuntu-cloudimage-keyring.gpg", "ubuntu-cloudimage-keyring.asc"} {
		out, errOut, code := run(t, "verify-signature", "--keyring", dir+kr, dir+"SHA256SUMS")
		if code != 0 || !strings.Contains(out, "D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81") {
			t.Fatalf("%s: exit %d\n%s%s", kr, code, out, errOut)
		}
	}
	flip := func(src string, at func(b []byte) int) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		b[at(b)] ^= 0x01
		p := filepath.Join(t.TempDir(), filepath.Base(src))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	middle := func(b []byte) int { return len(b) / 2 }
	// In the armored files, a letter of the base64 body.
	armored := func(b []byte) int {
		i := strings.Index(string(b), "\n\n") + 40
		for b[i] < 'a' || b[i] > 'y' {
			i++
		}
		return i
	}
	// In the binary keyring, a byte of the first key's public key material
	// (after the 6-byte packet header and fields).
	keyMaterial := func(b []byte) int { return 40 }
	data := flip(dir+"SHA256SUMS", middle)
	sig := flip(dir+"SHA256SUMS.gpg", armored)
	badGPG := flip(dir+"ubuntu-cloudimage-keyring.gpg", keyMaterial)
	badASC := flip(dir+"ubuntu-cloudimage-keyring.asc", armored)
	cases := [][]string{
		{"--keyring", dir + "ubuntu-cloudimage-keyring.gpg", data, dir + "SHA256SUMS.gpg"},
		{"--keyring", dir + "ubuntu-cloudimage-keyring.gpg", dir + "SHA256SUMS", sig},
		{"--keyring", badGPG, dir + "SHA256SUMS"},
		{"--keyring", badASC, dir + "SHA256SUMS"},
	}
	for _, c := range cases {
		out, errOut, code := run(t, append([]string{"verify-signature"}, c...)...)
		if code != 4 {
			t.Errorf("%v: exit %d, want 4\n%s%s", c, code, out, errOut)
		}
	}
}
