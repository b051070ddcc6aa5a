// Package mirror runs what the commands do to a mirror, as library calls
// a Go caller or a test makes without the command line: Sync publishes
// an upstream into a target (probe, lease and its watchdog, the upstream
// read while the target is listed, the plan, apply, the status record),
// Audit checks a published mirror against its own metadata, List reads
// and selects a catalog's items, and Degradations says what a run does on
// a store that lacks a capability. OpenUpstream, OpenSource and OpenTarget
// open the locations the settings name; LoadKeyring and Signing load the
// keys a run verifies and signs with.
// It reads and writes through source.Fetcher and target.Store and prints
// nothing: a Reporter is told what happens, and internal/ui renders it.
package mirror
