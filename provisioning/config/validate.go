package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Normalize checks value against the parameter's kind and returns the value as stored:
// booleans and choices take the catalogue's spelling ("yes" → "Yes"). An empty value is
// always accepted: the device treats it as "use the default" for typed parameters
// (SPA-BEHAVIOUR §8.8). Leading and trailing white space is removed (§1.1).
func (p *Param) Normalize(value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", nil
	}
	bad := func(reason string) (string, error) {
		e := &ParamError{Name: p.Name, Value: v, Reason: reason, Err: ErrInvalidValue}
		if p.Secret {
			e.Value = ""
		}
		return "", e
	}
	switch p.Kind {
	case KindBool:
		switch {
		case strings.EqualFold(v, "yes"):
			return "Yes", nil
		case strings.EqualFold(v, "no"):
			return "No", nil
		}
		return bad("want Yes or No")
	case KindEnum:
		for _, c := range p.Choices {
			if strings.EqualFold(v, c) {
				return c, nil
			}
		}
		return bad("want one of " + strings.Join(p.Choices, ", "))
	case KindInt:
		n, err := parseInt(v)
		if err != nil {
			return bad("not a whole number")
		}
		if n < p.Min || n > p.Max {
			return bad("out of range " + strconv.FormatInt(p.Min, 10) + ".." + strconv.FormatInt(p.Max, 10))
		}
		return v, nil
	case KindDecimal:
		if !isDecimal(v) {
			return bad("not a decimal number of seconds")
		}
		return v, nil
	case KindSchedule:
		if !isSchedule(v) {
			return bad(`want seconds, or a list like "30,60,120+30"`)
		}
		return v, nil
	}
	if !printable(v) {
		return bad("control characters or invalid UTF-8")
	}
	if len(v) > p.MaxLen {
		return bad("longer than " + strconv.Itoa(p.MaxLen) + " characters")
	}
	return v, nil
}

// parseInt accepts decimal and 0x-hexadecimal integers (SPA-BEHAVIOUR §8.8 Uns/Sig).
func parseInt(s string) (int64, error) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		n, err := strconv.ParseUint(h, 16, 32)
		return int64(n), err
	}
	return strconv.ParseInt(s, 10, 64)
}

func isDecimal(s string) bool {
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// isSchedule accepts "n", "n+r" and comma lists of them (SPA-BEHAVIOUR §4.3).
func isSchedule(s string) bool {
	for _, el := range strings.Split(s, ",") {
		el = strings.TrimSpace(el)
		base, rnd, hasRnd := strings.Cut(el, "+")
		if !allDigits(strings.TrimSpace(base)) || (hasRnd && !allDigits(strings.TrimSpace(rnd))) {
			return false
		}
	}
	return true
}

// printable reports whether s is valid UTF-8 without control characters, so that it can be
// written into XML and HTML as text.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
