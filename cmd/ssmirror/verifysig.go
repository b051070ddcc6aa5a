package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ssmirror/ssmirror/config"
	"github.com/ssmirror/ssmirror/source/gpg"
)

type verifySigOptions struct {
	keyrings  []string
	allowSHA1 bool
}

func newVerifySignatureCommand() *cobra.Command {
	var o verifySigOptions
	cmd := &cobra.Command{
		Use:   "verify-signature --keyring FILE... FILE [SIGNATURE]",
		Short: "Check a clearsigned .sjson file, or a file and its detached signature, against keyrings",
		Long: `Check a signature the way sync does, to test a keyring before pointing a mirror at it.

A FILE ending in .sjson is checked as a clearsigned message. Any other FILE is
checked against a detached signature, SIGNATURE or else FILE.gpg (armored or
binary). Prints the signing key on success.

Exit status: 0 valid; 2 bad usage; 4 the signature, the keyring or the
message is bad or made by a key not in the keyrings; 1 other errors.`,
		Args: usageArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerifySignature(o, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringArrayVar(&o.keyrings, "keyring", nil, "OpenPGP keyring (binary or armored); repeatable (default "+config.DefaultKeyring+")")
	cmd.Flags().BoolVar(&o.allowSHA1, "allow-sha1", false, "accept SHA-1 signature digests")
	return cmd
}

func runVerifySignature(o verifySigOptions, args []string, stdout io.Writer) error {
	paths := o.keyrings
	if len(paths) == 0 {
		paths = []string{config.DefaultKeyring}
	}
	kr, err := gpg.LoadKeyrings(paths...)
	if err != nil {
		return err
	}
	sigPath := ""
	if len(args) == 2 {
		sigPath = args[1]
	}
	signer, err := kr.VerifyFile(args[0], sigPath, gpg.Options{AllowSHA1: o.allowSHA1})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: good signature by %s (key %s), made %s\n",
		args[0], signer.UserID, signer.Fingerprint, signer.Created.UTC().Format("2006-01-02 15:04:05 MST"))
	return nil
}
