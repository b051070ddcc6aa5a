package gpg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Keyring is a set of OpenPGP public keys, any of which may sign. The zero
// value is an empty keyring.
type Keyring struct {
	entities openpgp.EntityList
}

// LoadKeyrings reads and merges keyring files. Each file may be binary (as in
// /usr/share/keyrings/*.gpg) or ASCII-armored (.asc, possibly several
// concatenated blocks). A file that cannot be read, cannot be parsed or holds
// no public key is an error naming that file.
func LoadKeyrings(paths ...string) (*Keyring, error) {
	if len(paths) == 0 {
		return nil, errors.New("gpg: no keyring file given")
	}
	k := &Keyring{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: read keyring: %w", p, pathErr(err))
		}
		one, err := ParseKeyring(p, data)
		if err != nil {
			return nil, err
		}
		k.Add(one)
	}
	return k, nil
}

// ParseKeyring parses one keyring (binary or armored; the encoding is
// detected). Name is used in error messages only. Secret-key material, if
// present, is dropped: the result holds public keys only.
func ParseKeyring(name string, data []byte) (*Keyring, error) {
	ents, err := readEntities(data, blockPublicKey, blockPrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid keyring: %w", name, err)
	}
	if len(ents) == 0 {
		return nil, fmt.Errorf("%s: invalid keyring: %w: no public key found", name, ErrMalformed)
	}
	k := &Keyring{}
	for _, e := range ents {
		k.add(publicOnly(e))
	}
	return k, nil
}

// Add merges the keys of other into k. A key present in both is merged:
// revocations, user IDs and subkeys of either copy are kept, so a revocation
// known to either keyring is honoured.
func (k *Keyring) Add(other *Keyring) {
	if other == nil || other == k {
		return
	}
	for _, e := range other.entities {
		k.add(e)
	}
}

// Fingerprints returns the primary-key fingerprints, upper-case hex, sorted.
func (k *Keyring) Fingerprints() []string {
	if k == nil {
		return nil
	}
	fps := make([]string, 0, len(k.entities))
	for _, e := range k.entities {
		fps = append(fps, fingerprint(e.PrimaryKey))
	}
	slices.Sort(fps)
	return fps
}

// Len returns the number of (distinct) primary keys.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	return len(k.entities)
}

// add adds e, merging it into a copy of the entity of the same primary
// key if k has one: the entities of the keyrings given to Add are shared,
// never changed.
func (k *Keyring) add(e *openpgp.Entity) {
	for i, have := range k.entities {
		if bytes.Equal(have.PrimaryKey.Fingerprint, e.PrimaryKey.Fingerprint) {
			merged := copyEntity(have)
			mergeEntity(merged, e)
			k.entities[i] = merged
			return
		}
	}
	k.entities = append(k.entities, e)
}

// copyEntity returns a copy of e that mergeEntity may change: its own
// identities, subkeys and signature lists (the keys and signatures
// themselves are shared, and never changed).
func copyEntity(e *openpgp.Entity) *openpgp.Entity {
	c := *e
	c.Revocations = slices.Clone(e.Revocations)
	c.Signatures = slices.Clone(e.Signatures)
	c.Subkeys = slices.Clone(e.Subkeys)
	for i := range c.Subkeys {
		c.Subkeys[i].Revocations = slices.Clone(c.Subkeys[i].Revocations)
	}
	c.Identities = make(map[string]*openpgp.Identity, len(e.Identities))
	for name, id := range e.Identities {
		idc := *id
		idc.Revocations = slices.Clone(id.Revocations)
		idc.Signatures = slices.Clone(id.Signatures)
		c.Identities[name] = &idc
	}
	return &c
}

// mergeEntity folds the certificates of src into dst (same primary key):
// all revocations are kept, missing user IDs and subkeys are added, and for
// an existing user ID or subkey the newest binding signature wins.
func mergeEntity(dst, src *openpgp.Entity) {
	dst.Revocations = appendNewSigs(dst.Revocations, src.Revocations)
	dst.Signatures = appendNewSigs(dst.Signatures, src.Signatures)
	if dst.SelfSignature == nil || (src.SelfSignature != nil && src.SelfSignature.CreationTime.After(dst.SelfSignature.CreationTime)) {
		if src.SelfSignature != nil {
			dst.SelfSignature = src.SelfSignature
		}
	}
	for name, sid := range src.Identities {
		did, ok := dst.Identities[name]
		if !ok {
			dst.Identities[name] = sid
			continue
		}
		did.Revocations = appendNewSigs(did.Revocations, sid.Revocations)
		did.Signatures = appendNewSigs(did.Signatures, sid.Signatures)
		if did.SelfSignature == nil || (sid.SelfSignature != nil && sid.SelfSignature.CreationTime.After(did.SelfSignature.CreationTime)) {
			did.SelfSignature = sid.SelfSignature
		}
	}
	for _, ssub := range src.Subkeys {
		i := slices.IndexFunc(dst.Subkeys, func(d openpgp.Subkey) bool {
			return bytes.Equal(d.PublicKey.Fingerprint, ssub.PublicKey.Fingerprint)
		})
		if i < 0 {
			dst.Subkeys = append(dst.Subkeys, ssub)
			continue
		}
		dsub := &dst.Subkeys[i]
		dsub.Revocations = appendNewSigs(dsub.Revocations, ssub.Revocations)
		if ssub.Sig != nil && (dsub.Sig == nil || ssub.Sig.CreationTime.After(dsub.Sig.CreationTime)) {
			dsub.Sig = ssub.Sig
		}
	}
}

// appendNewSigs appends the signatures of src not already in dst (same
// issuer, type and creation time).
func appendNewSigs(dst, src []*packet.Signature) []*packet.Signature {
	for _, s := range src {
		if !slices.ContainsFunc(dst, func(d *packet.Signature) bool { return sameSig(d, s) }) {
			dst = append(dst, s)
		}
	}
	return dst
}

func sameSig(a, b *packet.Signature) bool {
	if a == b {
		return true
	}
	return a.SigType == b.SigType && a.CreationTime.Equal(b.CreationTime) &&
		(a.IssuerKeyId == nil) == (b.IssuerKeyId == nil) &&
		(a.IssuerKeyId == nil || *a.IssuerKeyId == *b.IssuerKeyId)
}

// publicOnly strips secret-key material from e (in place) and returns it.
func publicOnly(e *openpgp.Entity) *openpgp.Entity {
	e.PrivateKey = nil
	for i := range e.Subkeys {
		e.Subkeys[i].PrivateKey = nil
	}
	return e
}

// readEntities parses binary or armored key material. Keys using
// algorithms or versions go-crypto does not support are skipped (as gpg
// does); any other problem, such as a corrupt key whose self-signature does
// not verify, is an error rather than a silently dropped key. The returned
// error wraps ErrMalformed and does not name the file.
func readEntities(data []byte, blockTypes ...string) (openpgp.EntityList, error) {
	var bodies [][]byte
	if isArmored(data) {
		blocks, err := decodeArmor(data, true, blockTypes...)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		for _, b := range blocks {
			bodies = append(bodies, b.Body)
		}
	} else {
		if len(data) == 0 {
			return nil, fmt.Errorf("%w: empty file", ErrMalformed)
		}
		if data[0]&0x80 == 0 {
			return nil, fmt.Errorf("%w: neither binary OpenPGP data nor ASCII armor", ErrMalformed)
		}
		bodies = [][]byte{data}
	}
	var all openpgp.EntityList
	var skipped []string
	for _, body := range bodies {
		packets := packet.NewReader(bytes.NewReader(body))
		for n := 1; ; n++ {
			unsupported, err := unsupportedKey(packets)
			var e *openpgp.Entity
			if err == nil && unsupported == "" {
				e, err = openpgp.ReadEntity(packets)
				var uerr pgperrors.UnsupportedError
				if errors.As(err, &uerr) {
					unsupported = err.Error()
				}
			}
			if err == io.EOF {
				break
			}
			if unsupported != "" {
				skipped = append(skipped, unsupported)
				if err := skipToNextKey(packets); err == io.EOF {
					break
				} else if err != nil {
					return nil, fmt.Errorf("%w: key %d: %v", ErrMalformed, n, err)
				}
				continue
			}
			if err != nil {
				var structural pgperrors.StructuralError
				if errors.As(err, &structural) {
					return nil, fmt.Errorf("%w: key %d is unusable (corrupt key material or invalid self-signature): %v", ErrMalformed, n, err)
				}
				return nil, fmt.Errorf("%w: key %d: %v", ErrMalformed, n, err)
			}
			all = append(all, e)
		}
	}
	if len(all) == 0 && len(skipped) > 0 {
		return nil, fmt.Errorf("%w: no usable key (%s)", ErrMalformed, strings.Join(skipped, "; "))
	}
	return all, nil
}

// unsupportedKey reads the next packet and, if it is a primary key of an
// algorithm or version go-crypto does not support, returns why. Otherwise
// it leaves the packet unread for openpgp.ReadEntity, which would skip
// such a key packet and then fail at the user ID after it. Other
// unsupported packets before a key are dropped, as packet.Reader.Next
// drops them.
func unsupportedKey(packets *packet.Reader) (why string, err error) {
	for {
		p, err := packets.NextWithUnsupported()
		if err != nil {
			return "", err
		}
		up, ok := p.(*packet.UnsupportedPacket)
		if !ok {
			packets.Unread(p)
			return "", nil
		}
		switch k := up.IncompletePacket.(type) {
		case *packet.PublicKey:
			if !k.IsSubkey {
				return up.Error.Error(), nil
			}
		case *packet.PrivateKey:
			if !k.IsSubkey {
				return up.Error.Error(), nil
			}
		}
	}
}

// skipToNextKey advances packets to the next primary key (which is left
// unread), like go-crypto's unexported readToNextPublicKey.
func skipToNextKey(packets *packet.Reader) error {
	for {
		p, err := packets.Next()
		if err != nil {
			var unsupported pgperrors.UnsupportedError
			if errors.As(err, &unsupported) {
				continue
			}
			return err
		}
		switch pk := p.(type) {
		case *packet.PublicKey:
			if !pk.IsSubkey {
				packets.Unread(p)
				return nil
			}
		case *packet.PrivateKey:
			if !pk.IsSubkey {
				packets.Unread(p)
				return nil
			}
		}
	}
}

// pathErr drops the path from an *fs.PathError (the caller names the file
// already), keeping the cause for errors.Is.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

func fingerprint(pk *packet.PublicKey) string {
	return strings.ToUpper(hex.EncodeToString(pk.Fingerprint))
}

func keyID(id uint64) string {
	return fmt.Sprintf("%016X", id)
}

// signingKeyring adapts an EntityList to openpgp.KeyRing with gpg's rule
// for a primary key without a key-flags subpacket (old keys): it may sign if
// its algorithm can. go-crypto's v1 EntityList never lets such a key sign.
// Subkeys still need an explicit signing flag, which go-crypto only accepts
// together with a valid cross-signature.
type signingKeyring openpgp.EntityList

func (s signingKeyring) KeysById(id uint64) []openpgp.Key {
	return openpgp.EntityList(s).KeysById(id)
}

func (s signingKeyring) KeysByIdUsage(id uint64, usage byte) []openpgp.Key {
	var keys []openpgp.Key
	for _, key := range openpgp.EntityList(s).KeysById(id) {
		if key.SelfSignature == nil {
			continue
		}
		if !key.SelfSignature.FlagsValid {
			primary := key.PublicKey == key.Entity.PrimaryKey
			if primary && usage&^(packet.KeyFlagSign|packet.KeyFlagCertify) == 0 && key.PublicKey.PubKeyAlgo.CanSign() {
				keys = append(keys, key)
			}
			continue
		}
		var have byte
		if key.SelfSignature.FlagCertify {
			have |= packet.KeyFlagCertify
		}
		if key.SelfSignature.FlagSign {
			have |= packet.KeyFlagSign
		}
		if key.SelfSignature.FlagEncryptCommunications {
			have |= packet.KeyFlagEncryptCommunications
		}
		if key.SelfSignature.FlagEncryptStorage {
			have |= packet.KeyFlagEncryptStorage
		}
		if have&usage == usage {
			keys = append(keys, key)
		}
	}
	return keys
}

func (s signingKeyring) DecryptionKeys() []openpgp.Key { return nil }
