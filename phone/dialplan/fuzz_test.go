package dialplan

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParse: Parse never panics; an error is a *SyntaxError inside the text; a plan's
// canonical form reads back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		factoryPlan, "", "L:8,S:4,(xx|[2-9]x.)", "( S0 <:12125551234> )", "( P5 <:1000> | xxxx )",
		"( <9,:> 1 xxx xxxxxxx | <8,:1212> xxxxxxx )", "( 1 947 xxxxxxx ! | 1 xxx xxxxxxx )",
		"S:4, ( 00 | 011 xxxxx x. )", "(9 L20 1234|P2.5 xx)", "([235-8*]|[#])", "(<011:+>x.)",
		"(", ")", "(|)", "([9-2])", "(<:>)", "L:,S:,(P)", "(S3123)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(text)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error %v is not a *SyntaxError", text, err)
			}
			if se.Column < 1 || se.Column > len(text)+1 || se.Msg == "" {
				t.Fatalf("Parse(%q) error %v: column outside the text", text, err)
			}
			return
		}
		s := p.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", text, s, err)
		}
		if again.String() != s || again.Sequences() != p.Sequences() {
			t.Fatalf("canonical form of %q is not stable: %q → %q", text, s, again.String())
		}
	})
}

// FuzzMatch drives a matcher with random events and checks what every result must satisfy.
// events: a key byte is Key; 'T' Timeout, 'S' Send, 'R' Start; any other byte is fed to Key
// too and must change nothing. flags choose the options.
func FuzzMatch(f *testing.F) {
	seeds := []struct {
		plan, events string
		flags        byte
	}{
		{factoryPlan, "911T", 0x3b},
		{factoryPlan, "16505551234", 0x3b},
		{factoryPlan, "*72" + "5551234T", 0x3b},
		{factoryPlan, "192*168*1*10T", 0x3b},
		{factoryPlan, "1234*10*0*0*1*5061#", 0x3b},
		{factoryPlan, "555#R555T", 0x7b},
		{"( P5 <:1000> | xxxx )", "TR12T34", 0x3b},
		{"( S0 <:12125551234> )", "R1", 0x00},
		{"( <9,:> 1 xxx xxxxxxx | <8,:1212> xxxxxxx )", "85551234", 0x1a},
		{"( 1 947 xxxxxxx ! | 1 xxx xxxxxxx )", "19475551234", 0x1a},
		{"( <1.:9>1x | x.<2:>2 )", "1112T", 0x9a},
		{"( 9 P2 xxx | 9xxxx )", "9T123T", 0x1a},
		{"", "1*2#", 0x1a},
	}
	for _, s := range seeds {
		f.Add(s.plan, s.events, s.flags)
	}
	f.Fuzz(func(t *testing.T, text, events string, flags byte) {
		p, err := Parse(text)
		if err != nil {
			return
		}
		o := Options{
			LongTimer:        time.Duration(flags&7) * time.Second,
			ShortTimer:       time.Duration(flags>>3&3) * time.Second,
			IPDialing:        flags&0x20 != 0,
			RejectIncomplete: flags&0x40 != 0,
			Codes:            factoryCodes(),
		}
		if flags&0x80 != 0 {
			o.Codes = append(o.Codes, Code{Keys: "*7"}, Code{Keys: "#", Arg: true}, Code{Keys: "1", Arg: true})
		}
		if len(events) > 4*MaxKeys {
			events = events[:4*MaxKeys]
		}
		m := NewMatcher(p, o)
		first := drive(t, p, o, m, events)
		// Start forgets everything: the same events give the same results.
		m.Start()
		if again := drive(t, p, o, m, events); strings.Join(again, "\n") != strings.Join(first, "\n") {
			t.Fatalf("replay differs:\n%s\nvs\n%s", strings.Join(first, "\n"), strings.Join(again, "\n"))
		}
	})
}

// drive feeds events to m (already started) and checks each result; it returns them.
func drive(t *testing.T, p *Plan, o Options, m *Matcher, events string) []string {
	t.Helper()
	sent := sentBytes(p)
	last := m.Start()
	check(t, p, o, m, last, sent)
	out := []string{last.String()}
	for i := 0; i < len(events); i++ {
		var r Result
		switch c := events[i]; {
		case c == 'T':
			r = m.Timeout()
		case c == 'S':
			r = m.Send()
		case c == 'R':
			r = m.Start()
		default:
			r = m.Key(c)
			if !IsKey(c) && r != last {
				t.Fatalf("non-key %q changed the result: %v → %v", c, last, r)
			}
		}
		if last.Action != ActionCollect && last.Action != ActionUnknown && events[i] != 'R' && r != last {
			t.Fatalf("event %q after the final %v gave %v", events[i], last, r)
		}
		check(t, p, o, m, r, sent)
		last = r
		out = append(out, r.String())
	}
	return out
}

// sentBytes is every byte a substitution of p may send.
func sentBytes(p *Plan) string {
	var b strings.Builder
	for _, e := range p.elems {
		if e.kind == kindSubStart {
			b.WriteString(p.sentOf(&e))
		}
	}
	return b.String()
}

func check(t *testing.T, p *Plan, o Options, m *Matcher, r Result, sent string) {
	t.Helper()
	dialled := m.Dialled()
	if len(dialled) > MaxKeys {
		t.Fatalf("%d keys collected, more than MaxKeys", len(dialled))
	}
	for i := 0; i < len(dialled); i++ {
		if !IsKey(dialled[i]) {
			t.Fatalf("Dialled() = %q holds a non-key", dialled)
		}
	}
	if r.Sequence < -1 || r.Sequence >= p.Sequences() {
		t.Fatalf("%v: sequence outside the plan's %d", r, p.Sequences())
	}
	if r.Code < -1 || r.Code >= len(o.Codes) {
		t.Fatalf("%v: code outside the %d codes", r, len(o.Codes))
	}
	switch r.Action {
	case ActionCollect:
		if r.Wait <= 0 || r.Timer == TimerNone || r.Tone > ToneDial {
			t.Fatalf("collect without a wait, a timer or a known tone: %+v", r)
		}
		return
	case ActionBarred, ActionInvalid:
		if r.Number != "" || r.URI != "" {
			t.Fatalf("%v carries a number", r)
		}
		return
	case ActionDial:
		if r.Code != -1 {
			t.Fatalf("dial with a code: %+v", r)
		}
	case ActionCode:
		if r.Code < 0 || !CheckCode(o.Codes[r.Code].Keys) {
			t.Fatalf("code result without a usable code: %+v", r)
		}
		if !o.Codes[r.Code].Arg && (r.Number != "" || r.URI != "" || r.Sequence != -1) {
			t.Fatalf("a code without argument carries one: %+v", r)
		}
	default:
		t.Fatalf("unknown action: %+v", r)
	}
	// The keys of the phase that produced the number: the whole dialling, or the code's argument.
	phase := dialled
	if r.Action == ActionCode {
		if !strings.HasPrefix(dialled, o.Codes[r.Code].Keys) {
			t.Fatalf("%v: dialled %q does not start with the code", r, dialled)
		}
		phase = dialled[len(o.Codes[r.Code].Keys):]
	}
	if r.Action == ActionDial && r.Number == "" && r.URI == "" {
		t.Fatalf("dial of nothing: %+v", r)
	}
	for i := 0; i < len(r.Number); i++ {
		if c := r.Number[i]; !strings.ContainsRune(phase, rune(c)) && !strings.ContainsRune(sent, rune(c)) {
			t.Fatalf("%v: number byte %q neither dialled (%q) nor sent by a substitution", r, c, phase)
		}
	}
	switch {
	case r.Partial:
		if r.Number != phase || r.URI != "" || r.Sequence != -1 || o.RejectIncomplete {
			t.Fatalf("%v: sent as dialled, but %q was dialled", r, phase)
		}
	case r.URI != "":
		checkURI(t, r, phase)
	case r.Sequence >= 0:
		checkOutput(t, p, r, phase)
	}
}

// checkURI checks an IP-dialling target against the keys.
func checkURI(t *testing.T, r Result, phase string) {
	t.Helper()
	rest, ok := strings.CutPrefix(r.URI, "sip:")
	if !ok || !ipTarget.MatchString(rest) {
		t.Fatalf("URI %q is not sip:[user@]a.b.c.d:port", r.URI)
	}
	hostPort := rest
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		hostPort = rest[at+1:]
		if rest[:at] != r.Number {
			t.Fatalf("URI %q user is not the number %q", r.URI, r.Number)
		}
	}
	colon := strings.LastIndexByte(hostPort, ':')
	port, _ := strconv.Atoi(hostPort[colon+1:])
	for _, o := range strings.Split(hostPort[:colon], ".") {
		if v, _ := strconv.Atoi(o); v > 255 {
			t.Fatalf("URI %q has an octet above 255", r.URI)
		}
	}
	if port < ipPortMin || port > ipPortMax {
		t.Fatalf("URI %q port outside 256-65535", r.URI)
	}
	if !strings.Contains(phase, "*") || strings.Count(phase, "*") > 5 {
		t.Fatalf("URI %q from %q, which is no IP dialling", r.URI, phase)
	}
}

// ipTarget is the shape of an IP-dialling target after "sip:" (compiled once, never changed).
var ipTarget = regexp.MustCompile(`^([0-9*#+]*@)?[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}:[0-9]{1,5}$`)

// checkOutput recomputes the number of a complete sequence with Go's regexp engine: each
// substitution's dialled part and each run of keys outside substitutions is a group; the
// number is the runs' text with each substitution's group replaced by its sent part. RE2's
// leftmost-first submatches with greedy repetition are the rule the matcher follows.
// Sequences with a pause are skipped (their match depends on time, not only on keys).
func checkOutput(t *testing.T, p *Plan, r Result, phase string) {
	t.Helper()
	s := p.seqs[r.Sequence]
	var re strings.Builder
	var parts []string // for each group: "" for a run of keys, or "<sent" for a substitution
	re.WriteString("^")
	inRun, inSub := false, false
	for _, e := range p.elems[s.start:s.end] {
		switch e.kind {
		case kindPause:
			return
		case kindSubStart:
			if inRun {
				re.WriteString(")")
				inRun = false
			}
			re.WriteString("(")
			parts = append(parts, "<"+p.sentOf(&e))
			inSub = true
		case kindSubEnd:
			re.WriteString(")")
			inSub = false
		case kindKeys:
			if !inSub && !inRun {
				re.WriteString("(")
				parts = append(parts, "")
				inRun = true
			}
			re.WriteString("[")
			for i := 0; i < 12; i++ {
				if e.set&(1<<i) != 0 {
					re.WriteString(regexp.QuoteMeta(string("0123456789*#"[i])))
				}
			}
			re.WriteString("]")
			if e.repeat {
				re.WriteString("*")
			}
		}
	}
	if inRun {
		re.WriteString(")")
	}
	re.WriteString("$")
	rx, err := regexp.Compile(re.String())
	if err != nil {
		t.Fatalf("test regexp %q: %v", re.String(), err)
	}
	sub := rx.FindStringSubmatch(phase)
	if sub == nil {
		t.Fatalf("%v: %q does not match sequence %d (%s)", r, phase, r.Sequence, re.String())
	}
	var want strings.Builder
	for i, part := range parts {
		if sentPart, ok := strings.CutPrefix(part, "<"); ok {
			want.WriteString(sentPart)
		} else {
			want.WriteString(sub[i+1])
		}
	}
	if want.String() == "" {
		t.Fatalf("%v: a complete sequence that sends nothing must be invalid", r)
	}
	if r.Number != want.String() {
		t.Fatalf("%v: number %q, the regexp %s says %q for %q", r, r.Number, re.String(), want.String(), phase)
	}
}
