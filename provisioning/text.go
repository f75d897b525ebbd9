package provisioning

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanText makes a string that came from a server (the text of a TFTP ERROR packet, an
// error that quotes a profile or a rule, a value a profile set) safe to put into $ERR, a
// syslog datagram, a status field or a log line: every control character (C0, DEL, C1)
// becomes a space, so that a server cannot end a syslog line and forge the next one (CR, LF)
// or hide text (backspace, escape sequences), and a run of them (CR LF) becomes one space;
// the Unicode bidirectional controls, which reorder what a reader sees, are removed; invalid
// UTF-8 becomes U+FFFD; the result is cut to max bytes (0 or less: no limit) on a rune boundary, with
// "…" when cut. Text with nothing to clean is returned as it is.
func CleanText(s string, max int) string {
	if clean(s) && (max <= 0 || len(s) <= max) {
		return s
	}
	var b strings.Builder
	if max > 0 {
		b.Grow(min(len(s), max+len("…")))
	} else {
		b.Grow(len(s))
	}
	ctl := false // the previous rune was a control, written as a space
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				r = unicode.ReplacementChar
			}
		}
		switch {
		case isBidiControl(r):
			continue
		case unicode.IsControl(r):
			if ctl {
				continue
			}
			ctl, r = true, ' '
		default:
			ctl = false
		}
		if max > 0 && b.Len()+utf8.RuneLen(r) > max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// clean reports whether s is valid UTF-8 without control or bidirectional characters.
func clean(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) {
			return false
		}
	}
	return true
}

// isBidiControl reports the Unicode bidirectional formatting characters (LRM, RLM, ALM,
// embeddings, overrides, isolates), which make a terminal or a log viewer show text in
// another order than it is.
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
