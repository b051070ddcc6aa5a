package browse

import (
	"strconv"
	"strings"
)

// writer appends markup to b. Its escapers give, byte for byte, what
// html/template gives for the same value in the same place (the fuzz
// test FuzzListing holds them to it): text and attribute values have
// NUL, quotes, '&', '+', '<' and '>' replaced; a URL in an attribute is
// refused when it has another scheme than http, https or mailto, then
// normalised (percent-encoded) and escaped as an attribute value.
type writer struct{ b []byte }

func (w *writer) raw(s string) *writer {
	w.b = append(w.b, s...)
	return w
}

func (w *writer) int(n int64) *writer {
	w.b = strconv.AppendInt(w.b, n, 10)
	return w
}

// text appends s escaped as HTML text or a quoted attribute value
// (html/template's htmlEscaper and attrEscaper). Every byte it replaces
// is ASCII, so it works on bytes: those of multi-byte and invalid UTF-8
// sequences are at least 0x80 and pass unchanged, as they do there.
func (w *writer) text(s string) *writer {
	last := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		w.b = append(w.b, s[last:i]...)
		w.b = append(w.b, repl...)
		last = i + 1
	}
	w.b = append(w.b, s[last:]...)
	return w
}

// url appends s as the value of a URL attribute (href): a URL with a
// scheme other than http, https or mailto becomes "#ZgotmplZ"; the rest is
// percent-encoded but for RFC 3986's unreserved and reserved characters
// and valid %XX escapes, and escaped as an attribute value.
func (w *writer) url(s string) *writer {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") &&
		!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
		return w.raw("#ZgotmplZ")
	}
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '&':
			w.b = append(w.b, "&amp;"...)
		case c == '+':
			w.b = append(w.b, "&#43;"...)
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!#$*,/:;=?@[]", c) >= 0,
			c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			w.b = append(w.b, c)
		default:
			w.b = append(w.b, '%', hex[c>>4], hex[c&15])
		}
	}
	return w
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
