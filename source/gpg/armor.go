package gpg

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// Armor block types handled by this package.
const (
	blockSignature  = "PGP SIGNATURE"
	blockPublicKey  = "PGP PUBLIC KEY BLOCK"
	blockPrivateKey = "PGP PRIVATE KEY BLOCK"
)

// isArmored reports whether data (after leading whitespace) starts with an
// armor header line.
func isArmored(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN PGP "))
}

// armorBlock is one decoded armor block.
type armorBlock struct {
	Type string
	Body []byte
}

// decodeArmor decodes the armor blocks in data. Only whitespace may appear
// before, between and after blocks; every block needs its END line; the
// CRC-24 checksum is verified when present (go-crypto ignores it). Allowed
// lists the acceptable block types; with multi unset exactly one block is
// allowed. Errors are plain one-line reasons, without the file name.
func decodeArmor(data []byte, multi bool, allowed ...string) ([]armorBlock, error) {
	var blocks []armorBlock
	rest := data
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		if len(blocks) > 0 && !multi {
			return nil, errors.New("text after the END line of the armored block")
		}
		line, _ := cutLine(rest)
		line = bytes.TrimRight(line, " \t")
		typ, ok := armorHeaderType(line, "-----BEGIN ")
		if !ok {
			if len(blocks) == 0 {
				return nil, fmt.Errorf("no -----BEGIN %s----- line at the start", allowed[0])
			}
			return nil, errors.New("text after the END line of the armored block")
		}
		if !slices.Contains(allowed, typ) {
			return nil, fmt.Errorf("armored block is %q, want %q", typ, allowed[0])
		}
		// go-crypto stops at the first line starting with "-----END ";
		// it must be the matching END line, followed by blanks only.
		end := indexLine(rest, []byte("-----END "))
		if end < 0 {
			return nil, fmt.Errorf("truncated armor: no -----END %s----- line", typ)
		}
		endLine, after := cutLine(rest[end:])
		if want := "-----END " + typ + "-----"; string(bytes.TrimSpace(endLine)) != want {
			return nil, fmt.Errorf("armor ends with %q, want %q", truncate(endLine, 60), want)
		}
		block := rest[:end+len(endLine)]
		rest = after

		p, err := armor.Decode(bytes.NewReader(block))
		if err == io.EOF {
			return nil, fmt.Errorf("invalid armor: the %s header is not followed by an empty line", typ)
		}
		if err != nil {
			return nil, fmt.Errorf("invalid armor: %v", err)
		}
		if p.Type != typ {
			return nil, fmt.Errorf("invalid armor header for %s", typ)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			return nil, fmt.Errorf("invalid armor: %v", err)
		}
		sum, present, err := armorChecksum(block)
		if err != nil {
			return nil, err
		}
		if present && sum != crc24(body) {
			return nil, errors.New("armor checksum (CRC-24) mismatch: the armored data is corrupt")
		}
		blocks = append(blocks, armorBlock{Type: typ, Body: body})
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("no -----BEGIN %s----- block", allowed[0])
	}
	return blocks, nil
}

// armorHeaderType extracts X from "-----BEGIN X-----" (prefix selects BEGIN
// or END).
func armorHeaderType(line []byte, prefix string) (string, bool) {
	if !bytes.HasPrefix(line, []byte(prefix)) || !bytes.HasSuffix(line, []byte("-----")) ||
		len(line) <= len(prefix)+5 {
		return "", false
	}
	return string(line[len(prefix) : len(line)-5]), true
}

// cutLine splits off the first line (without its \n or \r\n).
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	return bytes.TrimSuffix(line, []byte("\r")), rest
}

// indexLine returns the offset of the first line of b that starts with
// prefix after optional blanks, or -1.
func indexLine(b, prefix []byte) int {
	off := 0
	for off < len(b) {
		line, rest := cutLine(b[off:])
		if bytes.HasPrefix(bytes.TrimLeft(line, " \t"), prefix) {
			return off
		}
		if rest == nil {
			break
		}
		off = len(b) - len(rest)
	}
	return -1
}

// armorChecksum finds the "=XXXX" checksum line of an armor block the way
// go-crypto's reader does (the first line of five characters starting with
// "="; go-crypto ignores everything after it). Only blank lines may follow
// it before the END line.
func armorChecksum(block []byte) (sum uint32, present bool, err error) {
	lines := bytes.Split(block, []byte("\n"))
	// lines[0] is the BEGIN line, the last one the END line.
	for i := 1; i < len(lines)-1; i++ {
		l := bytes.TrimSpace(lines[i])
		if len(l) != 5 || l[0] != '=' {
			continue
		}
		for _, after := range lines[i+1 : len(lines)-1] {
			if len(bytes.TrimSpace(after)) != 0 {
				return 0, false, errors.New("text between the armor checksum and the END line")
			}
		}
		var b [3]byte
		if n, err := base64.StdEncoding.Decode(b[:], l[1:]); err != nil || n != 3 {
			return 0, false, fmt.Errorf("invalid armor checksum line %q", l)
		}
		return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]), true, nil
	}
	return 0, false, nil
}

// crc24 is the OpenPGP armor checksum (RFC 4880 section 6.1).
func crc24(data []byte) uint32 {
	crc := uint32(0xB704CE)
	for _, b := range data {
		crc ^= uint32(b) << 16
		for i := 0; i < 8; i++ {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= 0x1864CFB
			}
		}
	}
	return crc & 0xFFFFFF
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
