package gpg

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

var (
	clearsignHeader = []byte("-----BEGIN PGP SIGNED MESSAGE-----")
	signatureHeader = []byte("-----BEGIN PGP SIGNATURE-----")
)

// VerifyClearsigned checks a cleartext-signed message (a .sjson file) and
// returns its payload: dash-escaping undone, lines joined with "\n" (also for
// CRLF input), trailing spaces, tabs and carriage returns of each line
// removed (they are not covered by a cleartext signature; gpg strips them
// too), and no newline after the last line, because the line break before
// the signature block belongs to the framing.
// Any key of the keyring (primary key or signing subkey) may sign.
func (k *Keyring) VerifyClearsigned(name string, data []byte, opts Options) (payload []byte, s *Signer, err error) {
	msg, err := decodeClearsigned(name, data)
	if err != nil {
		return nil, nil, err
	}
	sig, signer, err := k.verify(name, msg.signed, msg.sigs, opts)
	if err != nil {
		return nil, nil, err
	}
	// gpg refuses a message whose Hash header does not name the digest the
	// signature actually uses; go-crypto does not check it.
	if hashes := msg.headers.Values("Hash"); len(hashes) > 0 && !slices.Contains(hashes, hashName(sig.Hash)) {
		return nil, nil, verr(name, ErrBadSignature, nil, "Hash header says %s but the signature uses %s",
			strings.Join(hashes, ","), hashName(sig.Hash))
	}
	return msg.payload, signer, nil
}

// ExtractClearsigned returns the payload of a cleartext-signed message
// without checking the signature (for --no-verify). The message must still
// be well formed: complete armor, nothing but whitespace around the message,
// and a signature block holding at least one signature packet and nothing
// else; otherwise the error wraps ErrMalformed (and ErrVerification). The
// payload is as for VerifyClearsigned.
func ExtractClearsigned(name string, data []byte) ([]byte, error) {
	msg, err := decodeClearsigned(name, data)
	if err != nil {
		return nil, err
	}
	return msg.payload, nil
}

// VerifyDetached checks a detached signature (ASCII-armored or binary, as in
// X.json.gpg or SHA256SUMS.gpg) over data. Both binary (0x00) and text-mode
// (0x01) signatures are accepted.
func (k *Keyring) VerifyDetached(name string, data, sig []byte, opts Options) (*Signer, error) {
	var body []byte
	if isArmored(sig) {
		blocks, err := decodeArmor(sig, false, blockSignature)
		if err != nil {
			return nil, verr(name, ErrMalformed, nil, "detached signature: %v", err)
		}
		body = blocks[0].Body
	} else {
		if len(bytes.TrimSpace(sig)) == 0 {
			return nil, verr(name, ErrMalformed, nil, "detached signature is empty")
		}
		if sig[0]&0x80 == 0 {
			return nil, verr(name, ErrMalformed, nil, "detached signature is neither binary OpenPGP nor ASCII armor")
		}
		body = sig
	}
	sigs, err := scanSignatures(name, body)
	if err != nil {
		return nil, err
	}
	_, signer, err := k.verify(name, data, sigs, opts)
	return signer, err
}

// clearsigned is a decoded cleartext-signed message.
type clearsigned struct {
	headers textproto.MIMEHeader
	payload []byte // lines joined by "\n"
	signed  []byte // the same lines joined by "\r\n": what the signature covers
	sigs    *sigPackets
}

// decodeClearsigned parses the framing of a cleartext-signed message and the
// packets of its signature block. All failures wrap ErrMalformed. A
// signature packet go-crypto cannot parse (say, an MD5 digest) still counts
// as a signature here; verification refuses it later.
func decodeClearsigned(name string, data []byte) (*clearsigned, error) {
	malformed := func(format string, args ...any) error {
		return verr(name, ErrMalformed, nil, format, args...)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, clearsignHeader) {
		if bytes.Contains(data, clearsignHeader) {
			return nil, malformed("text before the %s line", clearsignHeader)
		}
		return nil, malformed("not a clearsigned message (no %s line)", clearsignHeader)
	}
	// The signature block starts at the first line that is exactly the
	// BEGIN PGP SIGNATURE line; payload lines starting with "-" are
	// dash-escaped, so this is the same line clearsign.Decode stops at.
	sigStart := indexExactLine(trimmed, signatureHeader)
	if sigStart < 0 {
		return nil, malformed("missing signature: no %s line", signatureHeader)
	}
	blocks, err := decodeArmor(trimmed[sigStart:], false, blockSignature)
	if err != nil {
		return nil, malformed("signature block: %v", err)
	}
	block, rest := clearsign.Decode(trimmed)
	if block == nil {
		return nil, malformed("invalid cleartext framing (the header may only hold Hash: lines, followed by an empty line)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, malformed("text after the -----END PGP SIGNATURE----- line")
	}
	sigs, err := scanSignatures(name, blocks[0].Body)
	if err != nil {
		return nil, err
	}
	// clearsign.Decode undoes dash-escaping, strips the line endings and
	// trailing spaces and tabs. Like gpg, also strip trailing carriage
	// returns (go-crypto keeps a CR left over from "\r\r\n" and then
	// hashes it ambiguously), so that every line is hashed as gpg hashes it.
	lines := bytes.Split(block.Plaintext, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimRight(l, " \t\r")
	}
	return &clearsigned{
		headers: block.Headers,
		payload: bytes.Join(lines, []byte("\n")),
		signed:  bytes.Join(lines, []byte("\r\n")),
		sigs:    sigs,
	}, nil
}

// indexExactLine returns the offset of the first line of b that is exactly
// want (apart from its line ending), or -1.
func indexExactLine(b, want []byte) int {
	off := 0
	for off < len(b) {
		line, rest := cutLine(b[off:])
		if bytes.Equal(line, want) {
			return off
		}
		if rest == nil {
			break
		}
		off = len(b) - len(rest)
	}
	return -1
}

// sigPackets holds the raw signature packets and the parsed signatures.
type sigPackets struct {
	raw         []byte
	sigs        []*packet.Signature
	unsupported []string // signature packets go-crypto cannot parse
}

// scanSignatures parses a binary signature block: it must contain at least
// one signature packet and nothing but signature packets. Errors wrap
// ErrMalformed.
func scanSignatures(name string, body []byte) (*sigPackets, error) {
	pr := packet.NewReader(bytes.NewReader(body))
	out := &sigPackets{raw: body}
	for {
		p, err := pr.NextWithUnsupported()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, verr(name, ErrMalformed, nil, "corrupt signature packet: %v", err)
		}
		switch p := p.(type) {
		case *packet.Signature:
			out.sigs = append(out.sigs, p)
		case *packet.UnsupportedPacket:
			if _, ok := p.IncompletePacket.(*packet.Signature); !ok && p.IncompletePacket != nil {
				return nil, verr(name, ErrMalformed, nil, "unexpected %s in signature block", packetName(p.IncompletePacket))
			}
			out.unsupported = append(out.unsupported, p.Error.Error())
		default:
			return nil, verr(name, ErrMalformed, nil, "unexpected %s in signature block", packetName(p))
		}
	}
	if len(out.sigs) == 0 && len(out.unsupported) == 0 {
		return nil, verr(name, ErrMalformed, nil, "missing signature: no signature packet")
	}
	return out, nil
}

// verify checks sigs over signed with go-crypto and maps its errors to the
// sentinels. Like go-crypto it uses the first signature whose issuer is a
// signing-capable key of the keyring.
func (k *Keyring) verify(name string, signed []byte, sigs *sigPackets, opts Options) (*packet.Signature, *Signer, error) {
	var ents openpgp.EntityList
	if k != nil {
		ents = k.entities
	}
	kr := signingKeyring(ents)
	if len(sigs.sigs) == 0 {
		// Only signatures go-crypto cannot parse, e.g. MD5 or RIPEMD-160
		// digests or unknown algorithms.
		msg := strings.Join(sigs.unsupported, "; ")
		if strings.Contains(msg, "hash function") {
			return nil, nil, verr(name, ErrWeakDigest, nil, "signature digest not supported (%s)", msg)
		}
		return nil, nil, verr(name, ErrMalformed, nil, "unsupported signature (%s)", msg)
	}
	known := false
	var issuers []string
	for _, s := range sigs.sigs {
		if s.IssuerKeyId == nil {
			return nil, nil, verr(name, ErrMalformed, nil, "signature has no issuer key ID")
		}
		if s.SigType != packet.SigTypeBinary && s.SigType != packet.SigTypeText {
			return nil, nil, verr(name, ErrMalformed, nil, "signature of type 0x%02X is not a document signature", uint8(s.SigType))
		}
		if len(kr.KeysByIdUsage(*s.IssuerKeyId, packet.KeyFlagSign)) > 0 {
			known = true
			break
		}
		issuers = append(issuers, keyID(*s.IssuerKeyId))
	}
	if !known {
		detail := "issuer key " + strings.Join(issuers, ", ")
		if k.Len() == 0 {
			detail += " (the keyring is empty)"
		}
		return nil, nil, verr(name, ErrUnknownSigner, nil, "%s", detail)
	}

	cfg := &packet.Config{Time: opts.Now}
	sig, ent, err := openpgp.VerifyDetachedSignature(kr, bytes.NewReader(signed), bytes.NewReader(sigs.raw), cfg)
	var signer *Signer
	if sig != nil && ent != nil {
		signer = newSigner(sig, ent)
	}
	if err != nil {
		return nil, nil, mapVerifyError(name, err, signer, cfg.Now())
	}
	if sig == nil || signer == nil {
		return nil, nil, verr(name, ErrBadSignature, nil, "no signature verified")
	}
	if !hashTagMatches(sig, signed) {
		return nil, nil, verr(name, ErrBadSignature, nil, "digest prefix in the signature packet does not match")
	}
	switch sig.Hash {
	case crypto.SHA1:
		if !opts.AllowSHA1 {
			return nil, nil, verr(name, ErrWeakDigest, nil, "signature by %s uses SHA-1 (allow it explicitly for old streams)", signer.describe())
		}
	case crypto.MD5, crypto.RIPEMD160:
		return nil, nil, verr(name, ErrWeakDigest, nil, "signature by %s uses %s", signer.describe(), hashName(sig.Hash))
	}
	return sig, signer, nil
}

// hashTagMatches checks the two-byte digest prefix of a v4 signature, which
// is not covered by the signature and which go-crypto only checks for v5 and
// v6 signatures; gpg rejects a mismatch, and so do we.
func hashTagMatches(sig *packet.Signature, signed []byte) bool {
	if sig.Version != 4 {
		return true
	}
	h, err := sig.PrepareVerify()
	if err != nil {
		return false
	}
	var w io.Writer = h
	if sig.SigType == packet.SigTypeText {
		w = openpgp.NewCanonicalTextHash(h)
	}
	w.Write(signed)
	h.Write(sig.HashSuffix)
	sum := h.Sum(nil)
	return len(sum) >= 2 && sum[0] == sig.HashTag[0] && sum[1] == sig.HashTag[1]
}

// mapVerifyError translates a go-crypto verification error.
func mapVerifyError(name string, err error, signer *Signer, now time.Time) error {
	by := ""
	if signer != nil {
		by = " " + signer.describe()
	}
	if signer != nil && errors.Is(err, pgperrors.ErrSignatureExpired) && signer.Created.Unix() > now.Unix() {
		return verr(name, ErrSignatureExpired, err, "signature by%s was made at %s, after the current time %s (clock skew?)",
			by, signer.Created.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	var (
		sigErr    pgperrors.SignatureError
		argErr    pgperrors.InvalidArgumentError
		keyErr    pgperrors.KeyInvalidError
		structErr pgperrors.StructuralError
		unsupErr  pgperrors.UnsupportedError
	)
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return verr(name, ErrUnknownSigner, nil, "no key of the keyring made the signature")
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return verr(name, ErrKeyRevoked, err, "key%s", by)
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return verr(name, ErrKeyExpired, err, "key%s", by)
	case errors.Is(err, pgperrors.ErrSignatureExpired):
		return verr(name, ErrSignatureExpired, err, "signature by%s", by)
	case errors.As(err, &sigErr), errors.As(err, &argErr), errors.As(err, &keyErr):
		return verr(name, ErrBadSignature, err, "")
	case errors.As(err, &structErr), errors.As(err, &unsupErr),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return verr(name, ErrMalformed, err, "")
	default:
		return verr(name, ErrBadSignature, err, "")
	}
}

func newSigner(sig *packet.Signature, ent *openpgp.Entity) *Signer {
	s := &Signer{
		Fingerprint: fingerprint(ent.PrimaryKey),
		Created:     sig.CreationTime.UTC(),
	}
	if sig.IssuerKeyId != nil {
		s.KeyID = keyID(*sig.IssuerKeyId)
	}
	if id := ent.PrimaryIdentity(); id != nil {
		s.UserID = id.Name
	}
	return s
}

// describe names the signer in error messages.
func (s *Signer) describe() string {
	d := s.Fingerprint
	if s.KeyID != "" && !strings.HasSuffix(s.Fingerprint, s.KeyID) {
		d += " (subkey " + s.KeyID + ")"
	}
	if s.UserID != "" {
		d += " " + fmt.Sprintf("%q", s.UserID)
	}
	return d
}

// hashName is the name used in "Hash:" armor headers.
func hashName(h crypto.Hash) string {
	switch h {
	case crypto.MD5:
		return "MD5"
	case crypto.SHA1:
		return "SHA1"
	case crypto.RIPEMD160:
		return "RIPEMD160"
	case crypto.SHA224:
		return "SHA224"
	case crypto.SHA256:
		return "SHA256"
	case crypto.SHA384:
		return "SHA384"
	case crypto.SHA512:
		return "SHA512"
	case crypto.SHA3_256:
		return "SHA3-256"
	case crypto.SHA3_512:
		return "SHA3-512"
	}
	return h.String()
}

func packetName(p packet.Packet) string {
	switch p.(type) {
	case *packet.PublicKey:
		return "public key packet"
	case *packet.PrivateKey:
		return "secret key packet"
	case *packet.UserId:
		return "user ID packet"
	case *packet.LiteralData:
		return "literal data packet"
	case *packet.OnePassSignature:
		return "one-pass signature packet"
	case *packet.Compressed:
		return "compressed data packet"
	}
	return fmt.Sprintf("%T packet", p)
}
