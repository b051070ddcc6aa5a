package gpg

import (
	"os"
	"strings"
)

// VerifyFile checks the signature of the file at path: as a clearsigned
// message when path ends in .sjson and sigPath is "", else against the
// detached signature (armored or binary) at sigPath, or path+".gpg" when
// sigPath is "".
func (k *Keyring) VerifyFile(path, sigPath string, opts Options) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".sjson") && sigPath == "" {
		_, signer, err := k.VerifyClearsigned(path, data, opts)
		return signer, err
	}
	if sigPath == "" {
		sigPath = path + ".gpg"
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		return nil, err
	}
	return k.VerifyDetached(path, data, sig, opts)
}
