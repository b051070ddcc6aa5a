package gpg

import (
	"crypto"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// rebind makes sig anew, created at t0+30m and without a key expiry (an
// extended key), by the primary key of s.
func rebind(t *testing.T, sig *packet.Signature, sign func(*packet.Signature, *packet.Config) error) *packet.Signature {
	t.Helper()
	n := *sig
	n.CreationTime = t0.Add(30 * time.Minute)
	n.KeyLifetimeSecs = nil
	if err := sign(&n, &packet.Config{DefaultHash: crypto.SHA512, Time: at(30 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	return &n
}

// merged parses each keyring and merges them, in order, into a new one.
func merged(t *testing.T, keyrings ...[]byte) *Keyring {
	t.Helper()
	m := &Keyring{}
	for _, data := range keyrings {
		k, err := ParseKeyring("key", data)
		if err != nil {
			t.Fatal(err)
		}
		m.Add(k)
	}
	return m
}

// checkNewestWins verifies msg at opts: it fails with ErrKeyExpired against
// the old copy of the key alone, and verifies against the merge of the old
// and the extended copy, in either order.
func checkNewestWins(t *testing.T, old, extended []byte, msg []byte, opts Options) {
	t.Helper()
	_, _, err := merged(t, old).VerifyClearsigned("index.sjson", msg, opts)
	checkVerifyErr(t, err, "index.sjson", ErrKeyExpired)
	if _, _, err := merged(t, extended).VerifyClearsigned("index.sjson", msg, opts); err != nil {
		t.Fatalf("the extended key alone: %v", err)
	}
	for _, order := range []struct {
		name        string
		first, then []byte
	}{{"old-first", old, extended}, {"extended-first", extended, old}} {
		first, err := ParseKeyring("first", order.first)
		if err != nil {
			t.Fatal(err)
		}
		_, _, wantFirst := first.VerifyClearsigned("index.sjson", msg, opts)
		m := &Keyring{}
		m.Add(first)
		m.Add(merged(t, order.then))
		// Merging into m leaves the keyrings it was given as they were.
		if _, _, err := first.VerifyClearsigned("index.sjson", msg, opts); (err == nil) != (wantFirst == nil) {
			t.Errorf("%s: merging changed the first keyring: it verifies with %v, before with %v", order.name, err, wantFirst)
		}
		if m.Len() != 1 {
			t.Fatalf("%s: merged Len() = %d", order.name, m.Len())
		}
		if _, _, err := m.VerifyClearsigned("index.sjson", msg, opts); err != nil {
			t.Errorf("%s: the merged keyring does not take the newer binding: %v", order.name, err)
		}
	}
}

// TestMergeKeepsNewestBinding: of two copies of a key, the newer binding
// signature wins whichever keyring comes first: a key (user ID, signing
// subkey, or a v6 key's direct-key signature) whose expiry one keyring
// extends verifies past the old expiry.
func TestMergeKeepsNewestBinding(t *testing.T) {
	t.Run("user-id", func(t *testing.T) {
		s := newKeyLifetime(t, "Extended", time.Hour)
		msg := clearSign(t, s, "{}")
		old := s.PublicKeyring()
		snapshot := s.Keyring()
		for _, id := range s.entity.Identities {
			sig := rebind(t, id.SelfSignature, func(sig *packet.Signature, cfg *packet.Config) error {
				return sig.SignUserId(id.UserId.Id, s.entity.PrimaryKey, s.entity.PrivateKey, cfg)
			})
			id.SelfSignature, id.Signatures = sig, []*packet.Signature{sig}
		}
		checkNewestWins(t, old, s.PublicKeyring(), msg, optsAt(2*time.Hour))
		// A Keyring taken before is a copy: the extension does not reach it.
		_, _, err := snapshot.VerifyClearsigned("index.sjson", msg, optsAt(2*time.Hour))
		checkVerifyErr(t, err, "index.sjson", ErrKeyExpired)
	})
	t.Run("subkey", func(t *testing.T) {
		s := newKey(t, "Subextended")
		addSigningSubkey(t, s, 30*time.Second, 10*time.Minute)
		msg := clearSign(t, s, "{}")
		old := s.PublicKeyring()
		sub := &s.entity.Subkeys[len(s.entity.Subkeys)-1]
		sub.Sig = rebind(t, sub.Sig, func(sig *packet.Signature, cfg *packet.Config) error {
			return sig.SignKey(sub.PublicKey, s.entity.PrivateKey, cfg)
		})
		checkNewestWins(t, old, s.PublicKeyring(), msg, optsAt(time.Hour))
	})
	t.Run("v6-direct-key", func(t *testing.T) {
		e, err := openpgp.NewEntity("Six", "", "six@example.invalid", &packet.Config{
			V6Keys: true, Algorithm: packet.PubKeyAlgoEd25519, DefaultHash: crypto.SHA512,
			Time: at(0), KeyLifetimeSecs: uint32(time.Hour / time.Second),
		})
		if err != nil {
			t.Fatal(err)
		}
		s := &SigningKey{entity: e, now: at(time.Minute)}
		msg := clearSign(t, s, "{}")
		old := s.PublicKeyring()
		sig := rebind(t, e.SelfSignature, func(sig *packet.Signature, cfg *packet.Config) error {
			return sig.SignDirectKeyBinding(e.PrimaryKey, e.PrivateKey, cfg)
		})
		e.SelfSignature, e.Signatures = sig, []*packet.Signature{sig}
		checkNewestWins(t, old, s.PublicKeyring(), msg, optsAt(2*time.Hour))
	})
}

// TestMergeKeepsEveryRevocation: a key retired in one keyring and
// revoked as compromised in another is, merged, revoked from the start:
// the compromise is not dropped for the retirement already known.
func TestMergeKeepsEveryRevocation(t *testing.T) {
	s := newKey(t, "Twice")
	msg := clearSign(t, s, "{}")
	plain := s.PublicKeyring()
	if err := s.entity.RevokeKey(packet.KeyRetired, "retired", &packet.Config{Time: at(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	retired := s.PublicKeyring()
	s.entity.Revocations = nil
	if err := s.entity.RevokeKey(packet.KeyCompromised, "leaked", &packet.Config{Time: at(3 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	compromised := s.PublicKeyring()
	opts := optsAt(90 * time.Second) // after the signature, before either revocation
	if _, _, err := merged(t, plain, retired).VerifyClearsigned("index.sjson", msg, opts); err != nil {
		t.Fatalf("retired later only: %v", err)
	}
	_, _, err := merged(t, plain, retired, compromised).VerifyClearsigned("index.sjson", msg, opts)
	checkVerifyErr(t, err, "index.sjson", ErrKeyRevoked)
}

// TestMergeSubkeys: a signing subkey known to one keyring only is kept,
// and one revoked in either keyring is revoked in the merge, whichever
// comes first (here the signing subkey is the key's first subkey).
func TestMergeSubkeys(t *testing.T) {
	s := newKey(t, "Subkeys")
	s.entity.Subkeys = nil
	without := s.PublicKeyring()
	addSigningSubkey(t, s, 30*time.Second, 0)
	with := s.PublicKeyring()
	msg := clearSign(t, s, "{}")
	sub := &s.entity.Subkeys[0]
	if err := s.entity.RevokeSubkey(sub, packet.KeyRetired, "", &packet.Config{Time: at(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	revoked := s.PublicKeyring()
	for _, order := range [][2][]byte{{without, with}, {with, without}} {
		if _, _, err := merged(t, order[0], order[1]).VerifyClearsigned("index.sjson", msg, defaultOpts); err != nil {
			t.Errorf("the subkey of one keyring: %v", err)
		}
	}
	for _, order := range [][2][]byte{{with, revoked}, {revoked, with}} {
		_, _, err := merged(t, order[0], order[1]).VerifyClearsigned("index.sjson", msg, defaultOpts)
		checkVerifyErr(t, err, "index.sjson", ErrKeyRevoked)
	}
}
