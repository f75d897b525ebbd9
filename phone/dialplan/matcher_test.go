package dialplan

import (
	"strings"
	"testing"
	"time"
)

// factoryCodes are the Regional tab's default Vertical Service Activation Codes (SPA-BEHAVIOUR
// §8.3), as the phone would pass them: the call-forward activations take a number.
func factoryCodes() []Code {
	return []Code{
		{Keys: "*69"}, {Keys: "*98"}, {Keys: "*66"}, {Keys: "*86"},
		{Keys: "*72", Arg: true}, {Keys: "*73"}, {Keys: "*90", Arg: true}, {Keys: "*91"},
		{Keys: "*92", Arg: true}, {Keys: "*93"}, {Keys: "*56"}, {Keys: "*57"}, {Keys: "*71"},
		{Keys: "*70"}, {Keys: "*67"}, {Keys: "*68"}, {Keys: "*81"}, {Keys: "*82"}, {Keys: "*77"},
		{Keys: "*87"}, {Keys: "*78"}, {Keys: "*79"}, {Keys: "*16"}, {Keys: "*17"}, {Keys: "*18"},
		{Keys: "*19"}, {Keys: "*96"}, {Keys: "*38"}, {Keys: "*36"}, {Keys: "*39"}, {Keys: "*37"},
		{Keys: "*03"}, {Keys: "*017110"}, {Keys: "*027110"}, {Keys: "*017111"}, {Keys: "*027111"},
		{Keys: "*01723"}, {Keys: "*02723"}, {Keys: "*0172616"}, {Keys: "*0272616"},
		{Keys: "*01729"}, {Keys: "*02729"},
		{Keys: ""}, // an unset code parameter is skipped
	}
}

// factoryOptions are the options of a factory SPA942 line: 10 s / 3 s, IP dialling on (the
// 5.1.15 export), the factory codes.
func factoryOptions() Options {
	return Options{LongTimer: DefaultLongTimer, ShortTimer: DefaultShortTimer, IPDialing: true, Codes: factoryCodes()}
}

// plainOptions are the timers alone: no codes, no IP dialling.
func plainOptions() Options {
	return Options{LongTimer: DefaultLongTimer, ShortTimer: DefaultShortTimer}
}

// step is one event of a dialling and the result it must give (Result.String()).
type step struct {
	in   string // "start", "timeout", "send", or keys fed one by one (the result of the last counts)
	want string
}

func runScript(t *testing.T, m *Matcher, steps []step) {
	t.Helper()
	for i, s := range steps {
		var got Result
		switch s.in {
		case "start":
			got = m.Start()
		case "timeout":
			got = m.Timeout()
		case "send":
			got = m.Send()
		default:
			for j := 0; j < len(s.in); j++ {
				got = m.Key(s.in[j])
			}
		}
		if got.String() != s.want {
			t.Fatalf("step %d %q after %q: got %q, want %q", i, s.in, m.Dialled(), got, s.want)
		}
	}
}

func TestMatcher(t *testing.T) {
	tests := []struct {
		name  string
		plan  string
		opts  Options
		steps []step
	}{
		// The factory plan, step by step.
		{"factory: off-hook waits the long timer", factoryPlan, factoryOptions(), []step{
			{"start", "collect long 10s"},
			{"timeout", "invalid"},
		}},
		{"factory: 911 waits the short timer (xxxxxxxxxxxx. may go on)", factoryPlan, factoryOptions(), []step{
			{"9", "collect long 10s"}, {"1", "collect long 10s"}, {"1", "collect short 3s"},
			{"timeout", "dial 911 (sequence 1)"},
		}},
		{"factory: operator, then international operator", factoryPlan, factoryOptions(), []step{
			{"0", "collect short 3s"}, {"0", "collect short 3s"},
			{"timeout", "dial 00 (sequence 3)"},
		}},
		{"factory: local number", factoryPlan, factoryOptions(), []step{
			{"555123", "collect long 10s"}, {"4", "collect short 3s"},
			{"timeout", "dial 5551234 (sequence 4)"},
		}},
		{"factory: S0 dials the eleventh digit at once", factoryPlan, factoryOptions(), []step{
			{"1650555123", "collect long 10s"}, {"4", "dial 16505551234 (sequence 5)"},
		}},
		{"factory: without the [2-9], eleven digits are xxxxxxxxxxxx.", factoryPlan, factoryOptions(), []step{
			{"1650155123", "collect long 10s"}, {"4", "collect short 3s"},
			{"timeout", "dial 16501551234 (sequence 6)"},
		}},
		{"factory: international goes on after eleven digits", factoryPlan, factoryOptions(), []step{
			{"0114420794", "collect long 10s"}, {"6", "collect short 3s"}, {"09", "collect short 3s"},
			{"send", "dial 0114420794609 (sequence 6)"},
		}},
		{"factory: # sends an incomplete number as dialled", factoryPlan, factoryOptions(), []step{
			{"555", "collect long 10s"}, {"#", "dial 555 as dialled"},
			{"1", "dial 555 as dialled"}, {"timeout", "dial 555 as dialled"},
		}},
		{"factory: the long timer sends an incomplete number as dialled", factoryPlan, factoryOptions(), []step{
			{"12", "collect long 10s"}, {"timeout", "dial 12 as dialled"},
		}},
		{"factory: # sends a complete number transformed", factoryPlan, factoryOptions(), []step{
			{"5551234#", "dial 5551234 (sequence 4)"},
		}},
		{"factory: *78 is DND on, not *xx", factoryPlan, factoryOptions(), []step{
			{"*", "collect long 10s"}, {"7", "collect long 10s"}, {"8", "code 20"},
		}},
		{"factory: an unknown star code is *xx", factoryPlan, factoryOptions(), []step{
			{"*1", "collect long 10s"}, {"2", "dial *12 (sequence 0)"},
		}},
		{"factory: *72 takes the forward number through the plan", factoryPlan, factoryOptions(), []step{
			{"*72", "collect long 10s dial tone (code 4)"},
			{"555123", "collect long 10s (code 4)"}, {"4", "collect short 3s (code 4)"},
			{"timeout", "code 4 5551234 (sequence 4)"},
		}},
		{"factory: *72 argument sent as dialled", factoryPlan, factoryOptions(), []step{
			{"*72", "collect long 10s dial tone (code 4)"}, {"1002", "collect long 10s (code 4)"},
			{"#", "code 4 1002 as dialled"},
		}},
		{"factory: *72 with nothing after it", factoryPlan, factoryOptions(), []step{
			{"*72", "collect long 10s dial tone (code 4)"}, {"#", "invalid (code 4)"},
		}},
		{"factory: codec code", factoryPlan, factoryOptions(), []step{
			{"*0", "collect long 10s"}, {"1", "collect short 3s"}, // *xx is complete
			{"7", "collect long 10s"}, {"111", "code 34"},
		}},
		{"factory: IP dialling", factoryPlan, factoryOptions(), []step{
			{"192", "collect long 10s"}, {"*", "collect long 10s"}, {"168*1*1", "collect short 3s"},
			{"0", "collect short 3s"}, {"timeout", "dial sip:192.168.1.10:5060"},
		}},
		{"factory: IP dialling with user and port", factoryPlan, factoryOptions(), []step{
			{"1234*10*0*0*1*5061", "collect short 3s"}, {"#", "dial sip:1234@10.0.0.1:5061"},
		}},
		{"factory: IP dialling, a last group above 255 is the port", factoryPlan, factoryOptions(), []step{
			{"100*10*0*0*300", "collect short 3s"}, {"timeout", "dial sip:100.10.0.0:300"},
		}},
		{"factory: IP dialling, a last group up to 255 is an octet after a user", factoryPlan, factoryOptions(), []step{
			{"100*10*0*0*25", "collect short 3s"}, {"timeout", "dial sip:100@10.0.0.25:5060"},
		}},
		{"factory: IP dialling, leading zeros dropped", factoryPlan, factoryOptions(), []step{
			{"010*000*000*001", "collect short 3s"}, {"send", "dial sip:10.0.0.1:5060"},
		}},
		{"factory: no IP dialling, a star after digits is invalid", factoryPlan, plainOptions(), []step{
			{"192", "collect long 10s"}, {"*", "invalid"},
		}},
		{"factory: an octet above 255 ends IP dialling", factoryPlan, factoryOptions(), []step{
			{"1*25", "collect long 10s"}, {"6", "invalid"},
		}},

		// The guides' examples.
		{"hotline S0", "( S0 <:12125551234> )", factoryOptions(), []step{
			{"start", "dial 12125551234 (sequence 0)"},
			{"5", "dial 12125551234 (sequence 0)"},
		}},
		{"hotline P0", "( P0 <:1000>)", factoryOptions(), []step{
			{"start", "dial 1000 (sequence 0)"},
		}},
		{"warm line fires after five seconds", "( P5 <:1000> | xxxx )", factoryOptions(), []step{
			{"start", "collect pause 5s"}, {"timeout", "dial 1000 (sequence 0)"},
		}},
		{"warm line: an extension dialled in time", "( P5 <:1000> | xxxx )", plainOptions(), []step{
			{"start", "collect pause 5s"}, {"1", "collect long 10s"}, {"23", "collect long 10s"},
			{"4", "dial 1234 (sequence 1)"},
		}},
		{"warm line longer than the long timer", "( P15 <:1000> | xxxx )", plainOptions(), []step{
			{"start", "collect pause 15s"}, {"timeout", "dial 1000 (sequence 0)"},
		}},
		{"off-hook timer without a number", "( P5 | xxxx )", plainOptions(), []step{
			{"start", "collect pause 5s"}, {"timeout", "invalid (sequence 0)"},
		}},
		{"system hotline after nine seconds", "( P9<:23> | [1-8]xx )", plainOptions(), []step{
			{"start", "collect pause 9s"}, {"timeout", "dial 23 (sequence 0)"},
		}},
		{"pause inside a sequence keeps the long timer running", "( 9 P2 xxx | 9xxxx )", plainOptions(), []step{
			{"9", "collect pause 2s"}, {"timeout", "collect long 8s"}, {"123", "collect short 3s"},
			{"timeout", "dial 9123 (sequence 0)"},
		}},
		{"outside dial tone after a pause", "( P2 , xxxx )", plainOptions(), []step{
			{"start", "collect pause 2s"}, {"timeout", "collect long 8s outside dial tone"}, {"1", "collect long 10s"},
		}},
		{"send with nothing dialled", "( P5 <:1000> | xxxx )", plainOptions(), []step{
			{"send", "invalid"},
		}},
		{"a key before the pause drops the paused sequence", "( 9 P2 xxx | 9xxxx )", plainOptions(), []step{
			{"9123", "collect long 10s"}, {"4", "dial 91234 (sequence 1)"},
		}},
		{"947 barred", "( 1 947 xxxxxxx ! | 1 xxx xxxxxxx )", plainOptions(), []step{
			{"1947555123", "collect long 10s"}, {"4", "barred (sequence 0)"},
		}},
		{"other area codes allowed", "( 1 947 xxxxxxx ! | 1 xxx xxxxxxx )", plainOptions(), []step{
			{"12125551234", "dial 12125551234 (sequence 1)"},
		}},
		{"barring wins whatever the order", "( [1-8]xx | 9, xxxxxxx | 9, [2-9]xxxxxxxxx | 8, xxxxxxx | 9, 1 [2-9] xxxxxxxxx | 9, 1 900 xxxxxxx ! | 9, 011xxxxxx. | 0 | [49]11 )", plainOptions(), []step{
			{"9", "collect long 10s outside dial tone"}, {"1", "collect long 10s"},
			{"900555123", "collect long 10s"}, {"4", "barred (sequence 5)"},
		}},
		{"outside dial tone after the 9 and the 8", "( <9,:> 1 xxx xxxxxxx | <8,:1212> xxxxxxx )", plainOptions(), []step{
			{"9", "collect long 10s outside dial tone"}, {"1", "collect long 10s"},
			{"212555123", "collect long 10s"}, {"4", "dial 12125551234 (sequence 0)"},
		}},
		{"8 prefix swallowed and area code inserted", "( <9,:> 1 xxx xxxxxxx | <8,:1212> xxxxxxx )", plainOptions(), []step{
			{"8", "collect long 10s outside dial tone"}, {"5551234", "dial 12125551234 (sequence 1)"},
		}},
		{"outside tone from any candidate", "( [1-8]xx | 8, xxxxxxx )", plainOptions(), []step{
			{"8", "collect long 10s outside dial tone"}, {"1", "collect long 10s"}, {"2", "collect short 3s"},
		}},
		{"short master timer", "S:4, ( 00 | 011 xxxxx x. )", plainOptions(), []step{
			{"00", "dial 00 (sequence 0)"},
		}},
		{"international with a minimum of five digits", "S:4, ( 00 | 011 xxxxx x. )", plainOptions(), []step{
			{"0111234", "collect long 10s"}, {"5", "collect short 4s"}, {"6", "collect short 4s"},
			{"timeout", "dial 011123456 (sequence 1)"},
		}},
		{"nothing else is accepted", "S:4, ( 00 | 011 xxxxx x. )", plainOptions(), []step{
			{"02", "invalid"},
		}},
		{"both master timers", "L:8,S:4,( xxx | xxxx )", plainOptions(), []step{
			{"start", "collect long 8s"}, {"12", "collect long 8s"}, {"3", "collect short 4s"},
			{"4", "dial 1234 (sequence 1)"},
		}},
		{"sequence's own long timer", "( 9 L20 xxxxxxx | 8xxx )", plainOptions(), []step{
			{"start", "collect long 10s"}, {"9", "collect long 20s"},
		}},
		{"the longest long timer of the live candidates", "( 9 L20 xxxxxxx | 9xxx )", plainOptions(), []step{
			{"9", "collect long 20s"}, {"12", "collect long 20s"},
		}},
		{"the shortest short timer of the complete candidates", "( xxxx S1 | xxxx S2 | xxxxx. )", plainOptions(), []step{
			{"1234", "collect short 1s"}, {"timeout", "dial 1234 (sequence 0)"},
		}},
		{"short timer from the plan when the complete one sets none", "S:2,( xxxx | xxxxx. S6 )", plainOptions(), []step{
			{"1234", "collect short 2s"}, {"5", "collect short 6s"},
		}},
		{"substitution 8 → 1650", "( <8:1650>xxxxxxx )", plainOptions(), []step{
			{"85551212", "dial 16505551212 (sequence 0)"},
		}},
		{"prefix 1", "( <:1>xxxxxxxxxx )", plainOptions(), []step{
			{"9725550112", "dial 19725550112 (sequence 0)"},
		}},
		{"E.164 plus", "( <011:+>x. )", plainOptions(), []step{
			{"01144", "collect short 3s"}, {"timeout", "dial +44 (sequence 0)"},
		}},
		{"repetition matches zero and more", "( 01. )", plainOptions(), []step{
			{"0", "collect short 3s"}, {"1", "collect short 3s"}, {"1", "collect short 3s"},
			{"timeout", "dial 011 (sequence 0)"},
		}},
		{"a greedy repetition inside a substitution", "( <1.:9>1x )", plainOptions(), []step{
			{"1112", "dial 912 (sequence 0)"},
		}},
		{"a set with a range and a star", "( [235-8*]x )", plainOptions(), []step{
			{"4", "invalid"},
		}},
		{"a star in a set", "( [235-8*]x )", plainOptions(), []step{
			{"*5", "dial *5 (sequence 0)"},
		}},
		{"# as a key of a sequence", "( *xx# | xxx )", plainOptions(), []step{
			{"*12", "collect long 10s"}, {"#", "dial *12# (sequence 0)"},
		}},
		{"# sends when no sequence takes it", "( *xx# | xxx )", plainOptions(), []step{
			{"12", "collect long 10s"}, {"#", "dial 12 as dialled"},
		}},
		{"no candidate left", "( 1xxx )", plainOptions(), []step{
			{"2", "invalid"}, {"timeout", "invalid"}, {"start", "collect long 10s"}, {"1", "collect long 10s"},
		}},
		{"a byte that is no key changes nothing", "( 1xxx )", plainOptions(), []step{
			{"1", "collect long 10s"}, {"a-", "collect long 10s"}, {"234", "dial 1234 (sequence 0)"},
		}},
		{"L0 gives up at once", "L:0,( xxxx )", plainOptions(), []step{
			{"start", "invalid"},
		}},
		{"L0 sends what there is", "( 9 L0 xxxx )", plainOptions(), []step{
			{"9", "dial 9 as dialled"},
		}},

		// Options.
		{"reject incomplete at the timer", factoryPlan, Options{LongTimer: DefaultLongTimer, ShortTimer: DefaultShortTimer, RejectIncomplete: true}, []step{
			{"555", "collect long 10s"}, {"timeout", "invalid"},
		}},
		{"reject incomplete on #", factoryPlan, Options{LongTimer: DefaultLongTimer, ShortTimer: DefaultShortTimer, RejectIncomplete: true}, []step{
			{"555#", "invalid"},
		}},
		{"a code that is the prefix of another waits the short timer", "( xxxx )", Options{LongTimer: time.Second, ShortTimer: 500 * time.Millisecond, Codes: []Code{{Keys: "*7"}, {Keys: "*78"}}}, []step{
			{"*", "collect long 1s"}, {"7", "collect short 500ms"}, {"timeout", "code 0"},
		}},
		{"the longer code", "( xxxx )", Options{LongTimer: time.Second, ShortTimer: 500 * time.Millisecond, Codes: []Code{{Keys: "*7"}, {Keys: "*78"}}}, []step{
			{"*78", "code 1"},
		}},
		{"duplicate codes: the first wins", "( xxxx )", Options{LongTimer: time.Second, ShortTimer: time.Second, Codes: []Code{{Keys: "x"}, {Keys: "*5"}, {Keys: "*5", Arg: true}}}, []step{
			{"*5", "code 1"},
		}},
		{"a code with # in it", "( xxxx )", Options{LongTimer: time.Second, ShortTimer: time.Second, Codes: []Code{{Keys: "#21#"}}}, []step{
			{"#", "collect long 1s"}, {"21", "collect long 1s"}, {"#", "code 0"},
		}},
		{"IP dialling user id through the plan", "( <:1212>xxxxxxx )", Options{LongTimer: DefaultLongTimer, ShortTimer: DefaultShortTimer, IPDialing: true}, []step{
			{"5551234*10*0*0*1", "collect short 3s"}, {"timeout", "dial sip:12125551234@10.0.0.1:5060"},
		}},
		{"IP dialling user id barred", "( 1900xxxxxxx! | x. )", Options{LongTimer: DefaultLongTimer, ShortTimer: DefaultShortTimer, IPDialing: true}, []step{
			{"19005551234*10*0*0*1", "collect short 3s"}, {"send", "barred (sequence 0)"},
		}},
		{"IP dialling as the argument of a code", factoryPlan, factoryOptions(), []step{
			{"*72", "collect long 10s dial tone (code 4)"}, {"10*0*0*1", "collect short 3s (code 4)"},
			{"timeout", "code 4 sip:10.0.0.1:5060"},
		}},

		// The empty plan.
		{"empty plan collects until #", "", plainOptions(), []step{
			{"start", "collect long 10s"}, {"1*2", "collect long 10s"}, {"#", "dial 1*2 as dialled"},
		}},
		{"empty plan at the long timer", " ", factoryOptions(), []step{
			{"1002", "collect long 10s"}, {"timeout", "dial 1002 as dialled"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.plan)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.plan, err)
			}
			m := NewMatcher(p, tt.opts)
			runScript(t, m, tt.steps)
			// The same dialling again on the same matcher gives the same results: Start
			// forgets everything.
			m.Start()
			runScript(t, m, tt.steps)
		})
	}
}

// TestMatcherTimeoutAdvancesFromTheLastWait checks that successive timeouts add up: the long
// timer left after a pause is the long timer minus the pause.
func TestMatcherTimeoutAdvancesFromTheLastWait(t *testing.T) {
	p, err := Parse("( P2 P3 xx | P4 <:1> | xxx )")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(p, plainOptions())
	runScript(t, m, []step{
		{"start", "collect pause 2s"},
		{"timeout", "collect pause 1s"}, // P3 counts from the last key too: 3 s - 2 s
		{"timeout", "collect pause 1s"}, // the P4 sequence
		{"timeout", "dial 1 (sequence 1)"},
	})
}

func TestMatcherMaxKeys(t *testing.T) {
	m := NewMatcher(mustParse(t, "(x.)"), plainOptions())
	r := m.Keys(strings.Repeat("1", MaxKeys))
	if r.Action != ActionCollect || len(m.Dialled()) != MaxKeys {
		t.Fatalf("after %d keys: %v, %d dialled", MaxKeys, r, len(m.Dialled()))
	}
	if r := m.Key('1'); r.Action != ActionInvalid {
		t.Errorf("key %d = %v, want invalid", MaxKeys+1, r)
	}
}

func TestMatcherNilPlanIsOpen(t *testing.T) {
	m := NewMatcher(nil, plainOptions())
	if r := m.Keys("12#"); r.String() != "dial 12 as dialled" {
		t.Errorf("12# = %v", r)
	}
}

func TestCheckCode(t *testing.T) {
	for s, want := range map[string]bool{"*72": true, "#21#": true, "": false, "*7a": false, "* 7": false} {
		if got := CheckCode(s); got != want {
			t.Errorf("CheckCode(%q) = %v, want %v", s, got, want)
		}
	}
}

func mustParse(t testing.TB, text string) *Plan {
	t.Helper()
	p, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return p
}
