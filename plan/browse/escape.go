package browse

import "strings"

// append appends the row's markup to b, as row.html.tmpl renders it (the
// tests hold it to that, FuzzRow for any text).
func (r itemRow) append(b []byte) []byte {
	b = append(b, "\n<tr class=\"item\"><td class=\"version\">"...)
	if r.First {
		b = appendText(b, r.Version)
	}
	b = append(b, "</td><td>"...)
	if r.Path != "" {
		b = append(b, "<a href=\""...)
		b = appendURL(b, r.Path)
		b = append(b, "\">"...)
		b = appendText(b, r.Name)
		b = append(b, "</a>"...)
	} else {
		b = appendText(b, r.Name)
	}
	b = append(b, "</td><td>"...)
	b = appendText(b, r.Ftype)
	b = append(b, "</td><td class=\"size\">"...)
	if r.Path != "" {
		b = appendText(b, r.Size)
	}
	b = append(b, "</td><td class=\"sha\">"...)
	b = appendText(b, r.SHA256)
	return append(b, "</td></tr>"...)
}

// The escapers give, byte for byte, what html/template gives for the same
// value in the same place: text and attribute values have NUL, quotes,
// '&', '+', '<' and '>' replaced; a URL in an attribute is refused when it
// has another scheme than http, https or mailto, then normalised
// (percent-encoded) and escaped as an attribute value.

// appendText appends s escaped as HTML text or a quoted attribute value
// (html/template's htmlEscaper and attrEscaper). Every byte it replaces
// is ASCII, so it works on bytes: those of multi-byte and invalid UTF-8
// sequences are at least 0x80 and pass unchanged, as they do there.
func appendText(b []byte, s string) []byte {
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
		b = append(b, s[last:i]...)
		b = append(b, repl...)
		last = i + 1
	}
	return append(b, s[last:]...)
}

// appendURL appends s as the value of a URL attribute (href): a URL with a
// scheme other than http, https or mailto becomes "#ZgotmplZ"; the rest is
// percent-encoded but for RFC 3986's unreserved and reserved characters
// and valid %XX escapes, and escaped as an attribute value.
func appendURL(b []byte, s string) []byte {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") &&
		!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
		return append(b, "#ZgotmplZ"...)
	}
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '+':
			b = append(b, "&#43;"...)
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!#$*,/:;=?@[]", c) >= 0,
			c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
