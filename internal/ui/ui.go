// Package ui renders what a run reports, for people and for programs: the
// sync reporters (a text line per object or progress bars on a terminal,
// line-delimited JSON events, quiet) and the audit's findings, each with
// a text and a JSON rendering, and the locked, redacting writer every
// line of the commands goes through. It decides nothing about a run; it
// prints what it is given.
package ui
