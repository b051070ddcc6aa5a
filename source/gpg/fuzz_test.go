package gpg

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"
)

var (
	fuzzKeyOnce sync.Once
	fuzzKey     *SigningKey
	fuzzKeyErr  error
)

func getFuzzKey(t testing.TB) *SigningKey {
	fuzzKeyOnce.Do(func() {
		fuzzKey, fuzzKeyErr = generateKey("Fuzz", "fuzz@example.invalid", t0, 0)
		if fuzzKey != nil {
			fuzzKey.now = at(time.Minute)
		}
	})
	if fuzzKeyErr != nil {
		t.Fatal(fuzzKeyErr)
	}
	return fuzzKey
}

// FuzzExtractClearsigned: ExtractClearsigned and VerifyClearsigned never
// panic; failures are one-line ErrMalformed/ErrVerification errors naming
// the file; and whatever payload is extracted survives re-signing: signing
// it and extracting (or verifying) again yields the same bytes.
func FuzzExtractClearsigned(f *testing.F) {
	s := getFuzzKey(f)
	for _, p := range []string{
		"", "\n", "{}", "{\n  \"a\": 1\n}\n", "-----BEGIN PGP SIGNATURE-----\n- x\n-", "a\r\nb\r", "a \t\nb",
	} {
		msg, err := s.ClearSign([]byte(p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
		f.Add(crlf(msg))
		f.Add(msg[:len(msg)/2])
	}
	for _, file := range []string{"gpg-fixture-clearsigned.sjson", "gpg-fixture-clearsigned-sha1.sjson"} {
		msg := readKeyFile(f, file)
		f.Add(msg)
		f.Add(crlf(msg))
	}
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nx\n-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n"))
	f.Add(readKeyFile(f, "SHA256SUMS.gpg"))
	f.Add([]byte{})

	k := s.Keyring()
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.sjson"
		payload, err := ExtractClearsigned(name, data)
		vpayload, _, verr := k.VerifyClearsigned(name, data, defaultOpts)
		if verr != nil {
			if !errors.Is(verr, ErrVerification) {
				t.Fatalf("VerifyClearsigned error does not wrap ErrVerification: %v", verr)
			}
			checkMessage(t, verr, name)
		} else if err != nil || !bytes.Equal(vpayload, payload) {
			t.Fatalf("VerifyClearsigned succeeded (%q) but ExtractClearsigned = %q, %v", vpayload, payload, err)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrVerification) {
				t.Fatalf("ExtractClearsigned error is not ErrMalformed: %v", err)
			}
			checkMessage(t, err, name)
			return
		}
		msg, err := s.ClearSign(payload)
		if err != nil {
			t.Fatalf("ClearSign(%q): %v", payload, err)
		}
		again, err := ExtractClearsigned(name, msg)
		if err != nil {
			t.Fatalf("ExtractClearsigned(ClearSign(%q)): %v\n%s", payload, err, msg)
		}
		if !bytes.Equal(again, payload) {
			t.Fatalf("re-signed payload changed:\n got %q\nwant %q", again, payload)
		}
		verified, _, err := k.VerifyClearsigned(name, msg, defaultOpts)
		if err != nil || !bytes.Equal(verified, payload) {
			t.Fatalf("VerifyClearsigned(ClearSign(%q)) = %q, %v", payload, verified, err)
		}
	})
}
