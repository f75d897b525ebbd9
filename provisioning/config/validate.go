package config

import (
	"errors"
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
		if gmt, ok := canonicalGMT(v); ok {
			for _, c := range p.Choices {
				if c == gmt {
					return c, nil
				}
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

// canonicalGMT writes a GMT offset the way the catalogue spells it (DECISIONS 8): "GMT+1:00"
// and "gmt+1" are "GMT+01:00", "GMT-5:00" is "GMT-05:00", "GMT+0:00" is "GMT". provisioner.net
// writes whole-hour zones without the zero; the intent is unambiguous. It reports false for
// anything that is not GMT, a sign, one or two digits of hours and optionally a colon and two
// digits of minutes.
func canonicalGMT(v string) (string, bool) {
	if len(v) < 5 || !strings.EqualFold(v[:3], "GMT") || (v[3] != '+' && v[3] != '-') {
		return "", false
	}
	hours, minutes, hasMinutes := strings.Cut(v[4:], ":")
	if len(hours) < 1 || len(hours) > 2 || !allDigits(hours) {
		return "", false
	}
	if !hasMinutes {
		minutes = "00"
	} else if len(minutes) != 2 || !allDigits(minutes) {
		return "", false
	}
	if strings.Trim(hours, "0") == "" && minutes == "00" {
		return "GMT", true
	}
	if len(hours) == 1 {
		hours = "0" + hours
	}
	return "GMT" + v[3:4] + hours + ":" + minutes, true
}

// Skipped is a value of a profile that its parameter cannot take. A resync skips it: the
// parameter keeps its value and the rest of the profile applies (DECISIONS 8).
type Skipped struct {
	// Name is the parameter.
	Name string `json:"param"`
	// Value is the value as the profile wrote it; empty for secret parameters.
	Value string `json:"value,omitempty"`
	// Reason says which values the parameter takes.
	Reason string `json:"reason"`
	// Line is the line of the profile element; 0 when unknown.
	Line int `json:"line,omitempty"`
}

// String is "Time_Zone "GMT+25:00": want one of ...", the value left out for secrets.
func (s Skipped) String() string {
	if s.Value == "" {
		return s.Name + ": " + s.Reason
	}
	return s.Name + " " + strconv.Quote(s.Value) + ": " + s.Reason
}

// SkipInvalid splits a profile's changes into those whose values the parameters can take and
// the values to skip (DECISIONS 8). A skipped value's change keeps its user access (ua),
// which is valid on its own. Names the catalogue does not have are left in valid: Apply
// reports them. When every value fits, valid is changes itself.
func (c *Catalog) SkipInvalid(changes []Change) (valid []Change, skipped []Skipped) {
	for i, ch := range changes {
		bad := ""
		if ch.SetValue {
			if idx, ok := c.index[ch.Name]; ok {
				if _, err := c.params[idx].Normalize(ch.Value); err != nil {
					var pe *ParamError
					if errors.As(err, &pe) {
						bad = pe.Reason
					} else {
						bad = err.Error()
					}
				}
			}
		}
		if bad == "" {
			if valid != nil {
				valid = append(valid, ch)
			}
			continue
		}
		if valid == nil {
			valid = append(make([]Change, 0, len(changes)-1), changes[:i]...)
		}
		skipped = append(skipped, skippedReason(&c.params[c.index[ch.Name]], ch, bad))
		if ch.Access != AccessUnset {
			valid = append(valid, Change{Name: ch.Name, Access: ch.Access, Line: ch.Line})
		}
	}
	if valid == nil && skipped == nil {
		return changes, nil
	}
	return valid, skipped
}

// skippedValue is the Skipped of change c of parameter p, whose value failed with err.
func skippedValue(p *Param, c Change, err error) Skipped {
	var pe *ParamError
	if errors.As(err, &pe) {
		return skippedReason(p, c, pe.Reason)
	}
	return skippedReason(p, c, err.Error())
}

func skippedReason(p *Param, c Change, reason string) Skipped {
	s := Skipped{Name: c.Name, Value: clipValue(strings.TrimSpace(c.Value), maxSkippedValue), Reason: reason, Line: c.Line}
	if p.Secret {
		s.Value = ""
	}
	return s
}

// maxSkippedValue bounds the value a [Skipped] quotes, as a [ParamError] does: enough to
// recognise it, and a hostile profile cannot put megabytes into a log line or an event.
const maxSkippedValue = 64

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
	for el := range strings.SplitSeq(s, ",") { // without a slice: Apply checks every change
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
