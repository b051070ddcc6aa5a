package gpg

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// t0 is the creation time of generated test keys; signatures are made at
// t0+1m and verified at t0+1h unless a test says otherwise.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }

func optsAt(d time.Duration) Options { return Options{Now: at(d)} }

var defaultOpts = optsAt(time.Hour)

// fixtureOpts verifies the gpg-made fixtures (made 2026-11-26, no expiry)
// at a fixed later time.
var fixtureOpts = Options{Now: func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) }}

// newKey generates a test key created at t0 that signs at t0+1m.
func newKey(t testing.TB, name string) *SigningKey {
	t.Helper()
	return newKeyLifetime(t, name, 0)
}

func newKeyLifetime(t testing.TB, name string, lifetime time.Duration) *SigningKey {
	t.Helper()
	s, err := generateKey(name, strings.ToLower(name)+"@example.invalid", t0, lifetime)
	if err != nil {
		t.Fatal(err)
	}
	s.now = at(time.Minute)
	return s
}

// addSigningSubkey adds an Ed25519 signing subkey created at t0+created.
func addSigningSubkey(t testing.TB, s *SigningKey, created, lifetime time.Duration) *packet.PublicKey {
	t.Helper()
	cfg := &packet.Config{
		Algorithm:       packet.PubKeyAlgoEdDSA,
		Curve:           packet.Curve25519,
		DefaultHash:     crypto.SHA512,
		Time:            at(created),
		KeyLifetimeSecs: uint32(lifetime / time.Second),
	}
	if err := s.entity.AddSigningSubkey(cfg); err != nil {
		t.Fatal(err)
	}
	return s.entity.Subkeys[len(s.entity.Subkeys)-1].PublicKey
}

func clearSign(t testing.TB, s *SigningKey, payload string) []byte {
	t.Helper()
	out, err := s.ClearSign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func detachSign(t testing.TB, s *SigningKey, data []byte) []byte {
	t.Helper()
	out, err := s.DetachSign(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// armored wraps a binary signature packet in armor.
func armored(t testing.TB, sig []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writeArmor(&b, blockSignature, sig); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func dearmor(t testing.TB, sig []byte) []byte {
	t.Helper()
	blocks, err := decodeArmor(sig, false, blockSignature)
	if err != nil {
		t.Fatal(err)
	}
	return blocks[0].Body
}

func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }

func TestClearsignRoundTrip(t *testing.T) {
	s := newKey(t, "Roundtrip")
	k := s.Keyring()
	tests := []struct {
		name, payload, want string
	}{
		{"json-one-line", `{"format": "index:1.0"}`, `{"format": "index:1.0"}`},
		{"json-indented-final-newline", "{\n  \"format\": \"index:1.0\",\n  \"index\": {}\n}\n", "{\n  \"format\": \"index:1.0\",\n  \"index\": {}\n}\n"},
		{"empty", "", ""},
		{"only-newline", "\n", "\n"},
		{"blank-lines", "\n\na\n\n", "\n\na\n\n"},
		{"dash-lines", "-----BEGIN PGP SIGNATURE-----\n- x\n-\n--\n-----END PGP SIGNATURE-----\n-----BEGIN PGP SIGNED MESSAGE-----\nend", "-----BEGIN PGP SIGNATURE-----\n- x\n-\n--\n-----END PGP SIGNATURE-----\n-----BEGIN PGP SIGNED MESSAGE-----\nend"},
		{"dash-first-and-last", "-first\nmiddle\n-last", "-first\nmiddle\n-last"},
		{"from-line", "From someone\nHash: SHA1\n", "From someone\nHash: SHA1\n"},
		{"unicode", "ünïcödé\n€ ✓", "ünïcödé\n€ ✓"},
		{"cr-inside-line", "a\rb\n", "a\rb\n"},
		{"crlf-payload", "a\r\nb\r\n", "a\nb\n"},
		{"cr-at-end", "a\r\r\nb\r", "a\nb"},
		{"trailing-blanks-dropped", "a  \nb\t\n  c \t\r \t", "a\nb\n  c"},
		{"long-line", strings.Repeat("x", 20000), strings.Repeat("x", 20000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := clearSign(t, s, tc.payload)
			if !bytes.HasPrefix(out, []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n")) {
				t.Errorf("unexpected header:\n%s", out)
			}
			for _, line := range strings.Split(tc.payload, "\n") {
				if strings.HasPrefix(line, "-") && !bytes.Contains(out, []byte("\n- "+strings.TrimRight(line, " \t")+"\n")) {
					t.Errorf("line %q not dash-escaped in\n%s", line, out)
				}
			}
			got, signer, err := k.VerifyClearsigned("index.sjson", out, defaultOpts)
			if err != nil {
				t.Fatalf("VerifyClearsigned: %v\n%s", err, out)
			}
			if string(got) != tc.want {
				t.Errorf("payload = %q, want %q", got, tc.want)
			}
			if signer.Fingerprint != s.Fingerprint() || !strings.HasSuffix(s.Fingerprint(), signer.KeyID) {
				t.Errorf("signer = %+v, want key %s", signer, s.Fingerprint())
			}
			if signer.UserID != "Roundtrip <roundtrip@example.invalid>" {
				t.Errorf("signer user ID = %q", signer.UserID)
			}
			if !signer.Created.Equal(t0.Add(time.Minute)) {
				t.Errorf("signer created = %v, want %v", signer.Created, t0.Add(time.Minute))
			}
			ext, err := ExtractClearsigned("index.sjson", out)
			if err != nil || string(ext) != tc.want {
				t.Errorf("ExtractClearsigned = %q, %v; want %q", ext, err, tc.want)
			}
		})
	}
}

func TestClearsignedTampered(t *testing.T) {
	s := newKey(t, "Tamper")
	k := s.Keyring()
	base := string(clearSign(t, s, "{\n  \"a\": 1,\n  \"b\": \"x\"\n}\n-dash\n"))
	tests := []struct {
		name string
		edit func(string) string
		want error // nil: the edit is not covered by the signature
	}{
		{"value-changed", func(m string) string { return strings.Replace(m, `"a": 1`, `"a": 2`, 1) }, ErrBadSignature},
		{"line-inserted", func(m string) string { return strings.Replace(m, "SHA512\n\n", "SHA512\n\n{}\n", 1) }, ErrBadSignature},
		{"line-removed", func(m string) string { return strings.Replace(m, "  \"b\": \"x\"\n", "", 1) }, ErrBadSignature},
		{"dash-escape-removed", func(m string) string { return strings.Replace(m, "- -dash", "- dash", 1) }, ErrBadSignature},
		{"final-newline-removed", func(m string) string { return strings.Replace(m, "-dash\n\n", "-dash\n", 1) }, ErrBadSignature},
		{"hash-header-mismatch", func(m string) string { return strings.Replace(m, "Hash: SHA512", "Hash: SHA256", 1) }, ErrBadSignature},
		{"signature-from-other-message", func(m string) string {
			other := string(clearSign(t, s, "something else"))
			return m[:strings.Index(m, "-----BEGIN PGP SIGNATURE")] + other[strings.Index(other, "-----BEGIN PGP SIGNATURE"):]
		}, ErrBadSignature},
		// Not covered by a cleartext signature (RFC 4880 7.1): trailing
		// blanks, line-ending style, blanks around the message.
		{"trailing-blanks-added", func(m string) string { return strings.Replace(m, `"a": 1,`, "\"a\": 1,  \t", 1) }, nil},
		{"hash-header-removed", func(m string) string { return strings.Replace(m, "Hash: SHA512\n", "", 1) }, nil},
		{"surrounding-whitespace", func(m string) string { return "\n \n" + m + "\n\n  \n" }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := []byte(tc.edit(base))
			if string(msg) == base {
				t.Fatal("edit changed nothing")
			}
			payload, _, err := k.VerifyClearsigned("index.sjson", msg, defaultOpts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if want := "{\n  \"a\": 1,\n  \"b\": \"x\"\n}\n-dash\n"; string(payload) != want {
					t.Errorf("payload = %q, want %q", payload, want)
				}
				return
			}
			checkVerifyErr(t, err, "index.sjson", tc.want)
			if payload != nil {
				t.Error("payload returned with an error")
			}
		})
	}
}

func TestClearsignedMalformed(t *testing.T) {
	s := newKey(t, "Malformed")
	k := s.Keyring()
	base := string(clearSign(t, s, "{\n  \"a\": 1\n}\n"))
	sigAt := strings.Index(base, "-----BEGIN PGP SIGNATURE-----")
	endAt := strings.Index(base, "-----END PGP SIGNATURE-----")
	otherKey := newKey(t, "Other")
	// A v4 public key packet of an algorithm go-crypto does not know.
	unknownKey := "\xc6\x06\x04\x00\x00\x00\x00\x63"
	tests := []struct {
		name string
		msg  string
		why  string // in the message, where set
	}{
		{"empty", "", ""},
		{"plain-json", "{\"format\": \"index:1.0\"}\n", ""},
		{"garbage", "\x00\x01\x02\xff garbage \x89\x02", ""},
		{"text-before", "unsigned text\n" + base, ""},
		{"text-after", base + "unsigned text\n", ""},
		{"text-after-same-line", strings.TrimSuffix(base, "\n") + " x\n", ""},
		{"second-message-after", base + base, ""},
		{"truncated-in-payload", base[:40], ""},
		{"truncated-before-signature", base[:sigAt], "missing signature: no -----BEGIN PGP SIGNATURE----- line"},
		{"truncated-after-begin-signature", base[:sigAt+len("-----BEGIN PGP SIGNATURE-----\n")], ""},
		{"truncated-in-armor", base[:sigAt+60], ""},
		{"truncated-before-end", base[:endAt], ""},
		{"armor-checksum-mismatch", string(swapBase64([]byte(base), sigAt+40)), ""},
		{"armor-not-base64", base[:sigAt+40] + "!" + base[sigAt+41:], ""},
		{"empty-signature-block", base[:sigAt] + "-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n", ""},
		{"key-instead-of-signature", base[:sigAt] + strings.ReplaceAll(string(otherKey.ArmoredPublicKeyring()), "PUBLIC KEY BLOCK", "SIGNATURE"), "unexpected"},
		{"unknown-key-instead-of-signature", base[:sigAt] + string(armored(t, []byte(unknownKey))), "unexpected"},
		{"comment-header", strings.Replace(base, "Hash: SHA512\n", "Hash: SHA512\nComment: hi\n", 1), ""},
		{"no-blank-line-after-header", strings.Replace(base, "Hash: SHA512\n\n", "Hash: SHA512\n", 1), ""},
		{"unknown-hash-header", strings.Replace(base, "Hash: SHA512", "Hash: FOO", 1), ""},
		{"end-line-with-suffix", strings.Replace(base, "-----END PGP SIGNATURE-----", "-----END PGP SIGNATURE-----xyz\nhidden\n-----END PGP SIGNATURE-----", 1), ""},
		{"text-after-checksum", strings.Replace(base, "\n-----END PGP SIGNATURE-----", "\nhidden\n-----END PGP SIGNATURE-----", 1), ""},
		{"indented-end-line-first", strings.Replace(base, "\n-----END PGP SIGNATURE-----", "\n  -----END PGP SIGNATURE-----\nhidden\n-----END PGP SIGNATURE-----", 1), ""},
		{"end-line-wrong-type", strings.Replace(base, "-----END PGP SIGNATURE-----", "-----END PGP MESSAGE-----", 1), ""},
		{"header-with-suffix", strings.Replace(base, "MESSAGE-----\n", "MESSAGE----- x\n", 1), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ExtractClearsigned("index.sjson", []byte(tc.msg))
			checkVerifyErr(t, err, "index.sjson", ErrMalformed)
			_, _, err = k.VerifyClearsigned("index.sjson", []byte(tc.msg), defaultOpts)
			checkVerifyErr(t, err, "index.sjson", ErrMalformed)
			if err != nil && !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %q does not say %q", err, tc.why)
			}
		})
	}
}

func TestClearsignedCRLF(t *testing.T) {
	s := newKey(t, "CRLF")
	k := s.Keyring()
	payload := "{\n  \"a\": \"-x\"\n}\n-dash\n\nend"
	out := clearSign(t, s, payload)
	gpgMsg := readKeyFile(t, "gpg-fixture-clearsigned.sjson")
	gpgKeys, err := ParseKeyring("gpg-fixture-public.asc", readKeyFile(t, "gpg-fixture-public.asc"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		k    *Keyring
		msg  []byte
		want string
	}{
		{"ours-lf", k, out, payload},
		{"ours-crlf", k, crlf(out), payload},
		{"gpg-lf", gpgKeys, gpgMsg, gpgFixturePayload(t)},
		{"gpg-crlf", gpgKeys, crlf(gpgMsg), gpgFixturePayload(t)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := defaultOpts
			if tc.k == gpgKeys {
				opts = fixtureOpts
			}
			got, _, err := tc.k.VerifyClearsigned("x.sjson", tc.msg, opts)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("payload = %q, want %q", got, tc.want)
			}
			if bytes.Contains(got, []byte("\r")) {
				t.Error("payload kept CR line endings")
			}
			ext, err := ExtractClearsigned("x.sjson", tc.msg)
			if err != nil || string(ext) != tc.want {
				t.Errorf("ExtractClearsigned = %q, %v", ext, err)
			}
			// Tampering is still detected in CRLF form.
			bad := bytes.Replace(tc.msg, []byte("{"), []byte("["), 1)
			_, _, err = tc.k.VerifyClearsigned("x.sjson", bad, opts)
			checkVerifyErr(t, err, "x.sjson", ErrBadSignature)
		})
	}
}

// gpgFixturePayload is what the gpg-made clearsigned fixture must yield: the
// payload file with trailing blanks removed and without the final newline
// (gpg --clearsign does not sign the line break before the signature).
func gpgFixturePayload(t testing.TB) string {
	raw := string(readKeyFile(t, "gpg-fixture-payload.txt"))
	lines := strings.Split(strings.TrimSuffix(raw, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

func TestGPGMadeSignatures(t *testing.T) {
	// Signatures made by GnuPG 2.2 with a signing subkey; the payload has
	// dash-escaped lines (including a fake BEGIN PGP SIGNATURE line).
	k, err := LoadKeyrings(keyPath("gpg-fixture-public.asc"))
	if err != nil {
		t.Fatal(err)
	}
	opts := fixtureOpts
	checkSigner := func(t *testing.T, s *Signer) {
		t.Helper()
		if s.Fingerprint != fprFixture || s.KeyID != fixtureSubkeyID || s.UserID != "SSMirror gpg fixture <gpg-fixture@example.invalid>" {
			t.Errorf("signer = %+v", s)
		}
	}
	t.Run("clearsigned-sha512", func(t *testing.T) {
		payload, s, err := k.VerifyClearsigned("fixture.sjson", readKeyFile(t, "gpg-fixture-clearsigned.sjson"), opts)
		if err != nil {
			t.Fatal(err)
		}
		checkSigner(t, s)
		if want := gpgFixturePayload(t); string(payload) != want {
			t.Errorf("payload = %q, want %q", payload, want)
		}
		if !strings.Contains(string(payload), "\n-----BEGIN PGP SIGNATURE-----\n- a line") {
			t.Error("dash-escaping not undone")
		}
	})
	t.Run("clearsigned-sha1", func(t *testing.T) {
		msg := readKeyFile(t, "gpg-fixture-clearsigned-sha1.sjson")
		_, _, err := k.VerifyClearsigned("old.sjson", msg, opts)
		checkVerifyErr(t, err, "old.sjson", ErrWeakDigest)
		payload, s, err := k.VerifyClearsigned("old.sjson", msg, Options{AllowSHA1: true})
		if err != nil {
			t.Fatal(err)
		}
		checkSigner(t, s)
		if want := gpgFixturePayload(t); string(payload) != want {
			t.Errorf("payload = %q, want %q", payload, want)
		}
	})
	t.Run("clearsigned-trailing-cr", func(t *testing.T) {
		// Made by gpg --clearsign from "a\r\r\nb \r\t\r\nc\r\n": gpg strips
		// trailing blanks including CR before hashing; go-crypto alone
		// would keep one CR and report a bad signature.
		msg := readKeyFile(t, "gpg-fixture-clearsigned-cr.sjson")
		if !bytes.Contains(msg, []byte("a\r\r\n")) {
			t.Fatal("fixture lost its carriage returns")
		}
		payload, s, err := k.VerifyClearsigned("cr.sjson", msg, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkSigner(t, s)
		if string(payload) != "a\nb\nc" {
			t.Errorf("payload = %q, want %q", payload, "a\nb\nc")
		}
	})
	t.Run("detached-binary", func(t *testing.T) {
		data := readKeyFile(t, "gpg-fixture-payload.txt")
		sig := readKeyFile(t, "gpg-fixture-payload.txt.sig")
		s, err := k.VerifyDetached("payload.txt", data, sig, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkSigner(t, s)
		_, err = k.VerifyDetached("payload.txt", flip(data, 3), sig, opts)
		checkVerifyErr(t, err, "payload.txt", ErrBadSignature)
		// The same signature armored.
		if _, err := k.VerifyDetached("payload.txt", data, armored(t, sig), opts); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("not-in-ubuntu-keyring", func(t *testing.T) {
		u := loadRealKeyring(t, "ubuntu-cloudimage-keyring.gpg")
		_, _, err := u.VerifyClearsigned("fixture.sjson", readKeyFile(t, "gpg-fixture-clearsigned.sjson"), opts)
		checkVerifyErr(t, err, "fixture.sjson", ErrUnknownSigner)
		if !strings.Contains(err.Error(), fixtureSubkeyID) {
			t.Errorf("error %q does not name the issuer", err)
		}
	})
}

func TestUnknownSigner(t *testing.T) {
	a, b := newKey(t, "Alice"), newKey(t, "Bob")
	msg := clearSign(t, a, `{"a": 1}`)
	sig := detachSign(t, a, []byte("data"))
	for _, kc := range []struct {
		name string
		k    *Keyring
	}{
		{"other-key", b.Keyring()},
		{"ubuntu-keyring", loadRealKeyring(t, "ubuntu-cloudimage-keyring.asc")},
		{"empty-keyring", &Keyring{}},
		{"nil-keyring", nil},
	} {
		t.Run(kc.name, func(t *testing.T) {
			_, _, err := kc.k.VerifyClearsigned("index.sjson", msg, defaultOpts)
			checkVerifyErr(t, err, "index.sjson", ErrUnknownSigner)
			if empty := kc.k.Len() == 0; err != nil && strings.Contains(err.Error(), "(the keyring is empty)") != empty {
				t.Errorf("error %q, want it to say the keyring is empty only when it is (%v)", err, empty)
			}
			_, err = kc.k.VerifyDetached("index.json", []byte("data"), sig, defaultOpts)
			checkVerifyErr(t, err, "index.json", ErrUnknownSigner)
		})
	}
}

func TestExpiredKey(t *testing.T) {
	s := newKeyLifetime(t, "Expiring", time.Hour) // valid t0 .. t0+1h
	k := s.Keyring()
	msg := clearSign(t, s, "{}")
	sig := detachSign(t, s, []byte("data"))
	signer := `"Expiring <expiring@example.invalid>"` // the user ID, quoted
	tests := []struct {
		name string
		now  time.Duration
		want error    // nil = valid
		says []string // in the message
	}{
		{"while-valid", 30 * time.Minute, nil, nil},
		{"after-expiry", 2 * time.Hour, ErrKeyExpired, []string{"key " + s.Fingerprint() + " " + signer}},
		{"long-after-expiry", 1000 * time.Hour, ErrKeyExpired, nil},
		{"before-signature", 30 * time.Second, ErrSignatureExpired, []string{"after the current time", "(clock skew?)", signer}},
		{"before-key-creation", -time.Hour, ErrKeyExpired, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := k.VerifyClearsigned("index.sjson", msg, optsAt(tc.now))
			_, derr := k.VerifyDetached("index.json", []byte("data"), sig, optsAt(tc.now))
			if tc.want == nil {
				if err != nil || derr != nil {
					t.Fatalf("errors %v, %v", err, derr)
				}
				return
			}
			checkVerifyErr(t, err, "index.sjson", tc.want)
			checkVerifyErr(t, derr, "index.json", tc.want)
			for _, w := range tc.says {
				if !strings.Contains(err.Error(), w) || !strings.Contains(derr.Error(), w) {
					t.Errorf("errors %q, %q do not say %s", err, derr, w)
				}
			}
		})
	}
	t.Run("cannot-sign-after-expiry", func(t *testing.T) {
		s.now = at(2 * time.Hour)
		defer func() { s.now = at(time.Minute) }()
		if _, err := s.ClearSign([]byte("{}")); err == nil {
			t.Error("ClearSign with an expired key succeeded")
		}
	})
	t.Run("expired-subkey", func(t *testing.T) {
		p := newKey(t, "Subexpiry")
		addSigningSubkey(t, p, 30*time.Second, 10*time.Minute)
		msg := clearSign(t, p, "{}")
		if _, _, err := p.Keyring().VerifyClearsigned("index.sjson", msg, optsAt(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		_, _, err := p.Keyring().VerifyClearsigned("index.sjson", msg, optsAt(time.Hour))
		checkVerifyErr(t, err, "index.sjson", ErrKeyExpired)
		if sub := "(subkey " + keyID(p.entity.Subkeys[len(p.entity.Subkeys)-1].PublicKey.KeyId) + ")"; !strings.Contains(err.Error(), sub) {
			t.Errorf("error %q does not name the %s", err, sub)
		}
	})
}

func TestRevokedKey(t *testing.T) {
	revokeAt := &packet.Config{Time: at(2 * time.Minute)}
	t.Run("primary", func(t *testing.T) {
		s := newKey(t, "Revoked")
		before := s.Keyring()
		msg := clearSign(t, s, "{}")
		sig := detachSign(t, s, []byte("data"))
		if err := s.entity.RevokeKey(packet.KeyRetired, "retired", revokeAt); err != nil {
			t.Fatal(err)
		}
		k := s.Keyring()
		_, _, err := k.VerifyClearsigned("index.sjson", msg, defaultOpts)
		checkVerifyErr(t, err, "index.sjson", ErrKeyRevoked)
		if !errors.Is(err, pgperrors.ErrKeyRevoked) {
			t.Errorf("error %q does not wrap go-crypto's cause", err)
		}
		_, err = k.VerifyDetached("index.json", []byte("data"), sig, defaultOpts)
		checkVerifyErr(t, err, "index.json", ErrKeyRevoked)
		// A retirement only counts from its creation time on.
		if _, _, err := k.VerifyClearsigned("index.sjson", msg, optsAt(90*time.Second)); err != nil {
			t.Errorf("before the revocation date: %v", err)
		}
		// Merging an old copy of the key with the revoked one keeps the
		// revocation, whichever order the keyrings come in.
		for _, order := range [][2]*Keyring{{before, k}, {k, before}} {
			m := &Keyring{}
			m.Add(order[0])
			m.Add(order[1])
			if m.Len() != 1 {
				t.Fatalf("merged Len() = %d", m.Len())
			}
			_, _, err := m.VerifyClearsigned("index.sjson", msg, defaultOpts)
			checkVerifyErr(t, err, "index.sjson", ErrKeyRevoked)
		}
	})
	t.Run("compromised-backdates", func(t *testing.T) {
		s := newKey(t, "Compromised")
		msg := clearSign(t, s, "{}")
		if err := s.entity.RevokeKey(packet.KeyCompromised, "leaked", revokeAt); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.Keyring().VerifyClearsigned("index.sjson", msg, optsAt(90*time.Second))
		checkVerifyErr(t, err, "index.sjson", ErrKeyRevoked)
	})
	t.Run("signing-subkey", func(t *testing.T) {
		s := newKey(t, "Subrevoked")
		addSigningSubkey(t, s, 30*time.Second, 0)
		msg := clearSign(t, s, "{}")
		sub := &s.entity.Subkeys[len(s.entity.Subkeys)-1]
		if err := s.entity.RevokeSubkey(sub, packet.KeyRetired, "", revokeAt); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.Keyring().VerifyClearsigned("index.sjson", msg, defaultOpts)
		checkVerifyErr(t, err, "index.sjson", ErrKeyRevoked)
	})
}

func TestSigningSubkey(t *testing.T) {
	s := newKey(t, "Subkey")
	sub := addSigningSubkey(t, s, 30*time.Second, 0)
	k := s.Keyring()
	msg := clearSign(t, s, "{\"a\": 1}\n")
	payload, signer, err := k.VerifyClearsigned("index.sjson", msg, defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	if string(payload) != "{\"a\": 1}\n" {
		t.Errorf("payload = %q", payload)
	}
	wantID := keyID(sub.KeyId)
	if signer.Fingerprint != s.Fingerprint() || signer.KeyID != wantID || strings.HasSuffix(s.Fingerprint(), wantID) {
		t.Errorf("signer = %+v, want primary %s and subkey %s", signer, s.Fingerprint(), wantID)
	}
	ds, err := k.VerifyDetached("index.json", []byte("data"), detachSign(t, s, []byte("data")), defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	if ds.KeyID != wantID {
		t.Errorf("detached signer = %+v, want subkey %s", ds, wantID)
	}
}

// signWithPrimary signs data with the primary key of s, bypassing the
// choice of signing key.
func signWithPrimary(t testing.TB, s *SigningKey, data []byte) []byte {
	t.Helper()
	sig := &packet.Signature{
		Version:      4,
		SigType:      packet.SigTypeBinary,
		PubKeyAlgo:   s.entity.PrimaryKey.PubKeyAlgo,
		Hash:         crypto.SHA512,
		CreationTime: t0.Add(time.Minute),
		IssuerKeyId:  &s.entity.PrimaryKey.KeyId,
	}
	h, err := sig.PrepareSign(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(data)
	if err := sig.Sign(h, s.entity.PrivateKey, nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := sig.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCertifyOnlyPrimaryCannotSign(t *testing.T) {
	// The gpg fixture's primary key is certify-only ([C]); only its
	// subkey may sign data. A signature by the primary key is refused.
	s, err := LoadSigningKey(keyPath("gpg-fixture-secret.asc"), []byte(fixturePassphrase))
	if err != nil {
		t.Fatal(err)
	}
	sig := signWithPrimary(t, s, []byte("data"))
	k, err := LoadKeyrings(keyPath("gpg-fixture-public.asc"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.VerifyDetached("index.json", []byte("data"), sig, fixtureOpts)
	checkVerifyErr(t, err, "index.json", ErrUnknownSigner)
	// While a generated key's primary (certify+sign) may.
	g := newKey(t, "Primary")
	if _, err := g.Keyring().VerifyDetached("index.json", []byte("data"), signWithPrimary(t, g, []byte("data")), defaultOpts); err != nil {
		t.Error(err)
	}
}

func TestPrimaryKeyWithoutKeyFlags(t *testing.T) {
	// Old keys carry no key-flags subpacket; gpg lets their primary key
	// sign, go-crypto's v1 keyring does not. We follow gpg.
	s := newKey(t, "Flagless")
	for _, id := range s.entity.Identities {
		id.SelfSignature.FlagsValid = false
		id.SelfSignature.FlagSign, id.SelfSignature.FlagCertify = false, false
		if err := id.SelfSignature.SignUserId(id.UserId.Id, s.entity.PrimaryKey, s.entity.PrivateKey, &packet.Config{Time: at(0)}); err != nil {
			t.Fatal(err)
		}
	}
	k := s.Keyring()
	self, _ := k.entities[0].PrimarySelfSignature()
	if self.FlagsValid {
		t.Fatal("key flags still present after re-signing")
	}
	signer, err := k.VerifyDetached("index.json", []byte("data"), signWithPrimary(t, s, []byte("data")), defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	if signer.Fingerprint != s.Fingerprint() {
		t.Errorf("signer %+v", signer)
	}
}

func TestSHA1Digest(t *testing.T) {
	s := newKey(t, "Legacy")
	k := s.Keyring()
	msg, err := s.clearSign([]byte("{\"old\": true}"), crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(msg, []byte("Hash: SHA1\n")) {
		t.Fatalf("no SHA1 header:\n%s", msg)
	}
	bin, err := s.sign([]byte("data"), packet.SigTypeBinary, crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("refused-by-default", func(t *testing.T) {
		_, _, err := k.VerifyClearsigned("old.sjson", msg, defaultOpts)
		checkVerifyErr(t, err, "old.sjson", ErrWeakDigest)
		_, err = k.VerifyDetached("old.json", []byte("data"), bin, defaultOpts)
		checkVerifyErr(t, err, "old.json", ErrWeakDigest)
	})
	t.Run("accepted-with-AllowSHA1", func(t *testing.T) {
		opts := defaultOpts
		opts.AllowSHA1 = true
		payload, signer, err := k.VerifyClearsigned("old.sjson", msg, opts)
		if err != nil || string(payload) != `{"old": true}` || signer.Fingerprint != s.Fingerprint() {
			t.Errorf("VerifyClearsigned = %q, %+v, %v", payload, signer, err)
		}
		if _, err := k.VerifyDetached("old.json", []byte("data"), armored(t, bin), opts); err != nil {
			t.Error(err)
		}
		// AllowSHA1 does not make a bad signature good.
		_, err = k.VerifyDetached("old.json", []byte("Data"), bin, opts)
		checkVerifyErr(t, err, "old.json", ErrBadSignature)
	})
}

func TestSeveralKeyrings(t *testing.T) {
	dir := t.TempDir()
	a, b := newKey(t, "Alpha"), newKey(t, "Beta")
	aPath := filepath.Join(dir, "alpha.gpg")
	bPath := filepath.Join(dir, "beta.asc")
	if err := os.WriteFile(aPath, a.PublicKeyring(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bPath, b.ArmoredPublicKeyring(), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeyrings(aPath, keyPath("ubuntu-cloudimage-keyring.gpg"), bPath)
	if err != nil {
		t.Fatal(err)
	}
	if k.Len() != 4 {
		t.Fatalf("Len() = %d, want 4 (%v)", k.Len(), k.Fingerprints())
	}
	for _, s := range []*SigningKey{a, b} {
		t.Run(s.Fingerprint(), func(t *testing.T) {
			_, signer, err := k.VerifyClearsigned("index.sjson", clearSign(t, s, "{}"), defaultOpts)
			if err != nil {
				t.Fatal(err)
			}
			if signer.Fingerprint != s.Fingerprint() {
				t.Errorf("signer %s, want %s", signer.Fingerprint, s.Fingerprint())
			}
			ds, err := k.VerifyDetached("index.json", []byte("x"), detachSign(t, s, []byte("x")), defaultOpts)
			if err != nil || ds.Fingerprint != s.Fingerprint() {
				t.Errorf("VerifyDetached = %+v, %v", ds, err)
			}
		})
	}
	t.Run("real-signature", func(t *testing.T) {
		s, err := k.VerifyDetached("SHA256SUMS", readKeyFile(t, "SHA256SUMS"), readKeyFile(t, "SHA256SUMS.gpg"), realOpts)
		if err != nil || s.Fingerprint != fprUEC {
			t.Errorf("VerifyDetached = %+v, %v", s, err)
		}
	})
	t.Run("one-keyring-only", func(t *testing.T) {
		onlyA, err := LoadKeyrings(aPath)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = onlyA.VerifyClearsigned("index.sjson", clearSign(t, b, "{}"), defaultOpts)
		checkVerifyErr(t, err, "index.sjson", ErrUnknownSigner)
	})
}

func TestDetachedArmoredAndBinary(t *testing.T) {
	s := newKey(t, "Detached")
	k := s.Keyring()
	data := []byte("{\n  \"format\": \"products:1.0\"\n}\n")
	arm := detachSign(t, s, data)
	if !bytes.HasPrefix(arm, []byte("-----BEGIN PGP SIGNATURE-----\n")) || !bytes.HasSuffix(arm, []byte("-----END PGP SIGNATURE-----\n")) {
		t.Fatalf("not an armored signature:\n%s", arm)
	}
	bin := dearmor(t, arm)
	textSig, err := s.sign(data, packet.SigTypeText, crypto.SHA512)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		sig  []byte
		want error
	}{
		{"armored", data, arm, nil},
		{"binary", data, bin, nil},
		{"armored-crlf-armor", data, crlf(arm), nil},
		{"armored-leading-whitespace", data, append([]byte("\n\n"), arm...), nil},
		{"binary-mode-crlf-data", crlf(data), arm, ErrBadSignature},
		{"text-mode", data, textSig, nil},
		{"text-mode-crlf-data", crlf(data), textSig, nil},
		{"data-changed", bytes.Replace(data, []byte("1.0"), []byte("1.1"), 1), arm, ErrBadSignature},
		{"data-empty", nil, arm, ErrBadSignature},
		{"sig-empty", data, nil, ErrMalformed},
		{"sig-whitespace", data, []byte(" \n"), ErrMalformed},
		{"sig-garbage", data, []byte("garbage"), ErrMalformed},
		{"sig-text-after", data, append(bytes.Clone(arm), "x\n"...), ErrMalformed},
		{"sig-text-before", data, append([]byte("x\n"), arm...), ErrMalformed},
		{"sig-wrong-armor-type", data, s.ArmoredPublicKeyring(), ErrMalformed},
		{"sig-is-binary-key", data, s.PublicKeyring(), ErrMalformed},
		{"sig-truncated-binary", data, bin[:len(bin)/2], ErrMalformed},
		{"sig-truncated-armor", data, arm[:len(arm)/2], ErrMalformed},
		{"sig-clearsigned-message", data, clearSign(t, s, string(data)), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signer, err := k.VerifyDetached("products.json", tc.data, tc.sig, defaultOpts)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if signer.Fingerprint != s.Fingerprint() {
					t.Errorf("signer %+v", signer)
				}
				return
			}
			checkVerifyErr(t, err, "products.json", tc.want)
		})
	}
}

func TestConcurrentVerify(t *testing.T) {
	k := loadRealKeyring(t, "ubuntu-cloudimage-keyring.gpg")
	s := newKey(t, "Concurrent")
	k.Add(s.Keyring())
	data := readKeyFile(t, "SHA256SUMS")
	sig := readKeyFile(t, "SHA256SUMS.gpg")
	msg := clearSign(t, s, "{}")
	errs := make(chan error, 16)
	for i := 0; i < cap(errs); i++ {
		go func() {
			if _, err := k.VerifyDetached("SHA256SUMS", data, sig, realOpts); err != nil {
				errs <- err
				return
			}
			_, _, err := k.VerifyClearsigned("index.sjson", msg, defaultOpts)
			errs <- err
		}()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
