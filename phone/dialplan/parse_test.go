package dialplan

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The factory Dial_Plan_n_ of a real SPA962 5.1.15 export (SPA-BEHAVIOUR §8.5).
const factoryPlan = "(*xx|[3469]11|0|00|[2-9]xxxxxx|1xxx[2-9]xxxxxxS0|xxxxxxxxxxxx.)"

// TestParseExamples parses every plan SPA-BEHAVIOUR §8.7 and the guides it cites spell out, and
// checks the canonical form (which Parse reads back to the same plan).
func TestParseExamples(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // canonical String()
		seqs int
	}{
		{"factory 5.1.15", factoryPlan, factoryPlan, 7},
		{"5.1 guide default", "(*xx|[3469]11|0|00|[2-9]xxxxxx|1xxx[2-9]xxxxxx|xxxxxxxxxxxx.)",
			"(*xx|[3469]11|0|00|[2-9]xxxxxx|1xxx[2-9]xxxxxx|xxxxxxxxxxxx.)", 7},
		{"older default with substitution", "( *xx | [3469]11 | 0 | 00 | <:1408>[2-9]xxxxxx | 1[2-9]xx[2-9]xxxxxx | 011x. )",
			"(*xx|[3469]11|0|00|<:1408>[2-9]xxxxxx|1[2-9]xx[2-9]xxxxxx|011x.)", 7},
		{"repetition", "(01.)", "(01.)", 1},
		{"range set", "([2-9])", "([2-9])", 1},
		{"set with range and star", "([235-8*])", "([235-8*])", 1},
		{"substitution 8 to 1650", "(<8:1650>xxxxxxx)", "(<8:1650>xxxxxxx)", 1},
		{"prefix 1", "(<:1>xxxxxxxxxx)", "(<:1>xxxxxxxxxx)", 1},
		{"swallowed 9 with outside tone", "( <9,:> 1 xxx xxxxxxx | <8,:1212> xxxxxxx )", "(<9,:>1xxxxxxxxxx|<8,:1212>xxxxxxx)", 2},
		{"outside dial tone", "(9,1xxxxxxxxxx)", "(9,1xxxxxxxxxx)", 1},
		{"barred 900", "(1900xxxxxxx!)", "(1900xxxxxxx!)", 1},
		{"both master timers", "L:8,S:4,(xxxx)", "L:8,S:4,(xxxx)", 1},
		{"long distance blocking 947", "( 1 947 xxxxxxx ! | 1 xxx xxxxxxx )", "(1947xxxxxxx!|1xxxxxxxxxx)", 2},
		{"hotline S0", "( S0 <:12125551234> )", "(S0 <:12125551234>)", 1},
		{"hotline P0", "( P0 <:1000>)", "(P0 <:1000>)", 1},
		{"warm line", "( P5 <:1000> | xxxx )", "(P5 <:1000>|xxxx)", 2},
		{"short master timer", "S:4, ( 00 | 011 xxxxx x. )", "S:4,(00|011xxxxxx.)", 2},
		{"us only", "( 1 xxx xxxxxxx )", "(1xxxxxxxxxx)", 1},
		{"local area code", "( 1 xxx xxxxxxx | <:1212> xxxxxxx )", "(1xxxxxxxxxx|<:1212>xxxxxxx)", 2},
		{"operator and x11", "( 0 | [49]11 | 1 [2-9]xx [2-9]xxxxxx )", "(0|[49]11|1[2-9]xx[2-9]xxxxxx)", 3},
		{"no 9xx area codes", "( 1 [2-8]xx [2-9]xxxxxx )", "(1[2-8]xx[2-9]xxxxxx)", 1},
		{"long master timer", "L:15,(9,8<:1408>[2-9]xxxxxx | 9,8,1[2-9]xxxxxxxxx | 9,8,011xx. | 9,8,xx.|[1-8]xx)",
			"L:15,(9,8<:1408>[2-9]xxxxxx|9,8,1[2-9]xxxxxxxxx|9,8,011xx.|9,8,xx.|[1-8]xx)", 5},
		{"S0 inside a sequence", "(9,8[2-9]xxxxxx | 9,8,1[2-9]xxxxxxxxxS0 | 9,8,011xx. | 9,8,xx.|[1-8]xx)",
			"(9,8[2-9]xxxxxx|9,8,1[2-9]xxxxxxxxxS0|9,8,011xx.|9,8,xx.|[1-8]xx)", 5},
		{"off-hook timer", "( P9<:23> | [1-8]xx )", "(P9 <:23>|[1-8]xx)", 2},
		{"timer then digit keeps its space", "(9 L20 1234)", "(9L20 1234)", 1},
		{"informational numbers", "( [1-8]xx | 9, xxxxxxx | 9, [2-9]xxxxxxxxx | 8, xxxxxxx | 9, 1 [2-9] xxxxxxxxx | 9, 1 900 xxxxxxx ! | 9, 011xxxxxx. | 0 | [49]11 )",
			"([1-8]xx|9,xxxxxxx|9,[2-9]xxxxxxxxx|8,xxxxxxx|9,1[2-9]xxxxxxxxx|9,1900xxxxxxx!|9,011xxxxxx.|0|[49]11)", 9},
		{"fractional and default timers", "(P2.5 xx|L 9|S.25 1)", "(P2.5 xx|L5 9|S0.25 1)", 3},
		{"upper-case X and set runs", "([0-9*#]X|[1245])", "([0-9*#]x|[1245])", 2},
		{"empty", "  ", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.text, err)
			}
			if got := p.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := p.Sequences(); got != tt.seqs {
				t.Errorf("Sequences() = %d, want %d", got, tt.seqs)
			}
			again, err := Parse(p.String())
			if err != nil {
				t.Fatalf("Parse(String()) = %v", err)
			}
			if again.String() != p.String() {
				t.Errorf("String() does not read back: %q → %q", p.String(), again.String())
			}
		})
	}
}

func TestParseTimers(t *testing.T) {
	p, err := Parse("L:8,S:4,( 9 L20 xxx S1 | P2.5 <:1000> )")
	if err != nil {
		t.Fatal(err)
	}
	if p.long != 8*time.Second || p.short != 4*time.Second {
		t.Errorf("master timers = %v, %v, want 8s, 4s", p.long, p.short)
	}
	s := p.seqs[0]
	end := p.elems[s.end]
	if end.long != 20*time.Second || end.short != time.Second {
		t.Errorf("timers at the end of sequence 0 = %v, %v, want 20s, 1s", end.long, end.short)
	}
	if first := p.elems[s.start]; first.long != noTimer || first.short != noTimer {
		t.Errorf("timers at the start of sequence 0 = %v, %v, want the plan's", first.long, first.short)
	}
	pause := p.elems[p.seqs[1].start]
	if pause.kind != kindPause || pause.dur != 2500*time.Millisecond {
		t.Errorf("sequence 1 starts with %+v, want a 2.5 s pause", pause)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		column int
		msg    string
	}{
		{"no parenthesis", "xxxx", 1, "expected '('"},
		{"unclosed", "(xxxx", 6, "expected '|' or ')'"},
		{"trailing text", "(x) y", 5, "after the plan's closing ')'"},
		{"empty plan parentheses", "()", 2, "empty sequence"},
		{"empty sequence between bars", "(1||2)", 4, "empty sequence"},
		{"unknown letter", "(12q)", 4, "unexpected 'q'"},
		{"bang in the middle", "(1!2)", 4, "'!' bars the sequence and must end it"},
		{"repetition of nothing", "(.1)", 2, "repeats the key"},
		{"double repetition", "(1..)", 4, "second '.'"},
		{"repeat a timer", "(1S3.)", 5, "repeats the key"},
		{"fraction after a timer's space", "(S3 .5)", 5, "repeats the key"},
		{"unterminated set", "([2-9", 6, "unterminated set opened at column 2"},
		{"empty set", "([])", 2, "empty set"},
		{"backwards range", "([9-2])", 3, "runs backwards"},
		{"range to a star", "([2-*])", 5, "expected the digit ending the range 2-"},
		{"x in a set", "([x1])", 3, "in a set"},
		{"unterminated substitution", "(<8:1650", 9, "unterminated substitution opened at column 2"},
		{"substitution without colon", "(<81650>)", 8, "dialled part of a substitution"},
		{"letter in the sent part", "(<:@gw0>x)", 4, "sent part of a substitution"},
		{"timer in a substitution", "(<S0:1>)", 3, "dialled part"},
		{"colon timer in a sequence", "(xxS:4)", 5, "inside a sequence a timer is written S<seconds>"},
		{"master timer without comma", "L:8(x)", 4, "expected ',' after the L:8 timer"},
		{"master timer without colon", "L8,(x)", 2, "a timer before the plan is written L:seconds,"},
		{"master timer twice", "S:1,S:2,(x)", 5, "given twice"},
		{"timer too large", "(S3123)", 3, "too large"},
		{"non-ASCII", "(1é)", 3, "unexpected byte 0xc3"},
		{"bar outside", "(1)!", 4, "after the plan's closing ')'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.text)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tt.text, p)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error %v is not a *SyntaxError wrapping ErrSyntax", tt.text, err)
			}
			if se.Column != tt.column || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("Parse(%q) = %v, want column %d and %q", tt.text, err, tt.column, tt.msg)
			}
		})
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{ActionUnknown.String(), "unknown"},
		{ActionCollect.String(), "collect"},
		{ActionDial.String(), "dial"},
		{ActionCode.String(), "code"},
		{ActionBarred.String(), "barred"},
		{ActionInvalid.String(), "invalid"},
		{Action(99).String(), "unknown"},
		{TimerNone.String(), "none"},
		{TimerLong.String(), "long"},
		{TimerShort.String(), "short"},
		{TimerPause.String(), "pause"},
		{ToneNone.String(), "none"},
		{ToneOutside.String(), "outside dial tone"},
		{ToneDial.String(), "dial tone"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}
