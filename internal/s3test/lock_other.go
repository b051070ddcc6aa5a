//go:build !unix

package s3test

// lockFile is a no-op where flock is unavailable.
func lockFile(string, func()) (func(), error) { return func() {}, nil }
