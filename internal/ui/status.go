package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/ssmirror/ssmirror/monitor"
	"github.com/ssmirror/ssmirror/plan"
)

// WriteStatus prints the status record of the mirror in target, age
// after its last successful sync (stale: older than allowed): a block of
// lines, or with asJSON one JSON object, the record with target,
// age_seconds and stale added.
func WriteStatus(w io.Writer, target string, s monitor.Status, age time.Duration, stale, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(struct {
			monitor.Status
			Target     string  `json:"target"`
			AgeSeconds float64 `json:"age_seconds"`
			Stale      bool    `json:"stale"`
		}{s, target, age.Seconds(), stale})
	}
	_, err := fmt.Fprintf(w, "%s\n  last synced:     %s (%s ago) by ssmirror %s\n  last published:  %s\n  upstream:        %s\n  signed metadata: %s\n  items:           %d objects, %s\n",
		target, s.Synced.UTC().Format(time.RFC3339), age.Round(time.Second), s.Ssmirror,
		s.Published.UTC().Format(time.RFC3339), s.Source, s.SignedMetadata, s.Objects, plan.Bytes(s.Bytes))
	return err
}
