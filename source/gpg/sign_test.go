package gpg

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestGenerateKey(t *testing.T) {
	s, err := GenerateKey("Mirror Signer", "mirror@example.invalid", t0)
	if err != nil {
		t.Fatal(err)
	}
	pk := s.entity.PrimaryKey
	if pk.Version != 4 || pk.PubKeyAlgo != packet.PubKeyAlgoEdDSA {
		t.Errorf("primary key is v%d algorithm %d, want v4 EdDSA (22)", pk.Version, pk.PubKeyAlgo)
	}
	if curve, err := pk.Curve(); err != nil || curve != packet.Curve25519 {
		t.Errorf("curve %v, %v; want Curve25519", curve, err)
	}
	if !pk.CreationTime.Equal(t0) {
		t.Errorf("created %v, want %v", pk.CreationTime, t0)
	}
	self, _ := s.entity.PrimarySelfSignature()
	if !self.FlagsValid || !self.FlagSign || !self.FlagCertify {
		t.Errorf("primary key flags: sign=%v certify=%v", self.FlagSign, self.FlagCertify)
	}
	if self.KeyLifetimeSecs != nil && *self.KeyLifetimeSecs != 0 {
		t.Errorf("key expires after %ds", *self.KeyLifetimeSecs)
	}
	if !regexp.MustCompile(`^[0-9A-F]{40}$`).MatchString(s.Fingerprint()) {
		t.Errorf("Fingerprint() = %q", s.Fingerprint())
	}

	// Public exports: binary and armored parse back to the same key and
	// hold no secret material.
	for _, pub := range [][]byte{s.PublicKeyring(), s.ArmoredPublicKeyring()} {
		k, err := ParseKeyring("pub", pub)
		if err != nil {
			t.Fatal(err)
		}
		if fps := k.Fingerprints(); len(fps) != 1 || fps[0] != s.Fingerprint() {
			t.Errorf("exported keyring holds %v", fps)
		}
	}
	if !bytes.HasPrefix(s.ArmoredPublicKeyring(), []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")) {
		t.Error("ArmoredPublicKeyring is not a public key block")
	}
	pr := packet.NewReader(bytes.NewReader(s.PublicKeyring()))
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.(*packet.PrivateKey); ok {
			t.Fatal("PublicKeyring contains a secret key packet")
		}
	}
	if fps := s.Keyring().Fingerprints(); len(fps) != 1 || fps[0] != s.Fingerprint() {
		t.Errorf("Keyring() holds %v", fps)
	}

	t.Run("default-time", func(t *testing.T) {
		before := time.Now().Add(-time.Second)
		s, err := GenerateKey("Now", "", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if c := s.entity.PrimaryKey.CreationTime; c.Before(before) || c.After(time.Now().Add(time.Second)) {
			t.Errorf("created %v, want about now", c)
		}
		// With the real clock, signatures verify with the default Options.
		msg, err := s.ClearSign([]byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Keyring().VerifyClearsigned("index.sjson", msg, Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("invalid-name", func(t *testing.T) {
		if _, err := GenerateKey("Bad <name>", "x@example.invalid", t0); err == nil {
			t.Error("GenerateKey accepted a name with angle brackets")
		}
	})
}

func TestArmoredSecretKeyRoundTrip(t *testing.T) {
	s := newKey(t, "Export")
	sec, err := s.ArmoredSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(sec, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n")) {
		t.Fatalf("not a private key block:\n%s", sec)
	}
	back, err := ParseSigningKey("export.asc", sec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.Fingerprint() != s.Fingerprint() {
		t.Errorf("fingerprint %s, want %s", back.Fingerprint(), s.Fingerprint())
	}
	back.now = at(time.Minute)
	if _, _, err := s.Keyring().VerifyClearsigned("index.sjson", clearSign(t, back, "{}"), defaultOpts); err != nil {
		t.Error(err)
	}
	// A secret key is not a keyring for LoadSigningKey's purposes the other
	// way round: a public key is refused.
	_, err = ParseSigningKey("public.asc", s.ArmoredPublicKeyring(), nil)
	if err == nil || !strings.Contains(err.Error(), "public.asc") {
		t.Errorf("ParseSigningKey(public key) = %v", err)
	}
}

func TestEncryptedSecretKey(t *testing.T) {
	dir := t.TempDir()
	// A key encrypted by go-crypto.
	s := newKey(t, "Locked")
	if err := s.entity.EncryptPrivateKeys([]byte("s3cret"), nil); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if err := s.entity.SerializePrivateWithoutSigning(&body, nil); err != nil {
		t.Fatal(err)
	}
	goPath := filepath.Join(dir, "locked.gpg") // binary
	if err := os.WriteFile(goPath, body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	gpgPath := keyPath("gpg-fixture-secret.asc") // armored, made by GnuPG
	tests := []struct {
		name, path, pass, fpr string
		keyring               func(t *testing.T) *Keyring
		opts                  Options
	}{
		{"go-crypto", goPath, "s3cret", s.Fingerprint(), func(*testing.T) *Keyring { return s.Keyring() }, defaultOpts},
		{"gnupg", gpgPath, fixturePassphrase, fprFixture, func(t *testing.T) *Keyring {
			k, err := LoadKeyrings(keyPath("gpg-fixture-public.asc"))
			if err != nil {
				t.Fatal(err)
			}
			return k
		}, fixtureOpts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := LoadSigningKey(tc.path, []byte(tc.pass))
			if err != nil {
				t.Fatal(err)
			}
			if key.Fingerprint() != tc.fpr {
				t.Errorf("fingerprint %s, want %s", key.Fingerprint(), tc.fpr)
			}
			key.now = func() time.Time { return tc.opts.Now().Add(-time.Minute) }
			msg := clearSign(t, key, "{\"signed\": true}")
			if _, _, err := tc.keyring(t).VerifyClearsigned("index.sjson", msg, tc.opts); err != nil {
				t.Errorf("signature by the decrypted key: %v", err)
			}
			// Exported again, it is no longer encrypted.
			sec, err := key.ArmoredSecretKey()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseSigningKey("plain.asc", sec, nil); err != nil {
				t.Errorf("re-parsing the exported key: %v", err)
			}

			for _, bad := range []struct{ name, pass string }{{"wrong", "not it"}, {"missing", ""}} {
				_, err := LoadSigningKey(tc.path, []byte(bad.pass))
				if !errors.Is(err, ErrBadPassphrase) {
					t.Errorf("%s passphrase: error %v does not wrap ErrBadPassphrase", bad.name, err)
				}
				if err != nil {
					checkMessage(t, err, tc.path)
				}
			}
		})
	}
}

func TestLoadSigningKeyErrors(t *testing.T) {
	dir := t.TempDir()
	a, b := newKey(t, "A"), newKey(t, "B")
	secA, _ := a.ArmoredSecretKey()
	secB, _ := b.ArmoredSecretKey()
	tests := []struct {
		name      string
		data      []byte
		malformed bool
	}{
		{"empty", nil, true},
		{"garbage", []byte("garbage"), true},
		{"public-key", a.ArmoredPublicKeyring(), true},
		{"public-key-binary", a.PublicKeyring(), true},
		{"truncated", secA[:len(secA)/2], true},
		{"two-keys", append(bytes.Clone(secA), secB...), false},
		{"signature", readKeyFile(t, "SHA256SUMS.gpg"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".key")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSigningKey(path, nil)
			if err == nil {
				t.Fatal("LoadSigningKey succeeded")
			}
			checkMessage(t, err, path)
			if tc.malformed && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
	t.Run("missing-file", func(t *testing.T) {
		path := filepath.Join(dir, "nope.asc")
		_, err := LoadSigningKey(path, nil)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
		checkMessage(t, err, path)
	})
}

// TestGnuPGVerifiesOurSignatures checks with gpgv that what this package
// signs is what GnuPG accepts. Skipped where gpgv is not installed.
func TestGnuPGVerifiesOurSignatures(t *testing.T) {
	gpgv, err := exec.LookPath("gpgv")
	if err != nil {
		t.Skip("gpgv not installed")
	}
	dir := t.TempDir()
	s, err := GenerateKey("Interop", "interop@example.invalid", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Sign with a subkey, as Canonical-style setups often do.
	subCfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return time.Now().Add(-30 * time.Minute) }}
	if err := s.entity.AddSigningSubkey(subCfg); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "pub.gpg")
	if err := os.WriteFile(pub, s.PublicKeyring(), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.Command(gpgv, append([]string{"--homedir", dir, "--keyring", pub}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gpgv %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	payload := "{\n  \"format\": \"products:1.0\",\n  \"x\": \"- not escaped inside\"\n}\n-----BEGIN PGP SIGNATURE-----\n- dash\n"
	msg, err := s.ClearSign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	sjson := filepath.Join(dir, "index.sjson")
	if err := os.WriteFile(sjson, msg, 0o644); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(dir, "payload.out")
	out := run(t, "--output", outFile, sjson)
	if !strings.Contains(out, "Good signature") {
		t.Errorf("gpgv output:\n%s", out)
	}
	// gpg writes the signed text back with a newline after its last line;
	// our payload's final "\n" is an empty last line of the signed text.
	got, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != payload+"\n" {
		t.Errorf("gpgv payload = %q, want %q", got, payload)
	}

	data := []byte("0123 *file\n")
	sig, err := s.DetachSign(data)
	if err != nil {
		t.Fatal(err)
	}
	dataPath := filepath.Join(dir, "SHA256SUMS")
	sigPath := dataPath + ".gpg"
	if err := os.WriteFile(dataPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, sigPath, dataPath)
	// And gpgv rejects a tampered file, so the check above means something.
	if err := os.WriteFile(dataPath, append(data, 'x'), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gpgv, "--homedir", dir, "--keyring", pub, sigPath, dataPath)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("gpgv accepted tampered data:\n%s", out)
	}
}

// TestPartlyEncryptedSecretKey: a key whose primary key alone, or whose
// signing subkey alone, is passphrase-protected needs the passphrase.
func TestPartlyEncryptedSecretKey(t *testing.T) {
	pass := []byte("s3cret")
	for _, which := range []string{"primary", "signing-subkey"} {
		t.Run(which, func(t *testing.T) {
			s := newKey(t, "Partly")
			addSigningSubkey(t, s, 30*time.Second, 0)
			priv := s.entity.PrivateKey
			if which != "primary" {
				priv = s.entity.Subkeys[len(s.entity.Subkeys)-1].PrivateKey
			}
			if err := priv.Encrypt(pass); err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			if err := s.entity.SerializePrivateWithoutSigning(&body, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := ParseSigningKey("partly.gpg", body.Bytes(), nil); !errors.Is(err, ErrBadPassphrase) {
				t.Errorf("without the passphrase: %v, want ErrBadPassphrase", err)
			}
			key, err := ParseSigningKey("partly.gpg", body.Bytes(), pass)
			if err != nil {
				t.Fatal(err)
			}
			key.now = at(time.Minute)
			if _, _, err := s.Keyring().VerifyClearsigned("index.sjson", clearSign(t, key, "{}"), defaultOpts); err != nil {
				t.Errorf("signature by the decrypted key: %v", err)
			}
		})
	}
}
