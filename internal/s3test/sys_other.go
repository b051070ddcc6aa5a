//go:build !linux

package s3test

import "os/exec"

func setProcAttr(*exec.Cmd) {}

// setXattr reports no support, so the server keeps metadata in a sidecar
// directory.
func setXattr(string, string, []byte) error { return errNoXattr }
