// Package gpg loads OpenPGP keyrings, verifies clearsigned and detached
// signatures of SimpleStreams metadata, and signs SimpleStreams metadata
// (clearsigned .sjson documents and detached .gpg signatures) with a key it
// generates or loads; it is not a general OpenPGP toolkit.
//
// It wraps github.com/ProtonMail/go-crypto/openpgp (v1 API) and adds the
// policy a mirror needs: keyrings may be binary or ASCII-armored and several
// may be merged, any key of the keyring (primary or signing subkey) may sign,
// SHA-1 signature digests are refused unless explicitly allowed, armor must
// be complete (END line present, CRC-24 checked when present) and nothing but
// whitespace may surround a clearsigned message or an armored signature.
//
// Every verification failure is an error for which
// errors.Is(err, ErrVerification) holds, together with exactly one of the
// specific sentinels (ErrBadSignature, ErrUnknownSigner, ErrKeyExpired,
// ErrKeyRevoked, ErrSignatureExpired, ErrWeakDigest, ErrMalformed). Error
// messages are one line and start with the name the caller passed in.
//
// A loaded Keyring is safe for concurrent verification by several
// goroutines as long as Add is not called at the same time.
package gpg

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Every error returned by VerifyClearsigned, VerifyDetached
// and ExtractClearsigned wraps ErrVerification and one of the others.
var (
	// ErrVerification is wrapped by every verification failure.
	ErrVerification = errors.New("signature verification failed")
	// ErrBadSignature: the signature does not match the signed data (the
	// data or the signature was altered) or contradicts the message headers.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownSigner: no key of the keyring (with signing capability)
	// issued the signature.
	ErrUnknownSigner = errors.New("signed by a key not in the keyring")
	// ErrKeyExpired: the signing key (primary or subkey) is expired at
	// Options.Now, or its creation time lies after Options.Now.
	ErrKeyExpired = errors.New("signing key expired")
	// ErrKeyRevoked: the signing key, its signing subkey or its primary user
	// ID has been revoked.
	ErrKeyRevoked = errors.New("signing key revoked")
	// ErrSignatureExpired: the signature (or a binding signature it relies
	// on) has passed its expiry time, or was made after Options.Now (clock
	// skew).
	ErrSignatureExpired = errors.New("signature expired or made in the future")
	// ErrWeakDigest: the signature uses SHA-1 (and Options.AllowSHA1 is not
	// set) or a broken digest such as MD5 or RIPEMD-160.
	ErrWeakDigest = errors.New("weak signature digest")
	// ErrMalformed: not a clearsigned message, truncated or corrupt armor,
	// text before or after the signed message, garbage, missing signature.
	// Keyring and secret-key files that cannot be parsed also wrap
	// ErrMalformed (but not ErrVerification).
	ErrMalformed = errors.New("malformed OpenPGP data")
	// ErrBadPassphrase: an encrypted secret key could not be decrypted with
	// the given passphrase (or none was given).
	ErrBadPassphrase = errors.New("wrong or missing passphrase")
)

// Options controls signature verification.
type Options struct {
	// AllowSHA1 accepts signatures whose digest is SHA-1 (old streams).
	// They are refused with ErrWeakDigest otherwise. Self-signatures inside
	// keyrings may use SHA-1 regardless (the Ubuntu cloud-image keys do).
	AllowSHA1 bool
	// Now is the clock used for expiry and revocation checks; nil means
	// time.Now.
	Now func() time.Time
}

// Signer describes the key that made a verified signature.
type Signer struct {
	Fingerprint string    // fingerprint of the primary key, upper-case hex
	KeyID       string    // 16-digit key ID of the key that signed (maybe a subkey), upper-case hex
	UserID      string    // primary user ID of the signing key, e.g. "Name <email>"
	Created     time.Time // signature creation time
}

// verifyError is the concrete type of every verification failure.
type verifyError struct {
	name   string // file name given by the caller
	kind   error  // one of the specific sentinels
	detail string // one-line reason
	err    error  // underlying error, may be nil
}

func (e *verifyError) Error() string {
	return e.name + ": " + e.reason()
}

// reason is the message without the file name.
func (e *verifyError) reason() string {
	if e.detail == "" {
		return e.kind.Error()
	}
	return e.kind.Error() + ": " + e.detail
}

// Reason is why verification failed, without the file name that err's
// message starts with (for reports that name the file in a column of
// their own); an error that is not a verification failure is given whole.
func Reason(err error) string {
	var ve *verifyError
	if errors.As(err, &ve) {
		return ve.reason()
	}
	return err.Error()
}

func (e *verifyError) Unwrap() []error {
	errs := []error{ErrVerification, e.kind}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// verr builds a verification error; cause (optional) is wrapped and, when
// detail is empty, its message becomes the detail.
func verr(name string, kind error, cause error, format string, args ...any) error {
	detail := fmt.Sprintf(format, args...)
	if cause != nil {
		if detail == "" {
			detail = cause.Error()
		} else {
			detail += ": " + cause.Error()
		}
	}
	return &verifyError{name: name, kind: kind, detail: oneLine(detail), err: cause}
}

// oneLine makes sure an error message fits on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
