package gpg

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	keysDir = "../../testdata/keys"

	fprUEC     = "D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81" // UEC Image Automatic Signing Key
	fprBuilder = "4A3CE3CD565D7EB5C810E2B97FF3F408476CF100" // Ubuntu Cloud Image Builder

	// The gpg-made fixture key: Ed25519 primary (certify only) with an
	// Ed25519 signing subkey; see testdata/keys/README.md.
	fprFixture        = "C49C60445E8150489D416B5F7312EBE523375DAC"
	fixtureSubkeyID   = "17DEBD2EB477251B"
	fixturePassphrase = "fixture passphrase"
)

// realSigTime is when the real SHA256SUMS.gpg was made (2026-09-26).
var realSigTime = time.Unix(1790446992, 0)

// realOpts verifies the real signature at a fixed time after it was made,
// so the test does not depend on the machine's clock.
var realOpts = Options{Now: func() time.Time { return realSigTime.Add(24 * time.Hour) }}

func keyPath(name string) string { return filepath.Join(keysDir, name) }

func readKeyFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(keyPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func loadRealKeyring(t testing.TB, name string) *Keyring {
	t.Helper()
	k, err := LoadKeyrings(keyPath(name))
	if err != nil {
		t.Fatalf("LoadKeyrings(%s): %v", name, err)
	}
	return k
}

// flip returns a copy of b with the byte at i inverted.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xFF
	return c
}

// setByte returns a copy of b with b[i] = v.
func setByte(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}

// swapBase64 returns a copy of b with the base64 character at i replaced by
// another valid one, so only the armor checksum can notice.
func swapBase64(b []byte, i int) []byte {
	c := bytes.Clone(b)
	if c[i] == 'A' {
		c[i] = 'B'
	} else {
		c[i] = 'A'
	}
	return c
}

// checkVerifyErr fails unless err is a verification error wrapping
// ErrVerification and want, with a one-line message naming name.
func checkVerifyErr(t testing.TB, err error, name string, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if !errors.Is(err, ErrVerification) {
		t.Errorf("error %q does not wrap ErrVerification", err)
	}
	if !errors.Is(err, want) {
		t.Errorf("error %q does not wrap %q", err, want)
	}
	checkMessage(t, err, name)
}

func checkMessage(t testing.TB, err error, name string) {
	t.Helper()
	if os.Getenv("GPG_TEST_LOG_ERRORS") != "" {
		t.Logf("MSG %v", err)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error message spans several lines: %q", msg)
	}
	if !strings.Contains(msg, name) {
		t.Errorf("error message %q does not name %q", msg, name)
	}
	if strings.Contains(msg, ": : ") || strings.HasSuffix(msg, ": ") {
		t.Errorf("error message %q has an empty part", msg)
	}
}

func TestLoadRealKeyring(t *testing.T) {
	want := []string{fprBuilder, fprUEC} // sorted
	for _, file := range []string{"ubuntu-cloudimage-keyring.gpg", "ubuntu-cloudimage-keyring.asc"} {
		t.Run(file, func(t *testing.T) {
			k := loadRealKeyring(t, file)
			if got := k.Fingerprints(); !slices.Equal(got, want) {
				t.Errorf("Fingerprints() = %v, want %v", got, want)
			}
			if k.Len() != 2 {
				t.Errorf("Len() = %d, want 2", k.Len())
			}
			// ParseKeyring on the same bytes agrees with LoadKeyrings.
			p, err := ParseKeyring(file, readKeyFile(t, file))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Fingerprints(); !slices.Equal(got, want) {
				t.Errorf("ParseKeyring: Fingerprints() = %v, want %v", got, want)
			}
		})
	}
}

func TestLoadKeyringsMerges(t *testing.T) {
	// The same two keys in both encodings: merged, not duplicated.
	k, err := LoadKeyrings(keyPath("ubuntu-cloudimage-keyring.gpg"), keyPath("ubuntu-cloudimage-keyring.asc"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Len() != 2 || !slices.Equal(k.Fingerprints(), []string{fprBuilder, fprUEC}) {
		t.Errorf("merged keyring = %v, want the two Ubuntu keys once", k.Fingerprints())
	}
	// Plus a third file with another key.
	k2, err := LoadKeyrings(keyPath("ubuntu-cloudimage-keyring.asc"), keyPath("gpg-fixture-public.asc"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{fprBuilder, fprFixture, fprUEC}; !slices.Equal(k2.Fingerprints(), want) {
		t.Errorf("Fingerprints() = %v, want %v", k2.Fingerprints(), want)
	}
	// Add merges too, and leaves the argument alone.
	k.Add(k2)
	if k.Len() != 3 || k2.Len() != 3 {
		t.Errorf("after Add: Len() = %d and %d, want 3 and 3", k.Len(), k2.Len())
	}
	k.Add(k)
	k.Add(nil)
	if k.Len() != 3 {
		t.Errorf("Add(self), Add(nil) changed Len() to %d", k.Len())
	}
}

func TestLoadKeyringErrors(t *testing.T) {
	dir := t.TempDir()
	realBin := readKeyFile(t, "ubuntu-cloudimage-keyring.gpg")
	realAsc := readKeyFile(t, "ubuntu-cloudimage-keyring.asc")
	ascEnd := bytes.Index(realAsc, []byte("-----END"))
	var emptyBlock bytes.Buffer
	if err := writeArmor(&emptyBlock, blockPublicKey, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		data      []byte
		malformed bool   // want ErrMalformed (else only a message check)
		why       string // in the message, where set
	}{
		{"empty", nil, true, ""},
		{"text", []byte("this is not a keyring\n"), true, ""},
		{"truncated-binary", realBin[:1000], true, ""},
		{"truncated-armor-no-end", realAsc[:ascEnd], true, "truncated armor: no -----END PGP PUBLIC KEY BLOCK----- line"},
		{"truncated-armor-half", realAsc[:len(realAsc)/2], true, ""},
		{"armor-checksum", swapBase64(realAsc, 200), true, ""},
		{"armor-not-base64", flip(realAsc, 200), true, ""},
		{"text-after-armor", append(bytes.Clone(realAsc), "trailing garbage\n"...), true, "text after the END line"},
		{"typeless-block-after-armor", append(bytes.Clone(realAsc), "-----BEGIN -----\n"...), true, "text after the END line"},
		{"no-key-in-block", emptyBlock.Bytes(), true, "no public key found"},
		{"signature-not-key", readKeyFile(t, "SHA256SUMS.gpg"), true, ""},
		{"binary-signature-not-key", readKeyFile(t, "gpg-fixture-payload.txt.sig"), true, ""},
		// Byte 100 lies in the RSA modulus of the first key (UEC): the key
		// parses but its self-signature no longer verifies. go-crypto's
		// ReadKeyRing would silently drop the key; we refuse the file.
		{"corrupt-key-material-uec", flip(realBin, 100), true, ""},
		// Byte 1800 lies in the modulus of the second key (Builder).
		{"corrupt-key-material-builder", flip(realBin, 1800), true, "key 2 is unusable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".keyring")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			k, err := LoadKeyrings(path)
			if err == nil {
				t.Fatalf("LoadKeyrings succeeded with %v", k.Fingerprints())
			}
			checkMessage(t, err, path)
			if tc.malformed && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %q does not say %q", err, tc.why)
			}
			if errors.Is(err, ErrVerification) {
				t.Errorf("keyring error %q wraps ErrVerification", err)
			}
		})
	}
	t.Run("missing-file", func(t *testing.T) {
		path := filepath.Join(dir, "nope.gpg")
		_, err := LoadKeyrings(keyPath("ubuntu-cloudimage-keyring.gpg"), path)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
		checkMessage(t, err, path)
	})
	t.Run("no-files", func(t *testing.T) {
		if _, err := LoadKeyrings(); err == nil {
			t.Error("LoadKeyrings() without files succeeded")
		}
	})
}

func TestParseKeyringSecretKeyBlock(t *testing.T) {
	// An armored secret key is accepted as a keyring; only its public part
	// is kept.
	k, err := ParseKeyring("secret.asc", readKeyFile(t, "gpg-fixture-secret.asc"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(k.Fingerprints(), []string{fprFixture}) {
		t.Errorf("Fingerprints() = %v", k.Fingerprints())
	}
	for _, e := range k.entities {
		if e.PrivateKey != nil {
			t.Error("keyring kept secret key material")
		}
		for _, sk := range e.Subkeys {
			if sk.PrivateKey != nil {
				t.Error("keyring kept secret subkey material")
			}
		}
	}
}

func TestZeroKeyring(t *testing.T) {
	var k *Keyring
	if k.Len() != 0 || len(k.Fingerprints()) != 0 {
		t.Error("nil keyring is not empty")
	}
	empty := &Keyring{}
	_, err := empty.VerifyDetached("SHA256SUMS", readKeyFile(t, "SHA256SUMS"), readKeyFile(t, "SHA256SUMS.gpg"), realOpts)
	checkVerifyErr(t, err, "SHA256SUMS", ErrUnknownSigner)
}

// realSignature returns the real SHA256SUMS file and Canonical's detached
// signature over it, armored and binary.
func realSignature(t *testing.T) (data, armored, binary []byte) {
	t.Helper()
	data = readKeyFile(t, "SHA256SUMS")
	armored = readKeyFile(t, "SHA256SUMS.gpg")
	blocks, err := decodeArmor(armored, false, blockSignature)
	if err != nil {
		t.Fatal(err)
	}
	return data, armored, blocks[0].Body
}

func TestRealDetachedSignature(t *testing.T) {
	data, armored, binary := realSignature(t)
	for _, keyring := range []string{"ubuntu-cloudimage-keyring.gpg", "ubuntu-cloudimage-keyring.asc"} {
		k := loadRealKeyring(t, keyring)
		for _, sig := range []struct {
			name string
			data []byte
		}{{"armored", armored}, {"binary", binary}} {
			t.Run(keyring+"/"+sig.name, func(t *testing.T) {
				s, err := k.VerifyDetached("SHA256SUMS", data, sig.data, realOpts)
				if err != nil {
					t.Fatal(err)
				}
				want := Signer{
					Fingerprint: fprUEC,
					KeyID:       "1A5D6C4C7DB87C81",
					UserID:      "UEC Image Automatic Signing Key <cdimage@ubuntu.com>",
					Created:     realSigTime,
				}
				if s.Fingerprint != want.Fingerprint || s.KeyID != want.KeyID || s.UserID != want.UserID || !s.Created.Equal(want.Created) {
					t.Errorf("signer = %+v, want %+v", *s, want)
				}
			})
		}
	}
	t.Run("default-clock", func(t *testing.T) {
		if time.Now().Before(realSigTime) {
			t.Skip("machine clock is before the signature date")
		}
		k := loadRealKeyring(t, "ubuntu-cloudimage-keyring.gpg")
		if _, err := k.VerifyDetached("SHA256SUMS", data, armored, Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("clock-before-signature", func(t *testing.T) {
		// go-crypto treats a signature made after "now" as expired.
		k := loadRealKeyring(t, "ubuntu-cloudimage-keyring.gpg")
		before := Options{Now: func() time.Time { return realSigTime.Add(-time.Hour) }}
		_, err := k.VerifyDetached("SHA256SUMS", data, armored, before)
		checkVerifyErr(t, err, "SHA256SUMS", ErrSignatureExpired)
	})
}

func TestRealDetachedSignatureTampered(t *testing.T) {
	data, armored, binary := realSignature(t)
	// Offsets into the binary signature packet (see gpg --list-packets):
	// 3 bytes of packet header, then version, type, algorithms, hashed
	// subpackets (issuer fingerprint, creation time at 34..37), unhashed
	// subpackets (issuer key ID at 42..49), 2 bytes of digest prefix at
	// 50..51, and the RSA signature MPI up to the end.
	k := loadRealKeyring(t, "ubuntu-cloudimage-keyring.gpg")
	tests := []struct {
		name string
		data []byte
		sig  []byte
		want error
	}{
		{"data-first-byte", flip(data, 0), armored, ErrBadSignature},
		{"data-middle-byte", flip(data, len(data)/2), armored, ErrBadSignature},
		{"data-last-byte", flip(data, len(data)-1), armored, ErrBadSignature},
		{"data-appended", append(bytes.Clone(data), '\n'), armored, ErrBadSignature},
		{"sig-creation-time", data, flip(binary, 36), ErrBadSignature},
		{"sig-rsa-mpi", data, flip(binary, len(binary)-10), ErrBadSignature},
		{"sig-issuer-key-id", data, flip(binary, 45), ErrUnknownSigner},
		{"sig-digest-prefix", data, flip(binary, 50), ErrBadSignature},
		{"sig-truncated", data, binary[:len(binary)-20], ErrMalformed},
		{"sig-hash-md5", data, setByte(binary, 6, 1), ErrWeakDigest},
		{"sig-hash-ripemd160", data, setByte(binary, 6, 3), ErrWeakDigest},
		{"sig-hash-sha1", data, setByte(binary, 6, 2), ErrBadSignature},
		{"sig-version-3", data, setByte(binary, 3, 3), ErrMalformed},
		{"sig-type-key-binding", data, setByte(binary, 4, 0x18), ErrMalformed},
		{"sig-pubkey-algo-unknown", data, setByte(binary, 5, 99), ErrMalformed},
		{"sig-armor-base64", data, swapBase64(armored, 100), ErrMalformed}, // CRC-24 catches it
		{"sig-armor-not-base64", data, flip(armored, 100), ErrMalformed},
		{"sig-armor-no-end", data, armored[:bytes.Index(armored, []byte("-----END"))], ErrMalformed},
		{"sig-empty", data, nil, ErrMalformed},
		{"sig-garbage", data, []byte("not a signature"), ErrMalformed},
		{"sig-text-after", data, append(bytes.Clone(armored), "more\n"...), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := k.VerifyDetached("SHA256SUMS", tc.data, tc.sig, realOpts)
			if err == nil {
				t.Fatalf("verified, signer %+v", s)
			}
			checkVerifyErr(t, err, "SHA256SUMS", tc.want)
		})
	}
	// Corrupting the keyring instead: the file no longer loads (see
	// TestLoadKeyringErrors); a keyring without the signing key reports an
	// unknown signer.
	t.Run("keyring-without-signer", func(t *testing.T) {
		only := &Keyring{}
		for _, e := range k.entities {
			if fingerprint(e.PrimaryKey) == fprBuilder {
				only.entities = append(only.entities, e)
			}
		}
		_, err := only.VerifyDetached("SHA256SUMS", data, armored, realOpts)
		checkVerifyErr(t, err, "SHA256SUMS", ErrUnknownSigner)
		if !strings.Contains(err.Error(), "1A5D6C4C7DB87C81") {
			t.Errorf("error %q does not name the issuer key", err)
		}
	})
}

// TestArmorNotAtStart: armor that does not start with a BEGIN line is
// named as such, not as text after a block.
func TestArmorNotAtStart(t *testing.T) {
	for _, data := range []string{"-----BEGIN -----\n", "hello\n"} {
		_, err := decodeArmor([]byte(data), true, blockPublicKey)
		if err == nil || err.Error() != "no -----BEGIN PGP PUBLIC KEY BLOCK----- line at the start" {
			t.Errorf("decodeArmor(%q) = %v", data, err)
		}
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("x", 60)
	for _, tc := range []struct{ in, want string }{
		{"", ""}, {long, long}, {long + "y", long + "..."},
	} {
		if got := truncate([]byte(tc.in), 60); got != tc.want {
			t.Errorf("truncate(%d bytes) = %q, want %q", len(tc.in), got, tc.want)
		}
	}
}

// TestUnsupportedKeySkipped: a key of an algorithm go-crypto does not
// know, with its user ID, is skipped (as gpg does) and the other keys of
// the file load; a file of such keys only is refused, saying why.
func TestUnsupportedKeySkipped(t *testing.T) {
	good := newKey(t, "Known")
	// A key packet (algorithm 99) and two user IDs.
	unknown := []byte("\xc6\x06\x04\x00\x00\x00\x00\x63" + "\xcd\x07unknown" + "\xcd\x05other")
	for _, data := range [][]byte{append(bytes.Clone(unknown), good.PublicKeyring()...), append(good.PublicKeyring(), unknown...)} {
		k, err := ParseKeyring("mixed.gpg", data)
		if err != nil {
			t.Fatal(err)
		}
		if fps := k.Fingerprints(); len(fps) != 1 || fps[0] != good.Fingerprint() {
			t.Errorf("keys %v, want only %s", fps, good.Fingerprint())
		}
	}
	_, err := ParseKeyring("unknown.gpg", unknown)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "no usable key (") {
		t.Errorf("a keyring of an unknown key only: %v, want ErrMalformed saying no usable key", err)
	}
}

// TestReason: a verification error's reason is its message without the
// file name; any other error is given whole.
func TestReason(t *testing.T) {
	err := verr("streams/v1/index.sjson", ErrBadSignature, errors.New("hash mismatch"), "")
	if got, want := Reason(err), ErrBadSignature.Error()+": hash mismatch"; got != want || err.Error() != "streams/v1/index.sjson: "+want {
		t.Errorf("Reason = %q, Error = %q; want %q", got, err.Error(), want)
	}
	if got := Reason(fmt.Errorf("wrapped: %w", err)); got != ErrBadSignature.Error()+": hash mismatch" {
		t.Errorf("Reason of a wrapped error = %q", got)
	}
	if got := Reason(errors.New("x.sjson: other")); got != "x.sjson: other" {
		t.Errorf("Reason of another error = %q", got)
	}
}
