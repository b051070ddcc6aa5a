package target_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"strings"
	"testing"

	"github.com/ssmirror/ssmirror/target"
)

// TestBytesBody: the body delivers its bytes and reports their SHA-256 as
// verified only once all of them were read; Verified takes nothing else.
func TestBytesBody(t *testing.T) {
	data := []byte("simplestreams")
	want := sha256.Sum256(data)
	body, sum := target.BytesBody(data)
	if !bytes.Equal(sum, want[:]) {
		t.Fatalf("sum = %x, want %x", sum, want)
	}
	if target.Verified(body, sum) {
		t.Error("Verified before the body was read")
	}
	got, err := io.ReadAll(body)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %q, %v", got, err)
	}
	if !target.Verified(body, sum) {
		t.Error("not Verified after the whole body was read")
	}
	other := sha256.Sum256([]byte("other"))
	if target.Verified(body, other[:]) || target.Verified(body, nil) {
		t.Error("Verified against another or no digest")
	}
	if target.Verified(strings.NewReader("simplestreams"), sum) {
		t.Error("Verified a reader that does not verify itself")
	}
}
