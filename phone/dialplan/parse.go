package dialplan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultTimer is the value of a timer written without seconds ("L:,", "S ", "P "): the later
// Cisco SPA guides say "if no number is entered … the default timer of 5 seconds applies"; the
// 5.1 guide is silent.
const DefaultTimer = 5 * time.Second

// MaxTimer bounds every timer a plan may write. The dial-plan sources give no bound; this is the
// bound the catalogue puts on Interdigit_Long_Timer and Interdigit_Short_Timer (0-255), far
// above any dialling use, and it keeps a typo such as "S3123" (for "S3 123") an error rather
// than a phone that waits 52 minutes.
const MaxTimer = 255 * time.Second

// noTimer marks a timer the plan does not set.
const noTimer time.Duration = -1

// keySet is a set of keypad keys: bit i is key i of keyIndex.
type keySet uint16

const (
	digitKeys keySet = 1<<10 - 1
	allKeys   keySet = 1<<12 - 1
)

// keyIndex maps a keypad key to its bit in a keySet, or -1 for a byte that is no key.
func keyIndex(b byte) int {
	switch {
	case b >= '0' && b <= '9':
		return int(b - '0')
	case b == '*':
		return 10
	case b == '#':
		return 11
	}
	return -1
}

// IsKey reports whether b is a key of the phone's keypad: 0-9, * or #.
func IsKey(b byte) bool { return keyIndex(b) >= 0 }

func (s keySet) has(b byte) bool {
	i := keyIndex(b)
	return i >= 0 && s&(1<<i) != 0
}

type kind uint8

const (
	kindKeys     kind = iota // consumes one key of set (and stays when repeat)
	kindPause                // passes when the phone has been idle dur at this point
	kindComma                // outside dial tone from here until the next key
	kindSubStart             // start of <dialled:sent>; sent is emitted, the keys up to kindSubEnd are not
	kindSubEnd               // end of a substitution
	kindLong                 // "Ls ": the long timer is dur from here on
	kindShort                // "Ss ": the short timer is dur from here on
	kindEnd                  // the sequence is complete here
)

// element is one position of a compiled sequence. The matcher's states are indexes into
// Plan.elems; kindComma, kindSubStart, kindSubEnd, kindLong and kindShort are passed through
// without input, kindKeys with repeat both consumes and is passed through (zero repeats).
type element struct {
	kind   kind
	repeat bool
	set    keySet
	seq    int32
	dur    time.Duration // kindPause, kindLong, kindShort
	// sentAt and sentLen locate a substitution's sent part in Plan.sent (kindSubStart and
	// kindSubEnd); elements hold no pointers, so the slice is cheap to allocate and to scan.
	sentAt, sentLen int32
	// long and short are the sequence's own timers in effect at this position (noTimer: the
	// plan's), set by the "Ls "/"Ss " elements before it.
	long, short time.Duration
}

type sequence struct {
	start, end int32 // elems[start:end] are the sequence, elems[end] is its kindEnd
	barred     bool
}

// Plan is a parsed dial plan (SPA-BEHAVIOUR §8.7). It is immutable and safe for concurrent use:
// every phone of a fleet with the same Dial_Plan_n_ may share one Plan, each with its own
// [Matcher].
type Plan struct {
	long, short time.Duration // the leading "L:s," and "S:s,"; noTimer when absent
	elems       []element
	seqs        []sequence
	sent        string // every substitution's sent part, end to end
	// open is the empty plan: no sequence is written, so nothing the user dials is rejected
	// early; it is sent as dialled on '#' or at the long timer (see the package doc).
	open bool
}

// Sequences returns the number of sequences written in the plan (the implicit vertical service
// codes and IP dialling are not counted). [Result.Sequence] indexes them from 0.
func (p *Plan) Sequences() int { return len(p.seqs) }

// Parse reads a dial plan: optional leading "L:s," and "S:s," timers, then "( seq | seq … )"
// (SPA-BEHAVIOUR §8.7). White space is ignored, except that it ends a timer's seconds. An empty
// (or all-blank) text is the open plan (see the package doc). Errors are [*SyntaxError]s
// naming the column and what was expected there.
func Parse(text string) (*Plan, error) {
	// Every element takes at least one byte of the text (a sequence's end takes its '|' or
	// ')'), so len(text) elements always suffice.
	ps := parser{text: text, plan: &Plan{long: noTimer, short: noTimer, elems: make([]element, 0, min(len(text), 1024)),
		seqs: make([]sequence, 0, min(strings.Count(text, "|")+1, 256))}}
	if err := ps.parsePlan(); err != nil {
		return nil, err
	}
	p := ps.plan
	if cap(p.elems)-len(p.elems) > 32 {
		p.elems = slices.Clone(p.elems)
	}
	p.sent = ps.sent.String()
	return p, nil
}

type parser struct {
	text string
	pos  int
	plan *Plan
	sent strings.Builder
}

func (ps *parser) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Column: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

// found describes the byte at pos for an error message.
func (ps *parser) found(pos int) string {
	if pos >= len(ps.text) {
		return "end of plan"
	}
	if b := ps.text[pos]; b < 0x20 || b >= 0x7f {
		return fmt.Sprintf("byte %#02x", b)
	}
	return strconv.QuoteRune(rune(ps.text[pos]))
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

func (ps *parser) skipSpace() {
	for ps.pos < len(ps.text) && isSpace(ps.text[ps.pos]) {
		ps.pos++
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (ps *parser) peek() byte {
	ps.skipSpace()
	if ps.pos >= len(ps.text) {
		return 0
	}
	return ps.text[ps.pos]
}

func (ps *parser) parsePlan() error {
	if ps.peek() == 0 {
		ps.plan.open = true
		return nil
	}
	for {
		c := ps.peek()
		if c != 'L' && c != 'S' {
			break
		}
		start := ps.pos
		ps.pos++
		if ps.peek() != ':' {
			return ps.errorf(ps.pos, "unexpected %s after %q: a timer before the plan is written %c:seconds,", ps.found(ps.pos), c, c)
		}
		ps.pos++
		ps.skipSpace()
		d, err := ps.parseSeconds()
		if err != nil {
			return err
		}
		if ps.peek() != ',' {
			return ps.errorf(ps.pos, "unexpected %s: expected ',' after the %c:%s timer", ps.found(ps.pos), c, formatSeconds(d))
		}
		ps.pos++
		target := &ps.plan.long
		if c == 'S' {
			target = &ps.plan.short
		}
		if *target != noTimer {
			return ps.errorf(start, "the %c: timer is given twice", c)
		}
		*target = d
	}
	if c := ps.peek(); c != '(' {
		return ps.errorf(ps.pos, "unexpected %s: expected '(' opening the plan, or a leading L:s, or S:s, timer", ps.found(ps.pos))
	}
	ps.pos++
	for {
		if err := ps.parseSequence(); err != nil {
			return err
		}
		switch ps.peek() {
		case '|':
			ps.pos++
			continue
		case ')':
			ps.pos++
		default:
			return ps.errorf(ps.pos, "unexpected %s: expected '|' or ')'", ps.found(ps.pos))
		}
		break
	}
	if ps.peek() != 0 {
		return ps.errorf(ps.pos, "unexpected %s after the plan's closing ')'", ps.found(ps.pos))
	}
	return nil
}

// parseSeconds reads a timer value at pos: digits with an optional fraction (extra decimals
// past milliseconds are ignored, as for the Time<n> data type, SPA-BEHAVIOUR §8.8). No digits
// means [DefaultTimer].
func (ps *parser) parseSeconds() (time.Duration, error) {
	start := ps.pos
	var ms int64
	for ps.pos < len(ps.text) && ps.text[ps.pos] >= '0' && ps.text[ps.pos] <= '9' {
		ms = ms*10 + int64(ps.text[ps.pos]-'0')
		ps.pos++
		if ms > int64(MaxTimer/time.Second) {
			return 0, ps.errorf(start, "timer value too large: at most %d seconds", int64(MaxTimer/time.Second))
		}
	}
	intDigits := ps.pos - start
	ms *= 1000
	if ps.pos+1 < len(ps.text) && ps.text[ps.pos] == '.' && ps.text[ps.pos+1] >= '0' && ps.text[ps.pos+1] <= '9' {
		ps.pos++
		for scale, n := int64(100), 0; ps.pos < len(ps.text) && ps.text[ps.pos] >= '0' && ps.text[ps.pos] <= '9'; n++ {
			if n < 3 {
				ms += int64(ps.text[ps.pos]-'0') * scale
				scale /= 10
			}
			ps.pos++
		}
		intDigits++
	}
	if intDigits == 0 {
		return DefaultTimer, nil
	}
	d := time.Duration(ms) * time.Millisecond
	if d > MaxTimer {
		return 0, ps.errorf(start, "timer value too large: at most %d seconds", int64(MaxTimer/time.Second))
	}
	return d, nil
}

// add appends an element of the sequence being parsed, with the sequence's timers in effect.
func (ps *parser) add(e element, long, short time.Duration) {
	e.seq = int32(len(ps.plan.seqs))
	e.long, e.short = long, short
	ps.plan.elems = append(ps.plan.elems, e)
}

func (ps *parser) parseSequence() error {
	start := len(ps.plan.elems)
	seqPos := ps.peekPos()
	long, short := noTimer, noTimer
	barred := false
	items := 0
loop:
	for {
		c := ps.peek()
		pos := ps.pos
		switch {
		case c == 0 || c == '|' || c == ')':
			break loop
		case barred:
			return ps.errorf(pos, "unexpected %s after '!': '!' bars the sequence and must end it", ps.found(pos))
		case c == '!':
			ps.pos++
			barred = true
		case IsKey(c) || c == 'x' || c == 'X' || c == '[':
			e, err := ps.parseKeyElement()
			if err != nil {
				return err
			}
			ps.add(e, long, short)
		case c == ',':
			ps.pos++
			ps.add(element{kind: kindComma}, long, short)
		case c == 'L' || c == 'S' || c == 'P':
			ps.pos++
			if ps.pos < len(ps.text) && ps.text[ps.pos] == ':' {
				return ps.errorf(ps.pos, "unexpected ':': inside a sequence a timer is written %c<seconds> (the %c:s, form goes before the plan's '(')", c, c)
			}
			d, err := ps.parseSeconds()
			if err != nil {
				return err
			}
			switch c {
			case 'L':
				ps.add(element{kind: kindLong, dur: d}, long, short)
				long = d
			case 'S':
				ps.add(element{kind: kindShort, dur: d}, long, short)
				short = d
			default:
				ps.add(element{kind: kindPause, dur: d}, long, short)
			}
		case c == '<':
			if err := ps.parseSubstitution(long, short); err != nil {
				return err
			}
		case c == '.':
			return ps.errorf(pos, "unexpected '.': it repeats the key, x or [set] just before it, and there is none")
		default:
			return ps.errorf(pos, "unexpected %s: expected a key (0-9 * #), x, [set], <dialled:sent>, ',', a timer (L S P), '!', '|' or ')'", ps.found(pos))
		}
		items++
	}
	if items == 0 {
		return ps.errorf(seqPos, "empty sequence: expected a key (0-9 * #), x, [set], <dialled:sent>, ',' or a timer (L S P)")
	}
	ps.add(element{kind: kindEnd}, long, short)
	ps.plan.seqs = append(ps.plan.seqs, sequence{start: int32(start), end: int32(len(ps.plan.elems) - 1), barred: barred})
	return nil
}

// peekPos returns the position of the next non-blank byte.
func (ps *parser) peekPos() int {
	ps.skipSpace()
	return ps.pos
}

// parseKeyElement reads a key, x or [set] at pos and its optional repetition '.'.
func (ps *parser) parseKeyElement() (element, error) {
	e := element{kind: kindKeys}
	c := ps.text[ps.pos]
	switch {
	case c == 'x' || c == 'X':
		e.set = digitKeys
		ps.pos++
	case c == '[':
		set, err := ps.parseSet()
		if err != nil {
			return e, err
		}
		e.set = set
	default:
		e.set = 1 << keyIndex(c)
		ps.pos++
	}
	if ps.peek() == '.' {
		ps.pos++
		e.repeat = true
		if ps.peek() == '.' {
			return e, ps.errorf(ps.pos, "unexpected second '.': one '.' already repeats the element zero or more times")
		}
	}
	return e, nil
}

func (ps *parser) parseSet() (keySet, error) {
	open := ps.pos
	ps.pos++
	var set keySet
	for {
		c := ps.peek()
		pos := ps.pos
		switch {
		case c == ']':
			ps.pos++
			if set == 0 {
				return 0, ps.errorf(open, "empty set []: expected at least one key")
			}
			return set, nil
		case c == 0:
			return 0, ps.errorf(pos, "unterminated set opened at column %d: expected ']'", open+1)
		case c >= '0' && c <= '9':
			ps.pos++
			if ps.peek() == '-' {
				ps.pos++
				hi := ps.peek()
				if hi < '0' || hi > '9' {
					return 0, ps.errorf(ps.pos, "unexpected %s: expected the digit ending the range %c-", ps.found(ps.pos), c)
				}
				if hi < c {
					return 0, ps.errorf(pos, "range %c-%c runs backwards", c, hi)
				}
				ps.pos++
				for d := c; d <= hi; d++ {
					set |= 1 << keyIndex(d)
				}
				continue
			}
			set |= 1 << keyIndex(c)
		case c == '*' || c == '#':
			ps.pos++
			set |= 1 << keyIndex(c)
		default:
			return 0, ps.errorf(pos, "unexpected %s in a set: expected a key (0-9 * #), a range such as 2-9, or ']'", ps.found(pos))
		}
	}
}

// parseSubstitution reads <dialled:sent>. The dialled side holds keys, x, sets (each possibly
// repeated) and ','; the sent side holds keys and '+' (see the package doc).
func (ps *parser) parseSubstitution(long, short time.Duration) error {
	open := ps.pos
	ps.pos++
	subStart := len(ps.plan.elems)
	ps.add(element{kind: kindSubStart}, long, short)
	for {
		c := ps.peek()
		pos := ps.pos
		switch {
		case c == ':':
			ps.pos++
			at := int32(ps.sent.Len())
			for {
				c := ps.peek()
				switch {
				case c == '>':
					ps.pos++
					n := int32(ps.sent.Len()) - at
					ps.plan.elems[subStart].sentAt, ps.plan.elems[subStart].sentLen = at, n
					ps.add(element{kind: kindSubEnd, sentAt: at, sentLen: n}, long, short)
					return nil
				case IsKey(c) || c == '+':
					ps.sent.WriteByte(c)
					ps.pos++
				case c == 0:
					return ps.errorf(ps.pos, "unterminated substitution opened at column %d: expected '>'", open+1)
				default:
					return ps.errorf(ps.pos, "unexpected %s in the sent part of a substitution: expected a key (0-9 * #), '+' or '>'", ps.found(ps.pos))
				}
			}
		case IsKey(c) || c == 'x' || c == 'X' || c == '[':
			e, err := ps.parseKeyElement()
			if err != nil {
				return err
			}
			ps.add(e, long, short)
		case c == ',':
			ps.pos++
			ps.add(element{kind: kindComma}, long, short)
		case c == 0:
			return ps.errorf(pos, "unterminated substitution opened at column %d: expected ':' and '>'", open+1)
		case c == '.':
			return ps.errorf(pos, "unexpected '.': it repeats the key, x or [set] just before it, and there is none")
		default:
			return ps.errorf(pos, "unexpected %s in the dialled part of a substitution: expected a key (0-9 * #), x, [set], ',' or ':'", ps.found(pos))
		}
	}
}

// String returns the plan in a canonical form that [Parse] reads back to the same plan: no
// white space except the one that ends a timer's seconds, sets with sorted members and ranges.
// The open (empty) plan is "".
func (p *Plan) String() string {
	if p.open {
		return ""
	}
	var b strings.Builder
	if p.long != noTimer {
		b.WriteString("L:" + formatSeconds(p.long) + ",")
	}
	if p.short != noTimer {
		b.WriteString("S:" + formatSeconds(p.short) + ",")
	}
	b.WriteByte('(')
	for i, s := range p.seqs {
		if i > 0 {
			b.WriteByte('|')
		}
		pendingSpace := false // a timer's seconds end here
		for _, e := range p.elems[s.start:s.end] {
			var tok string
			switch e.kind {
			case kindKeys:
				tok = formatSet(e.set)
				if e.repeat {
					tok += "."
				}
			case kindPause:
				tok = "P" + formatSeconds(e.dur)
			case kindLong:
				tok = "L" + formatSeconds(e.dur)
			case kindShort:
				tok = "S" + formatSeconds(e.dur)
			case kindComma:
				tok = ","
			case kindSubStart:
				tok = "<"
			case kindSubEnd:
				tok = ":" + p.sentOf(&e) + ">"
			}
			if pendingSpace {
				b.WriteByte(' ') // the guides' "Ps <:nnn>" form; needed before a digit
			}
			b.WriteString(tok)
			pendingSpace = e.kind == kindPause || e.kind == kindLong || e.kind == kindShort
		}
		if s.barred {
			b.WriteByte('!')
		}
	}
	b.WriteByte(')')
	return b.String()
}

// sentOf returns the sent part of the substitution e opens or closes.
func (p *Plan) sentOf(e *element) string { return p.sent[e.sentAt : e.sentAt+e.sentLen] }

func formatSeconds(d time.Duration) string {
	ms := d.Milliseconds()
	s := strconv.FormatInt(ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		f := strconv.FormatInt(frac+1000, 10)[1:]
		s += "." + strings.TrimRight(f, "0")
	}
	return s
}

// formatSet writes a key set as a key, x, or a bracketed set with digit ranges.
func formatSet(s keySet) string {
	if s == digitKeys {
		return "x"
	}
	for i := 0; i < 12; i++ {
		if s == 1<<i {
			return string("0123456789*#"[i])
		}
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < 10; {
		if s&(1<<i) == 0 {
			i++
			continue
		}
		j := i
		for j+1 < 10 && s&(1<<(j+1)) != 0 {
			j++
		}
		switch {
		case j-i >= 2:
			b.WriteString(string(rune('0'+i)) + "-" + string(rune('0'+j)))
		case j-i == 1:
			b.WriteString(string(rune('0'+i)) + string(rune('0'+j)))
		default:
			b.WriteByte(byte('0' + i))
		}
		i = j + 1
	}
	if s&(1<<10) != 0 {
		b.WriteByte('*')
	}
	if s&(1<<11) != 0 {
		b.WriteByte('#')
	}
	b.WriteByte(']')
	return b.String()
}
