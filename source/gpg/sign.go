package gpg

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// SigningKey is an OpenPGP secret key used to sign metadata. Signatures are
// made by the newest valid signing subkey if there is one, otherwise by the
// primary key (the same choice gpg makes), with a SHA-512 digest.
type SigningKey struct {
	entity *openpgp.Entity
	// now is the clock for signature creation times and for choosing a
	// valid signing key; nil means time.Now. Tests set it.
	now func() time.Time
}

// GenerateKey creates a new key: an Ed25519 (EdDSA, OpenPGP v4) primary key
// that can certify and sign, plus a Curve25519 encryption subkey, like
// gpg's default ("future-default") key. The key is created at now (zero
// means time.Now) and never expires; signatures use the current time.
func GenerateKey(name, email string, now time.Time) (*SigningKey, error) {
	return generateKey(name, email, now, 0)
}

func generateKey(name, email string, now time.Time, lifetime time.Duration) (*SigningKey, error) {
	if now.IsZero() {
		now = time.Now()
	}
	cfg := &packet.Config{
		Algorithm:       packet.PubKeyAlgoEdDSA,
		Curve:           packet.Curve25519,
		DefaultHash:     crypto.SHA512,
		Time:            func() time.Time { return now },
		KeyLifetimeSecs: uint32(lifetime / time.Second),
	}
	e, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		return nil, fmt.Errorf("gpg: generate key for %q <%s>: %w", name, email, err)
	}
	return &SigningKey{entity: e}, nil
}

// LoadSigningKey reads a secret key (armored or binary, as exported by
// "gpg --export-secret-keys") and decrypts it with passphrase if it is
// protected. Errors name the file.
func LoadSigningKey(path string, passphrase []byte) (*SigningKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: read secret key: %w", path, pathErr(err))
	}
	return ParseSigningKey(path, data, passphrase)
}

// ParseSigningKey parses one secret key (armored or binary); name is used in
// error messages. A protected key needs the right passphrase: a wrong or
// missing one is an error wrapping ErrBadPassphrase. The file must hold
// exactly one secret key with a usable signing (sub)key.
func ParseSigningKey(name string, data, passphrase []byte) (*SigningKey, error) {
	ents, err := readEntities(data, blockPrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid secret key: %w", name, err)
	}
	var secret []*openpgp.Entity
	for _, e := range ents {
		if e.PrivateKey != nil || hasSecretSubkey(e) {
			secret = append(secret, e)
		}
	}
	switch {
	case len(secret) == 0:
		return nil, fmt.Errorf("%s: invalid secret key: %w: no secret key found (is it a public key?)", name, ErrMalformed)
	case len(secret) > 1:
		return nil, fmt.Errorf("%s: invalid secret key: holds %d secret keys, want exactly one", name, len(secret))
	}
	e := secret[0]
	if isEncrypted(e) {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("%s: %w: the secret key is passphrase-protected and no passphrase was given", name, ErrBadPassphrase)
		}
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, fmt.Errorf("%s: %w: cannot decrypt the secret key (%s)", name, ErrBadPassphrase, oneLine(err.Error()))
		}
	}
	s := &SigningKey{entity: e}
	if _, err := s.signingKey(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func hasSecretSubkey(e *openpgp.Entity) bool {
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil {
			return true
		}
	}
	return false
}

func isEncrypted(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Dummy() && e.PrivateKey.Encrypted {
		return true
	}
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil && !sk.PrivateKey.Dummy() && sk.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

func (s *SigningKey) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *SigningKey) config() *packet.Config {
	return &packet.Config{DefaultHash: crypto.SHA512, Time: s.clock}
}

// signingKey picks the key that signs now.
func (s *SigningKey) signingKey() (openpgp.Key, error) {
	key, ok := s.entity.SigningKey(s.clock())
	if !ok {
		return key, fmt.Errorf("key %s has no valid signing key (expired, revoked or not yet valid)", s.Fingerprint())
	}
	if key.PrivateKey == nil || key.PrivateKey.Dummy() {
		return key, fmt.Errorf("key %s: the secret part of signing key %s is not available", s.Fingerprint(), keyID(key.PublicKey.KeyId))
	}
	if key.PrivateKey.Encrypted {
		return key, fmt.Errorf("key %s: signing key %s is still encrypted", s.Fingerprint(), keyID(key.PublicKey.KeyId))
	}
	return key, nil
}

// sign makes one signature packet of type sigType with digest h over data
// (text signatures canonicalise line endings to CRLF before hashing).
func (s *SigningKey) sign(data []byte, sigType packet.SignatureType, h crypto.Hash) ([]byte, error) {
	key, err := s.signingKey()
	if err != nil {
		return nil, fmt.Errorf("gpg: sign: %w", err)
	}
	cfg := s.config()
	if _, err := packet.SaltLengthForHash(h); err != nil {
		// go-crypto adds a random salt notation to v4 signatures, sized
		// by digest; there is no size for SHA-1 (only used by tests).
		off := false
		cfg.NonDeterministicSignaturesViaNotation = &off
	}
	pub := key.PublicKey
	sig := &packet.Signature{
		Version:           pub.Version,
		SigType:           sigType,
		PubKeyAlgo:        pub.PubKeyAlgo,
		Hash:              h,
		CreationTime:      cfg.Now(),
		IssuerKeyId:       &pub.KeyId,
		IssuerKeyVersion:  uint8(pub.Version),
		IssuerFingerprint: pub.Fingerprint,
	}
	hasher, err := sig.PrepareSign(cfg)
	if err != nil {
		return nil, fmt.Errorf("gpg: sign: %w", err)
	}
	var w io.Writer = hasher
	if sigType == packet.SigTypeText {
		w = openpgp.NewCanonicalTextHash(hasher)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("gpg: sign: %w", err)
	}
	if err := sig.Sign(hasher, key.PrivateKey, cfg); err != nil {
		return nil, fmt.Errorf("gpg: sign: %w", err)
	}
	var buf bytes.Buffer
	if err := sig.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("gpg: sign: %w", err)
	}
	return buf.Bytes(), nil
}

// ClearSign returns payload as a cleartext-signed message (SHA-512), in the
// format of "gpg --clearsign". Lines are split at "\n"; lines starting with
// "-" are dash-escaped; trailing spaces, tabs and carriage returns of each
// line are dropped, as gpg does (a cleartext signature cannot carry them, so
// CRLF payloads come out with LF). ExtractClearsigned of the result returns
// payload with exactly those changes; in particular a final "\n" in payload
// is kept (it shows as an empty line before the signature block, and gpg
// reads it back as payload+"\n").
func (s *SigningKey) ClearSign(payload []byte) ([]byte, error) {
	return s.clearSign(payload, crypto.SHA512)
}

func (s *SigningKey) clearSign(payload []byte, h crypto.Hash) ([]byte, error) {
	lines := bytes.Split(payload, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimRight(l, " \t\r")
	}
	sig, err := s.sign(bytes.Join(lines, []byte("\r\n")), packet.SigTypeText, h)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Write(clearsignHeader)
	out.WriteString("\nHash: " + hashName(h) + "\n\n")
	for _, line := range lines {
		if len(line) > 0 && line[0] == '-' {
			out.WriteString("- ")
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	if err := writeArmor(&out, blockSignature, sig); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// DetachSign returns an armored detached signature (binary mode, SHA-512)
// over data, as "gpg --armor --detach-sign" would.
func (s *SigningKey) DetachSign(data []byte) ([]byte, error) {
	sig, err := s.sign(data, packet.SigTypeBinary, crypto.SHA512)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := writeArmor(&out, blockSignature, sig); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// PublicKeyring returns the public key as a binary transferable public key
// (what "gpg --export" writes), usable as a keyring file.
func (s *SigningKey) PublicKeyring() []byte {
	var buf bytes.Buffer
	if err := s.entity.Serialize(&buf); err != nil {
		// Serialising parsed or generated packets to memory cannot fail.
		panic("gpg: serialize public key: " + err.Error())
	}
	return buf.Bytes()
}

// ArmoredPublicKeyring returns PublicKeyring in ASCII armor.
func (s *SigningKey) ArmoredPublicKeyring() []byte {
	var out bytes.Buffer
	if err := writeArmor(&out, blockPublicKey, s.PublicKeyring()); err != nil {
		panic("gpg: armor public key: " + err.Error())
	}
	return out.Bytes()
}

// ArmoredSecretKey returns the secret key, unencrypted, in ASCII armor (for
// test fixtures; ParseSigningKey reads it back with a nil passphrase).
func (s *SigningKey) ArmoredSecretKey() ([]byte, error) {
	var body bytes.Buffer
	if err := s.entity.SerializePrivateWithoutSigning(&body, nil); err != nil {
		return nil, fmt.Errorf("gpg: export secret key %s: %w", s.Fingerprint(), err)
	}
	var out bytes.Buffer
	if err := writeArmor(&out, blockPrivateKey, body.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Fingerprint returns the primary key fingerprint, upper-case hex.
func (s *SigningKey) Fingerprint() string { return fingerprint(s.entity.PrimaryKey) }

// Keyring returns the public part of the key as a Keyring.
func (s *SigningKey) Keyring() *Keyring {
	if k, err := ParseKeyring("key "+s.Fingerprint(), s.PublicKeyring()); err == nil {
		return k
	}
	// Not reached for keys this package generates or parses; fall back to
	// sharing the public packets.
	e := *s.entity
	e.Subkeys = append([]openpgp.Subkey(nil), e.Subkeys...)
	return &Keyring{entities: openpgp.EntityList{publicOnly(&e)}}
}

// writeArmor appends an armor block (with CRC-24, as gpg writes it) and a
// final newline.
func writeArmor(out *bytes.Buffer, blockType string, body []byte) error {
	w, err := armor.Encode(out, blockType, nil)
	if err != nil {
		return fmt.Errorf("gpg: armor: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("gpg: armor: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("gpg: armor: %w", err)
	}
	out.WriteByte('\n')
	return nil
}
