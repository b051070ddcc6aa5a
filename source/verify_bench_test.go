package source_test

// Throughput of the verifying reader every transferred item streams
// through (bench/README.md):
//
//	go test ./source -run '^$' -bench VerifyingReader -benchmem

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"testing"

	"github.com/ssmirror/ssmirror/source"
	"github.com/ssmirror/ssmirror/source/catalog"
)

// BenchmarkVerifyingReader streams a body through NewVerifyingReader with
// each checksum algorithm, read the way the S3 store reads it (into a
// part-sized buffer with io.ReadFull) and the way a copy reads it (32 KiB
// at a time), for a large item and a 2 KiB one.
func BenchmarkVerifyingReader(b *testing.B) {
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	sums := func(body []byte) map[string]catalog.Checksum {
		s256 := sha256.Sum256(body)
		s512 := sha512.Sum512(body)
		m5 := md5.Sum(body)
		return map[string]catalog.Checksum{
			"sha256": {Algo: "sha256", Hex: hex.EncodeToString(s256[:])},
			"sha512": {Algo: "sha512", Hex: hex.EncodeToString(s512[:])},
			"md5":    {Algo: "md5", Hex: hex.EncodeToString(m5[:])},
		}
	}
	for _, body := range [][]byte{big, big[:2048]} {
		all := sums(body)
		for _, algo := range []string{"sha256", "sha512", "md5"} {
			for _, mode := range []string{"readfull", "copy32k"} {
				b.Run(fmt.Sprintf("%s/%dKiB/%s", algo, len(body)>>10, mode), func(b *testing.B) {
					b.SetBytes(int64(len(body)))
					b.ReportAllocs()
					buf := make([]byte, len(body))
					for b.Loop() {
						v := source.NewVerifyingReader(bytes.NewReader(body), "bench", int64(len(body)), all[algo])
						var err error
						if mode == "readfull" {
							_, err = io.ReadFull(v, buf)
							if err == nil {
								_, err = v.Read(buf[:1]) // the store's check for extra bytes
								if err == io.EOF {
									err = nil
								}
							}
						} else {
							_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{v}, buf[:min(len(buf), 32<<10)])
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
