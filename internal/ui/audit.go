package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/mirror"
	"github.com/ssmirror/ssmirror/plan"
)

// WriteAudit prints an audit's findings, then its summary: a line each,
// or with asJSON one JSON object each.
func WriteAudit(w io.Writer, r *mirror.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, f := range r.Findings {
			if err := enc.Encode(f); err != nil {
				return err
			}
		}
		return enc.Encode(r.Summary)
	}
	for _, f := range r.Findings {
		if _, err := fmt.Fprintln(w, FindingText(f)); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, AuditSummaryText(r.Summary))
	return err
}

// FindingText is the line of one audit finding.
func FindingText(f mirror.Finding) string {
	switch f.Type {
	case mirror.FindMissing:
		return "missing " + f.Path
	case mirror.FindSize:
		return fmt.Sprintf("size %s: have %d, catalog says %d", f.Path, *f.Size, *f.CatalogSize)
	case mirror.FindChecksum, mirror.FindSignature, mirror.FindSigned:
		return fmt.Sprintf("%s %s: %s", f.Type, f.Path, f.Error)
	case mirror.FindUnreferenced:
		if f.PendingSince != nil {
			return fmt.Sprintf("unreferenced %s (%d bytes, pending deletion since %s)", f.Path, *f.Size, f.PendingSince.UTC().Format(time.RFC3339))
		}
		return fmt.Sprintf("unreferenced %s (%d bytes)", f.Path, *f.Size)
	}
	return "note: " + f.Message
}

// AuditSummaryText is the summary line of an audit, starting with OK or
// FAILED.
func AuditSummaryText(s mirror.AuditSummary) string {
	verdict := "OK"
	if !s.OK {
		verdict = "FAILED"
	}
	parts := []string{fmt.Sprintf("%s (%s)", plan.Count(s.Referenced, "referenced object"), plan.Bytes(s.ReferencedBytes))}
	if s.Missing+s.WrongSize == 0 {
		parts[0] += ", all present with their catalog sizes"
	} else {
		parts[0] += fmt.Sprintf(", %d missing, %d with the wrong size", s.Missing, s.WrongSize)
	}
	switch {
	case !s.ChecksumsChecked:
		parts = append(parts, "checksums not checked (--checksums)")
	case s.BadChecksums == 0:
		parts = append(parts, "checksums good")
	default:
		parts = append(parts, plan.Count(s.BadChecksums, "bad checksum"))
	}
	switch s.Signatures {
	case mirror.SigsNone:
		parts = append(parts, "no signed metadata")
	case mirror.SigsGood:
		parts = append(parts, fmt.Sprintf("signatures good (%s)", plan.Count(s.SignedFiles, "file")))
	case mirror.SigsBad:
		parts = append(parts, plan.Count(s.BadSignatures, "bad signature"))
	default:
		parts = append(parts, "signatures not checked")
	}
	if s.SignedMetadata != "" {
		parts = append(parts, fmt.Sprintf("signed metadata (%s) names %s not in the mirror", s.SignedMetadata, plan.Count(s.SignedNotMirrored, "path")))
	}
	unref := fmt.Sprintf("%s (%s", plan.Count(s.Unreferenced, "unreferenced object"), plan.Bytes(s.UnreferencedBytes))
	if s.PendingDeletion > 0 {
		unref += fmt.Sprintf(", %d pending deletion", s.PendingDeletion)
	}
	parts = append(parts, unref+")")
	return fmt.Sprintf("%s %s: %s", verdict, s.Target, strings.Join(parts, "; "))
}
