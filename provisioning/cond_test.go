package provisioning

import (
	"errors"
	"strings"
	"testing"
)

func TestCondEval(t *testing.T) {
	v := testVars(t) // SWVER 5.1.15(aSC), REGTMR1 0, REGTMR2 301, PRVTMR 650, PRVST -1
	tests := []struct {
		name string
		cond string
		want bool
	}{
		// SPA-BEHAVIOUR §2.1 examples.
		{name: "registered", cond: "$REGTMR1 eq 0", want: true},
		{name: "ccert quoted", cond: `"$CCERT" eq "Installed"`, want: true},
		{name: "gpp not provisioned", cond: `"$A" ne "Provisioned"`, want: false},
		{name: "swver ne", cond: "$SWVER ne 2.0.6", want: true},
		{name: "swver ge", cond: "$SWVER ge 2.0.6", want: true},
		{name: "trigger example", cond: "$REGTMR2 gt 300 and $PRVTMR ge 600", want: true},
		{name: "trigger example false", cond: "$REGTMR1 gt 300 and $PRVTMR ge 600", want: false},
		{name: "legacy bare not", cond: " ! 1.0.33 ", want: true},
		{name: "legacy bare not equal", cond: "! 5.1.15(aSC)", want: false},
		{name: "legacy implicit lt", cond: "<1.0", want: false},
		{name: "legacy implicit ge", cond: ">=5.1.15", want: true},
		{name: "implicit with mnemonic", cond: "ne 5.1.18", want: true},
		{name: "implicit in second term", cond: "gt 5.0 and lt 6.0", want: true},
		// Operators, both spellings.
		{name: "symbol =", cond: "1 = 1", want: true},
		{name: "symbol !=", cond: "1 != 2", want: true},
		{name: "symbol <", cond: "1<2", want: true},
		{name: "symbol <=", cond: "2<=2", want: true},
		{name: "symbol >", cond: "3>2", want: true},
		{name: "symbol >=", cond: "1>=2", want: false},
		{name: "mnemonic upper case", cond: "1 LT 2 AND 2 GT 1", want: true},
		{name: "no spaces", cond: "$PRVST=-1", want: true},
		// Typing.
		{name: "negative integer", cond: "$PRVST lt 0", want: true},
		{name: "numeric not textual", cond: "9 lt 10", want: true},
		{name: "leading zeros numeric", cond: "007 eq 7", want: true},
		{name: "version numeric parts", cond: "5.1.9 lt 5.1.10", want: true},
		{name: "version suffix", cond: "5.1.15 lt 5.1.15(a)", want: true},
		{name: "int vs version", cond: "$SWVER gt 5", want: true},
		{name: "int vs version equal", cond: "5 eq 5.0.0", want: true},
		{name: "negative int vs version", cond: "-1 lt 0.0.1", want: true},
		{name: "string eq unquoted word", cond: "$CCERT eq Installed", want: true},
		{name: "quoted number is a string", cond: `"$REGTMR1" eq "0"`, want: true},
		{name: "quoted vs unquoted text compare", cond: `"07" eq 7`, want: false},
		{name: "empty gpp", cond: `"$C" eq ""`, want: true},
		{name: "macro substring", cond: `"$(MAU:4)" eq "08012345"`, want: true},
		{name: "and all must hold", cond: "1 eq 1 and 2 eq 3", want: false},
		{name: "UPGCOND", cond: `"$UPGCOND" eq "true"`, want: true},
		{name: "version vs string eq", cond: `$SWVER eq "5.1.15(aSC)"`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCond(tt.cond)
			if err != nil {
				t.Fatalf("parseCond(%q): %v", tt.cond, err)
			}
			got, err := c.Eval(v)
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.cond, err)
			}
			if got != tt.want {
				t.Errorf("Eval(%q) = %v, want %v", tt.cond, got, tt.want)
			}
		})
	}
}

func TestCondEvalErrors(t *testing.T) {
	v := testVars(t)
	tests := []struct {
		name     string
		cond     string
		wantText string
	}{
		{name: "string lt", cond: `"$A" lt "B"`, wantText: `condition "$A" lt "B": ordering comparison on a string`},
		{name: "string vs int gt", cond: `$CCERT gt 1`, wantText: "condition $CCERT gt 1: ordering comparison on a string"},
		{name: "implicit swver empty", cond: "< 1.0", wantText: "condition lt 1.0: ordering comparison on a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCond(tt.cond)
			if err != nil {
				t.Fatal(err)
			}
			env := v
			if tt.name == "implicit swver empty" {
				env = &Vars{}
			}
			_, err = c.Eval(env)
			if !errors.Is(err, ErrStringOrder) {
				t.Fatalf("Eval(%q) error = %v, want ErrStringOrder", tt.cond, err)
			}
			if err.Error() != tt.wantText {
				t.Errorf("error = %q, want %q", err, tt.wantText)
			}
		})
	}
}

func TestNilCondIsTrue(t *testing.T) {
	var c *Cond
	ok, err := c.Eval(nil)
	if !ok || err != nil {
		t.Errorf("nil Cond Eval = %v, %v; want true, nil", ok, err)
	}
	if s := c.String(); s != "" {
		t.Errorf("nil Cond String() = %q", s)
	}
	if c.Unset() {
		t.Error("nil Cond Unset() = true")
	}
	if ok, err := (&Cond{}).Eval(nil); ok || err != nil {
		t.Errorf("Cond without terms Eval = %v, %v; want false, nil", ok, err)
	}
}

func TestParseTrigger(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		wantSet bool   // false: the trigger is not set (empty or commented)
		want    string // String(); "" when an error is expected
		wantErr string
	}{
		{name: "manual example", text: "$REGTMR1 gt 300 and $PRVTMR ge 600", wantSet: true, want: "$REGTMR1 gt 300 and $PRVTMR ge 600"},
		{name: "symbols", text: `"$A"="x"`, wantSet: true, want: `"$A" eq "x"`},
		{name: "empty", text: "  "},
		{name: "commented", text: "# $REGTMR1 gt 300"},
		{name: "wrapped in rule syntax", text: "($REGTMR1 gt 300)?", wantErr: `trigger: write the bare condition, without "( )?"`},
		{name: "or", text: "1 eq 1 or 2 eq 2", wantErr: `trigger: there is no "or" in conditions: use one alternative per case`},
		{name: "double equals", text: "$A == 1", wantErr: `trigger: "==" is not an operator: use "=" or "eq"`},
		{name: "diamond", text: "$A <> 1", wantErr: `trigger: "<>" is not an operator: use "!=" or "ne"`},
		{name: "no operator", text: "$REGTMR1", wantErr: "trigger: comparison 1: missing operator after $REGTMR1"},
		{name: "two operands", text: "$A 1", wantErr: "trigger: comparison 1: missing operator between $A and 1"},
		{name: "no right operand", text: "$A eq", wantErr: "trigger: comparison 1: operator eq without a right operand"},
		{name: "trailing and", text: "1 eq 1 and", wantErr: `trigger: "and" at the end of the condition`},
		{name: "leading and", text: "and 1 eq 1", wantErr: `trigger: comparison 1: "and" without a comparison before it`},
		{name: "missing and", text: "1 eq 1 2 eq 2", wantErr: `trigger: comparison 1: expected "and" after 1 eq 1`},
		{name: "unterminated quote", text: `"$A eq 1`, wantErr: "trigger: unterminated quoted string"},
		{name: "grouping parentheses", text: "($A eq 1) and 1 eq 1", wantErr: "trigger: parentheses cannot group comparisons"},
		{name: "closing parenthesis", text: "$A eq 1)", wantErr: "trigger: parentheses cannot group comparisons"},
		{name: "operator twice", text: "1 eq eq 1", wantErr: "trigger: comparison 1: operator eq without a right operand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseTrigger(tt.text)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseTrigger(%q) error = %v, want %q", tt.text, err, tt.wantErr)
				}
				if !errors.Is(err, ErrSyntax) {
					t.Errorf("error %v does not wrap ErrSyntax", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTrigger(%q): %v", tt.text, err)
			}
			if c == nil {
				t.Fatalf("ParseTrigger(%q) = nil", tt.text)
			}
			if c.Unset() == tt.wantSet {
				t.Errorf("ParseTrigger(%q).Unset() = %v, want %v", tt.text, c.Unset(), !tt.wantSet)
			}
			if !tt.wantSet {
				// An unset trigger never fires, whatever the environment.
				if ok, err := c.Eval(testVars(t)); ok || err != nil {
					t.Errorf("unset trigger Eval = %v, %v; want false, nil", ok, err)
				}
				return
			}
			if got := c.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOpString(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{OpUnknown, "unknown"}, {OpEq, "eq"}, {OpNe, "ne"}, {OpLt, "lt"}, {OpLe, "le"}, {OpGt, "gt"}, {OpGe, "ge"}, {Op(99), "unknown"},
	}
	for _, tt := range tests {
		if got := tt.op.String(); got != tt.want {
			t.Errorf("Op(%d).String() = %q, want %q", int(tt.op), got, tt.want)
		}
	}
}

func FuzzCondEval(f *testing.F) {
	for _, s := range []string{
		"$REGTMR1 eq 0", `"$CCERT" eq "Installed"`, "$SWVER ge 2.0.6", "! 1.0.33", "<1.0",
		"$REGTMR1 gt 300 and $PRVTMR ge 600", `"$A" lt "b"`, "5.1.15(aSC) ne 5.1.15(a)", "$PRVST=-1",
		"-99999999999999999999 lt 1", "1.2.3.4 ge 4294967295", "$(MAU:4) eq 08012345", "== <> or and",
	} {
		f.Add(s)
	}
	v := testVars(f)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseTrigger(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseTrigger(%q) error %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		if c.Unset() {
			if t := strings.TrimSpace(s); t != "" && t[0] != '#' {
				panic("unset trigger for a non-empty, uncommented text")
			}
			if ok, err := c.Eval(v); ok || err != nil {
				t.Fatalf("unset trigger Eval = %v, %v", ok, err)
			}
			return
		}
		ok, err := c.Eval(v)
		if err != nil && !errors.Is(err, ErrStringOrder) && !strings.Contains(err.Error(), "unknown operator") {
			t.Fatalf("Eval(%q): unexpected error %v", s, err)
		}
		if err != nil && ok {
			t.Fatalf("Eval(%q) = true with error %v", s, err)
		}
		// The canonical form parses to the same canonical form.
		c2, err := ParseTrigger(c.String())
		if err != nil {
			t.Fatalf("ParseTrigger(String() = %q) of %q: %v", c.String(), s, err)
		}
		if c2.String() != c.String() {
			t.Fatalf("round trip of %q: %q, then %q", s, c.String(), c2.String())
		}
	})
}
