package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/plan"
	"github.com/ssmirror/ssmirror/source/gpg"
	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/dirstore"
	"github.com/ssmirror/ssmirror/target/s3store"
)

// passphraseEnv holds the passphrase of --sign-key; a passphrase is never
// taken from a flag value.
var passphraseEnv = config.EnvVar("sign_passphrase")

// signing resolves the signed-metadata mode into opts and loads the
// operator's key when re-signing.
func signing(cfg *config.Sync, sourceSigned bool, opts *plan.Options) (*gpg.SigningKey, error) {
	mode := cfg.SignedMetadata
	if mode == "" {
		switch {
		case cfg.SignKey != "":
			mode = "resign"
		case sourceSigned:
			mode = "upstream"
		default:
			mode = "none"
		}
	}
	m, err := plan.ParseSignedMode(mode)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if m == plan.SignedUpstream && !sourceSigned {
		return nil, fmt.Errorf("%w: --signed-metadata upstream needs a signed source (an .sjson start); use resign or none", errUsage)
	}
	opts.Signed = m
	if m != plan.SignedResign {
		return nil, nil
	}
	pass, err := passphrase(cfg.SignPassphraseFile, cfg.SignPassphrase)
	if err != nil {
		return nil, err
	}
	key, err := gpg.LoadSigningKey(cfg.SignKey, pass)
	if err != nil {
		return nil, fmt.Errorf("%w: --sign-key: %w", errUsage, err)
	}
	opts.Resign = &plan.ResignKey{Public: key.PublicKeyring(), Armored: key.ArmoredPublicKeyring(), Verifier: key.Keyring()}
	return key, nil
}

// passphrase returns the signing key's passphrase: from the file, else
// the sign_passphrase setting (SSMIRROR_SIGN_PASSPHRASE).
func passphrase(file string, given config.Secret) ([]byte, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%w: --sign-passphrase-file: %w", errUsage, err)
		}
		return []byte(strings.TrimRight(string(data), "\r\n")), nil
	}
	return []byte(given.Reveal()), nil
}

// publicURL returns where clients reach the mirror: the operator's
// --public-url, else the store's own address.
func publicURL(given string, dst target.Store) string {
	if given != "" {
		return strings.TrimSuffix(given, "/") + "/"
	}
	switch s := dst.(type) {
	case *s3store.Store:
		return strings.TrimSuffix(s.URL(), "/") + "/"
	case *dirstore.Store:
		abs, err := filepath.Abs(s.Root())
		if err != nil {
			abs = s.Root()
		}
		return "file://" + filepath.ToSlash(abs) + "/"
	}
	return dst.String() + "/"
}

// handOff prints what a MAAS operator pastes to use a re-signed mirror.
func handOff(w io.Writer, url string, key *gpg.SigningKey) {
	data := base64.StdEncoding.EncodeToString(key.PublicKeyring())
	fmt.Fprintf(w, `
The mirror is signed with key %s. To use it from MAAS:
  boot source URL:  %s
  keyring_data:     %s
  or keyring_filename: a copy of %s%s on the region controller, e.g.
  maas $PROFILE boot-sources create url=%s keyring_filename=/etc/maas/mirror-keyring.gpg
`, key.Fingerprint(), url, data, url, plan.KeyringGPG, url)
}

// readable prints, after a mirror's first publication in a bucket, where
// clients read it and the commands that make its prefix readable without
// credentials, should the bucket be private.
func readable(w io.Writer, dst target.Store, url string) {
	s, ok := dst.(*s3store.Store)
	if !ok {
		return
	}
	bucket, prefix := s.Location()
	resource := "arn:aws:s3:::" + bucket + "/" + prefix + "*"
	fmt.Fprintf(w, `
Clients (MAAS, LXD, a CDN) read this mirror at %s
If the bucket is private, make the prefix readable, e.g.:
  MinIO:  mc anonymous set download ALIAS/%s/%s
  AWS S3: aws s3api put-bucket-policy --bucket %s --policy '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"%s"}]}'
`, url, bucket, prefix, bucket, resource)
}
