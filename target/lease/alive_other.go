//go:build !unix

package lease

// processAlive cannot tell on this system; the lease is waited out.
func processAlive(int) bool { return true }
