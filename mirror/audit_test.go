package mirror

import (
	"context"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/target/memstore"
)

// TestAuditNothingPublished: an audit of a store without a published
// index is an error that names the store and the index, not a report.
func TestAuditNothingPublished(t *testing.T) {
	st := memstore.New("empty")
	r, err := Audit(context.Background(), st, AuditOptions{Transfers: 1})
	if err == nil || !strings.Contains(err.Error(), st.String()) || !strings.Contains(err.Error(), "streams/v1/index.json") {
		t.Fatalf("Audit of an empty store = %+v, %v; want an error naming the store and the index", r, err)
	}
}
