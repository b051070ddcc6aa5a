package catalog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors of Format.
var (
	// ErrFormat means a format string does not parse.
	ErrFormat = errors.New("bad output format")
	// ErrFormatKey means a format names a key the item does not have, or
	// a key whose value does not suit the conversion.
	ErrFormatKey = errors.New("output format does not fit the item")
)

// Format is a Python %-style template over an item's flattened
// attributes, as sstream-query's --output-format takes it:
// "%(path)s %(sha256)s". Every conversion names its key; the conversions
// are s, r and a (the value as text, or quoted), d, i and u (an integer),
// x, X and o (an integer in hex or octal), with the flags "-+ 0#", a width
// and a precision; "%%" is a literal percent sign.
type Format struct {
	parts []formatPart
}

type formatPart struct {
	literal string // when key is ""
	key     string
	flags   string
	width   string
	prec    string // with its dot, or ""
	verb    byte
}

// ParseFormat parses a format string.
func ParseFormat(s string) (*Format, error) {
	f := &Format{}
	var lit strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			i++
			continue
		}
		at := i
		i++
		if i < len(s) && s[i] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("%w: %q at offset %d: %s", ErrFormat, s, at, why)
		}
		if i >= len(s) || s[i] != '(' {
			return nil, bad("want %(key)s: every conversion names its key")
		}
		// Python matches parentheses inside the key.
		depth, j := 1, i+1
		for ; j < len(s) && depth > 0; j++ {
			switch s[j] {
			case '(':
				depth++
			case ')':
				depth--
			}
		}
		if depth > 0 {
			return nil, bad("unclosed key")
		}
		p := formatPart{key: s[i+1 : j-1]}
		if p.key == "" {
			return nil, bad("empty key")
		}
		i = j
		for i < len(s) && strings.IndexByte("-+ 0#", s[i]) >= 0 {
			if strings.IndexByte(p.flags, s[i]) < 0 {
				p.flags += string(s[i])
			}
			i++
		}
		w := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		p.width = s[w:i]
		if i < len(s) && s[i] == '.' {
			pr := i
			i++
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			p.prec = s[pr:i]
		}
		if len(p.width) > 4 || len(p.prec) > 5 {
			return nil, bad("width or precision too large")
		}
		for i < len(s) && strings.IndexByte("hlL", s[i]) >= 0 {
			i++ // length modifiers: ignored, as Python does
		}
		if i >= len(s) {
			return nil, bad("incomplete conversion")
		}
		if strings.IndexByte("sradiuxXo", s[i]) < 0 {
			return nil, bad(fmt.Sprintf("unsupported conversion %q (want one of s r a d i u x X o)", s[i]))
		}
		p.verb = s[i]
		i++
		if lit.Len() > 0 {
			f.parts = append(f.parts, formatPart{literal: lit.String()})
			lit.Reset()
		}
		f.parts = append(f.parts, p)
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, formatPart{literal: lit.String()})
	}
	return f, nil
}

// Execute renders the format for one item's attributes: strings, or
// integers (int, int64) such as size.
func (f *Format) Execute(attrs map[string]any) (string, error) {
	var b strings.Builder
	for _, p := range f.parts {
		if p.key == "" {
			b.WriteString(p.literal)
			continue
		}
		v, ok := attrs[p.key]
		if !ok {
			return "", fmt.Errorf("%w: no key %q", ErrFormatKey, p.key)
		}
		s, err := p.render(v)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func (p formatPart) render(v any) (string, error) {
	switch p.verb {
	case 's', 'r', 'a':
		var text string
		switch x := v.(type) {
		case string:
			text = x
			if p.verb != 's' {
				text = pyRepr(x)
			}
		default:
			n, ok := asInt(v)
			if !ok {
				return "", fmt.Errorf("%w: key %q is neither text nor a number", ErrFormatKey, p.key)
			}
			text = strconv.FormatInt(n, 10)
		}
		// Python pads text with spaces, whatever the flags.
		flags := strings.NewReplacer("0", "", "+", "", " ", "", "#", "").Replace(p.flags)
		return fmt.Sprintf("%"+flags+p.width+p.prec+"s", text), nil
	}
	n, ok := asInt(v)
	if !ok {
		return "", fmt.Errorf("%w: %%%c of key %q needs a number, the item has %q", ErrFormatKey, p.verb, p.key, fmt.Sprint(v))
	}
	verb := p.verb
	flags := p.flags
	switch verb {
	case 'i', 'u':
		verb = 'd'
	case 'o':
		if strings.Contains(flags, "#") {
			flags, verb = strings.ReplaceAll(flags, "#", ""), 'O' // Python's 0o prefix
		}
	}
	if strings.Contains(flags, "-") {
		flags = strings.ReplaceAll(flags, "0", "") // Python: - overrides 0
	}
	return fmt.Sprintf("%"+flags+p.width+p.prec+string(verb), n), nil
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// pyRepr quotes s as Python's repr does for a str: single quotes unless s
// holds a single quote and no double quote.
func pyRepr(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
