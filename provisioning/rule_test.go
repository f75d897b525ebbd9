package provisioning

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// altSummary is a comparable digest of an Alternative.
type altSummary struct {
	Cond    string
	Assign  []Assignment
	Options Options
	HasOpts bool
	URL     string
}

func summarize(r *Rule) []altSummary {
	var out []altSummary
	for _, a := range r.Alternatives {
		out = append(out, altSummary{Cond: a.Cond.String(), Assign: a.Assign, Options: a.Options, HasOpts: a.HasOptions, URL: a.URL})
	}
	return out
}

func TestParseRule(t *testing.T) {
	tests := []struct {
		name string
		text string
		kind RuleKind
		want []altSummary
	}{
		// SPA-BEHAVIOUR §2.1 examples, literally.
		{
			name: "plain URL", text: "http://remote.server.com/Linksys/$MA.cfg", kind: ProfileRule,
			want: []altSummary{{URL: "http://remote.server.com/Linksys/$MA.cfg"}},
		},
		{
			name: "registered or post", text: "($REGTMR1 eq 0)? http://p.tel.com/has-reg.cfg | [--post a] http://p.tel.com/lost-reg?", kind: ProfileRule,
			want: []altSummary{
				{Cond: "$REGTMR1 eq 0", URL: "http://p.tel.com/has-reg.cfg"},
				{Options: Options{Post: "a"}, HasOpts: true, URL: "http://p.tel.com/lost-reg?"},
			},
		},
		{
			name: "client certificate", text: `("$CCERT" eq "Installed")? https://p.tel.com/config? | https://p.tel.com/config?Linksys$MAU`, kind: ProfileRule,
			want: []altSummary{
				{Cond: `"$CCERT" eq "Installed"`, URL: "https://p.tel.com/config?"},
				{URL: "https://p.tel.com/config?Linksys$MAU"},
			},
		},
		{
			name: "condition assignment url", text: `("$A" ne "Provisioned")? (Line_Enable_1_ = "No";)! https://p.tel.com/init-prov | https://p.tel.com/configs`, kind: ProfileRule,
			want: []altSummary{
				{Cond: `"$A" ne "Provisioned"`, Assign: []Assignment{{Name: "Line_Enable_1_", Value: "No"}}, URL: "https://p.tel.com/init-prov"},
				{URL: "https://p.tel.com/configs"},
			},
		},
		{
			name: "alias", text: "[--alias b] https://p.tel.com/account/spa$MA.xml", kind: ProfileRule,
			want: []altSummary{{Options: Options{Alias: "b"}, HasOpts: true, URL: "https://p.tel.com/account/spa$MA.xml"}},
		},
		{
			name: "upgrade rule", text: "( $SWVER ne 2.0.6 )? http://ps.tell.com/sw/spa021024.bin", kind: UpgradeRule,
			want: []altSummary{{Cond: "$SWVER ne 2.0.6", URL: "http://ps.tell.com/sw/spa021024.bin"}},
		},
		{
			name: "upgrade rule best practice", text: "($SWVER ne 5.1.18)? http://x/spa942-5-1-18.bin", kind: UpgradeRule,
			want: []altSummary{{Cond: "$SWVER ne 5.1.18", URL: "http://x/spa942-5-1-18.bin"}},
		},
		{
			name: "assignments manual example", text: `( User_ID_1_ = "uid$B" ; c = "" ; d = "$MA" ; )!`, kind: ProfileRule,
			want: []altSummary{{Assign: []Assignment{{Name: "User_ID_1_", Value: "uid$B"}, {Name: "c", Value: ""}, {Name: "d", Value: "$MA"}}}},
		},
		{
			name: "default rule", text: "/spa$PSN.cfg", kind: ProfileRule,
			want: []altSummary{{URL: "/spa$PSN.cfg"}},
		},
		// Legacy forms.
		{
			name: "legacy bare not", text: "( ! 1.0.33 )? http://x/fw.bin", kind: UpgradeRule,
			want: []altSummary{{Cond: "ne 1.0.33", URL: "http://x/fw.bin"}},
		},
		{
			name: "legacy implicit lt with version parens", text: "(<1.0(a))? /old.cfg | /new.cfg", kind: ProfileRule,
			want: []altSummary{{Cond: "lt 1.0(a)", URL: "/old.cfg"}, {URL: "/new.cfg"}},
		},
		{
			name: "version suffix in condition", text: "($SWVER eq 5.1.15(aSC))? /a.cfg", kind: ProfileRule,
			want: []altSummary{{Cond: "$SWVER eq 5.1.15(aSC)", URL: "/a.cfg"}},
		},
		{
			name: "macro paren form in condition", text: `($(MAU:4) eq 08012345)? /a.cfg`, kind: ProfileRule,
			want: []altSummary{{Cond: "$(MAU:4) eq 08012345", URL: "/a.cfg"}},
		},
		// Options (§2.4).
		{
			name: "quoted key", text: `[--key "my secret phrase"] http://prov.telco.com/path/profile.cfg`, kind: ProfileRule,
			want: []altSummary{{Options: Options{Key: "my secret phrase", HasKey: true}, HasOpts: true, URL: "http://prov.telco.com/path/profile.cfg"}},
		},
		{
			name: "hex key", text: `[--key a37d2fb9055c1d04883a0745eb0917a4] http://x/p.cfg`, kind: ProfileRule,
			want: []altSummary{{Options: Options{Key: "a37d2fb9055c1d04883a0745eb0917a4", HasKey: true}, HasOpts: true, URL: "http://x/p.cfg"}},
		},
		{
			name: "post and alias", text: "[--post j --alias k] http://x/p", kind: ProfileRule,
			want: []altSummary{{Options: Options{Post: "j", Alias: "k"}, HasOpts: true, URL: "http://x/p"}},
		},
		{
			name: "key and alias", text: `[--key "SymmetricSecret" --alias a] http://x/p`, kind: ProfileRule,
			want: []altSummary{{Options: Options{Key: "SymmetricSecret", HasKey: true, Alias: "a"}, HasOpts: true, URL: "http://x/p"}},
		},
		{
			name: "secret macro key and post", text: `[--key "$SB" --post g] http://x/p`, kind: ProfileRule,
			want: []altSummary{{Options: Options{Key: "$SB", HasKey: true, Post: "g"}, HasOpts: true, URL: "http://x/p"}},
		},
		{
			name: "three options", text: "[--alias a --key abracadabra321 --post c] http://x/p", kind: ProfileRule,
			want: []altSummary{{Options: Options{Key: "abracadabra321", HasKey: true, Alias: "a", Post: "c"}, HasOpts: true, URL: "http://x/p"}},
		},
		{
			name: "key of the report rule", text: "[ --key $K ] tftp://ps.callhome.net/$MA/rep.xml.enc", kind: ReportRule,
			want: []altSummary{{Options: Options{Key: "$K", HasKey: true}, HasOpts: true, URL: "tftp://ps.callhome.net/$MA/rep.xml.enc"}},
		},
		{
			name: "uid pwd extension no space before URL", text: "[--uid bob --pwd s3cret]http://pbx.example.com/app/provision/?mac=$MA", kind: ProfileRule,
			want: []altSummary{{Options: Options{UID: "bob", Pwd: "s3cret"}, HasOpts: true, URL: "http://pbx.example.com/app/provision/?mac=$MA"}},
		},
		{
			name: "upper case letter", text: "[--post F] http://x/p", kind: ProfileRule,
			want: []altSummary{{Options: Options{Post: "f"}, HasOpts: true, URL: "http://x/p"}},
		},
		{
			name: "empty key", text: `[--key ""] http://x/p`, kind: ProfileRule,
			want: []altSummary{{Options: Options{HasKey: true}, HasOpts: true, URL: "http://x/p"}},
		},
		{
			name: "empty options", text: "[ ] http://x/p", kind: ProfileRule,
			want: []altSummary{{HasOpts: true, URL: "http://x/p"}},
		},
		// Separators.
		{
			name: "bar inside quoted key", text: `("$A" eq "x")? [--key "a|b"] http://x/p | http://y/q`, kind: ProfileRule,
			want: []altSummary{{Cond: `"$A" eq "x"`, Options: Options{Key: "a|b", HasKey: true}, HasOpts: true, URL: "http://x/p"}, {URL: "http://y/q"}},
		},
		{
			name: "bar inside brackets unquoted", text: `("$A" eq "x")? [--key a|b] http://x/p | http://y/q`, kind: ProfileRule,
			want: []altSummary{{Cond: `"$A" eq "x"`, Options: Options{Key: "a|b", HasKey: true}, HasOpts: true, URL: "http://x/p"}, {URL: "http://y/q"}},
		},
		{
			name: "bar inside condition quotes", text: `("$A" eq "x|y")? http://x/p|http://y/q`, kind: ProfileRule,
			want: []altSummary{{Cond: `"$A" eq "x|y"`, URL: "http://x/p"}, {URL: "http://y/q"}},
		},
		{
			name: "bar inside assignment", text: `(a = "1|2";)! http://x/p`, kind: ProfileRule,
			want: []altSummary{{Assign: []Assignment{{Name: "a", Value: "1|2"}}, URL: "http://x/p"}},
		},
		{
			name: "bar in query separates", text: `("$A" eq "x")? http://x/p?a|b`, kind: ProfileRule,
			want: []altSummary{{Cond: `"$A" eq "x"`, URL: "http://x/p?a"}, {URL: "b"}},
		},
		{
			name: "trailing empty alternative", text: `("$A" eq "x")? http://x/p |`, kind: ProfileRule,
			want: []altSummary{{Cond: `"$A" eq "x"`, URL: "http://x/p"}, {}},
		},
		{
			name: "three alternatives", text: "($REGTMR1 eq 0)? /a | ($REGTMR2 eq 0)? /b | /c", kind: ProfileRule,
			want: []altSummary{{Cond: "$REGTMR1 eq 0", URL: "/a"}, {Cond: "$REGTMR2 eq 0", URL: "/b"}, {URL: "/c"}},
		},
		{
			name: "condition only", text: "($A eq 1)?", kind: ProfileRule,
			want: []altSummary{{Cond: "$A eq 1"}},
		},
		{
			name: "white space free", text: "\t(  $A  eq  1  )  ?  ( a = \"x\" )  !  [  --key  k  ]  /p.cfg  ", kind: ProfileRule,
			want: []altSummary{{Cond: "$A eq 1", Assign: []Assignment{{Name: "a", Value: "x"}}, Options: Options{Key: "k", HasKey: true}, HasOpts: true, URL: "/p.cfg"}},
		},
		{
			name: "assignment without final semicolon", text: `(GPP_A = "x"; Line_Enable_1_ = "No")!`, kind: UpgradeRule,
			want: []altSummary{{Assign: []Assignment{{Name: "GPP_A", Value: "x"}, {Name: "Line_Enable_1_", Value: "No"}}}},
		},
		{
			name: "hyphen in parameter name", text: `(Auth_Resync-Reboot_1_ = "No";)!`, kind: ProfileRule,
			want: []altSummary{{Assign: []Assignment{{Name: "Auth_Resync-Reboot_1_", Value: "No"}}}},
		},
		{
			name: "empty assignments", text: `()! /p`, kind: ProfileRule,
			want: []altSummary{{URL: "/p"}},
		},
		// Comments and empty values.
		{name: "empty", text: "", kind: ProfileRule},
		{name: "blank", text: " \t ", kind: UpgradeRule},
		{name: "commented out", text: "# http://x/p.cfg", kind: ProfileRule},
		{name: "commented after blanks", text: "  #($A eq 1)? http://x", kind: ReportRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRule(tt.text, tt.kind)
			if err != nil {
				t.Fatalf("ParseRule(%q, %v): %v", tt.text, tt.kind, err)
			}
			got := summarize(r)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRule(%q) =\n%+v\nwant\n%+v", tt.text, got, tt.want)
			}
			if r.Empty() != (len(tt.want) == 0) {
				t.Errorf("Empty() = %v with %d alternatives", r.Empty(), len(tt.want))
			}
		})
	}
}

func TestParseRuleErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		kind RuleKind
		want string
	}{
		{name: "unclosed condition", text: "($A eq 1 http://x/p", kind: ProfileRule, want: `rule: alternative 1: condition without ")?"`},
		{name: "condition without question mark", text: "($A eq 1) http://x/p", kind: ProfileRule, want: `rule: alternative 1: condition without ")?"`},
		{name: "assignments without bang", text: `(a = "x";) http://x/p`, kind: ProfileRule, want: `rule: alternative 1: assignments without ")!"`},
		{name: "second alternative unclosed", text: `($A eq 1)? /a | ($B eq 2 /b`, kind: ProfileRule, want: `rule: alternative 2: condition without ")?"`},
		{name: "no condition before last", text: "http://x/p | http://y/q", kind: ProfileRule, want: "rule: alternative 1: no condition, but it is not the last alternative"},
		{name: "bar inside quoted key still two alternatives", text: `[--key "a|b"] http://x/p | http://y/q`, kind: ProfileRule, want: "rule: alternative 1: no condition, but it is not the last alternative"},
		{name: "empty middle alternative", text: "($A eq 1)? /a | | /c", kind: ProfileRule, want: "rule: alternative 2: no condition, but it is not the last alternative"},
		{name: "leading bar", text: "| /c", kind: ProfileRule, want: "rule: alternative 1: no condition, but it is not the last alternative"},
		{name: "condition after assignments", text: `(a = "x";)! ($A eq 1)? /p`, kind: ProfileRule, want: `rule: alternative 1: condition after the assignments: write "( cond )?" first`},
		{name: "two conditions", text: `($A eq 1)? ($B eq 1)? /p`, kind: ProfileRule, want: `rule: alternative 1: two conditions: join the comparisons with "and"`},
		{name: "two assignment groups", text: `(a = "x";)! (b = "y";)! /p`, kind: ProfileRule, want: "rule: alternative 1: two assignment groups: put all assignments in one \"( … )!\""},
		{name: "bad condition", text: `($A eq)? /p`, kind: ProfileRule, want: "rule: alternative 1: condition: comparison 1: operator eq without a right operand"},
		{name: "or in condition", text: `($A eq 1 or $B eq 2)? /p`, kind: ProfileRule, want: `rule: alternative 1: condition: there is no "or" in conditions: use one alternative per case`},
		{name: "nested parentheses", text: `(($A eq 1))? /p`, kind: ProfileRule, want: "rule: alternative 1: condition: parentheses cannot group comparisons"},
		{name: "empty condition", text: `()? /p`, kind: ProfileRule, want: "rule: alternative 1: condition: empty condition"},
		{name: "unknown option", text: "[--foo x] http://x/p", kind: ProfileRule, want: "rule: alternative 1: options: unknown option --foo"},
		{name: "option without value", text: "[--key] http://x/p", kind: ProfileRule, want: "rule: alternative 1: options: --key without a value"},
		{name: "option value is option", text: "[--post --alias b] http://x/p", kind: ProfileRule, want: "rule: alternative 1: options: --post without a value"},
		{name: "repeated option", text: "[--post a --post b] http://x/p", kind: ProfileRule, want: "rule: alternative 1: options: --post given twice"},
		{name: "post not a letter", text: "[--post q] http://x/p", kind: ProfileRule, want: "rule: alternative 1: options: --post takes a GPP letter a…p"},
		{name: "alias not a letter", text: "[--alias GPP_A] http://x/p", kind: ProfileRule, want: "rule: alternative 1: options: --alias takes a GPP letter a…p"},
		{name: "key with unquoted spaces", text: "[--key my secret] http://x/p", kind: ProfileRule, want: "rule: alternative 1: options: expected an option such as --key (quote an argument that contains spaces)"},
		{name: "unterminated quoted key", text: `[--key "abc] http://x/p`, kind: ProfileRule, want: `rule: alternative 1: options without "]"`},
		{name: "unterminated quote inside brackets", text: `[--key "abc"d"] http://x/p`, kind: ProfileRule, want: `rule: alternative 1: options without "]"`},
		{name: "options without bracket", text: "[--key k http://x/p", kind: ProfileRule, want: `rule: alternative 1: options without "]"`},
		{name: "options without URL", text: "[--key k]", kind: ProfileRule, want: "rule: alternative 1: options without a URL"},
		{name: "options in upgrade rule", text: "[--key k] http://x/fw.bin", kind: UpgradeRule, want: "rule: alternative 1: URL options are not allowed in Upgrade_Rule"},
		{name: "options in upgrade second alternative", text: "($A eq 1)? /a | [--post a] /b", kind: UpgradeRule, want: "rule: alternative 2: URL options are not allowed in Upgrade_Rule"},
		{name: "condition in report rule", text: "($A eq 1)? http://x/r", kind: ReportRule, want: "rule: alternative 1: Report_Rule takes no condition"},
		{name: "assignment in report rule", text: `(a = "1";)! http://x/r`, kind: ReportRule, want: "rule: alternative 1: Report_Rule takes no assignments"},
		{name: "post in report rule", text: "[--post a] http://x/r", kind: ReportRule, want: "rule: alternative 1: options: --post is not allowed in Report_Rule"},
		{name: "alternatives in report rule", text: "http://x/r | http://y/r", kind: ReportRule, want: "rule: alternative 1: no condition, but it is not the last alternative"},
		{name: "space in URL", text: "http://x/a b.cfg", kind: ProfileRule, want: "rule: alternative 1: white space inside the URL (a condition or options after the URL?)"},
		{name: "condition after URL", text: "http://x/p ($A eq 1)?", kind: ProfileRule, want: "rule: alternative 1: white space inside the URL (a condition or options after the URL?)"},
		{name: "options after assignments out of order", text: `[--key k] ($A eq 1)? /p`, kind: ProfileRule, want: `rule: alternative 1: "(" out of order: write ( cond )? then ( assignments )! then [ options ] then the URL`},
		{name: "assignment value unquoted", text: `(a = x;)! /p`, kind: ProfileRule, want: "rule: alternative 1: assignments: assignment to a: the value must be in double quotes"},
		{name: "assignment without equals", text: `(a "x";)! /p`, kind: ProfileRule, want: `rule: alternative 1: assignments: assignment to a: expected "="`},
		{name: "assignment without semicolon", text: `(a = "x" b = "y")! /p`, kind: ProfileRule, want: `rule: alternative 1: assignments: assignment to a: expected ";" after the value`},
		{name: "assignment bad short name", text: `(q = "x";)! /p`, kind: ProfileRule, want: "rule: alternative 1: assignments: assignment to q: the GPP short names are a…p"},
		{name: "assignment no name", text: `(= "x";)! /p`, kind: ProfileRule, want: "rule: alternative 1: assignments: assignment 1: expected a parameter name"},
		{name: "assignment digit name", text: `(1a = "x";)! /p`, kind: ProfileRule, want: "rule: alternative 1: assignments: assignment 1: parameter name must start with a letter"},
		{name: "assignment unterminated", text: `(a = "x;)! /p`, kind: ProfileRule, want: `rule: alternative 1: assignments without ")!"`},
		{name: "unknown kind", text: "/p", kind: RuleKindUnknown, want: "rule: unknown rule kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRule(tt.text, tt.kind)
			if err == nil {
				t.Fatalf("ParseRule(%q) = %+v, want error %q", tt.text, summarize(r), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseRule(%q) error\n got %q\nwant %q", tt.text, err, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v is not a *SyntaxError wrapping ErrSyntax", err)
			}
		})
	}
}

func TestParseRuleErrorsDoNotLeakKeys(t *testing.T) {
	for _, text := range []string{
		"[--key topsecret extra] http://x/p",
		`[--key "topsecret"] http://x/ p`,
		`[--key "topsecret" --bogus] http://x/p`,
		`[--key topsecret --key topsecret] http://x/p`,
		`[--pwd topsecret --pwd] http://x/p`,
		"[--key topsecret] http://x/p",
	} {
		_, err := ParseRule(text, UpgradeRule)
		if err == nil {
			_, err = ParseRule(text, ProfileRule)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("ParseRule(%q) error %q leaks the key", text, err)
		}
	}
}

func TestRuleSelect(t *testing.T) {
	v := testVars(t) // REGTMR1 0 (registered), CCERT installed, GPP_A "Provisioned"
	tests := []struct {
		name    string
		text    string
		env     Env
		wantURL string
		wantOK  bool
	}{
		{name: "registered", text: "($REGTMR1 eq 0)? http://p.tel.com/has-reg.cfg | [--post a] http://p.tel.com/lost-reg?", env: v, wantURL: "http://p.tel.com/has-reg.cfg", wantOK: true},
		{name: "lost registration", text: "($REGTMR2 eq 0)? http://p.tel.com/has-reg.cfg | [--post a] http://p.tel.com/lost-reg?", env: v, wantURL: "http://p.tel.com/lost-reg?", wantOK: true},
		{name: "already provisioned", text: `("$A" ne "Provisioned")? (Line_Enable_1_ = "No";)! https://p.tel.com/init-prov | https://p.tel.com/configs`, env: v, wantURL: "https://p.tel.com/configs", wantOK: true},
		{name: "no alternative selected", text: "($SWVER eq 5.1.18)? http://x/fw.bin", env: v, wantOK: false},
		{name: "upgrade needed", text: "($SWVER ne 5.1.18)? http://x/fw.bin", env: v, wantURL: "http://x/fw.bin", wantOK: true},
		{name: "empty rule skipped", text: "#http://x/p", env: v, wantOK: false},
		{name: "condition only selects nothing to fetch", text: "($A eq Provisioned)?", env: v, wantURL: "", wantOK: true},
		{name: "nil env", text: "/spa$PSN.cfg", env: nil, wantURL: "/spa$PSN.cfg", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRule(tt.text, ProfileRule)
			if err != nil {
				t.Fatal(err)
			}
			alt, ok, err := r.Select(tt.env)
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if ok != tt.wantOK {
				t.Fatalf("Select ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && alt.URL != tt.wantURL {
				t.Errorf("Select URL = %q, want %q", alt.URL, tt.wantURL)
			}
			if !ok && alt != nil {
				t.Errorf("Select = %+v with ok false", alt)
			}
		})
	}
}

func TestRuleSelectError(t *testing.T) {
	r, err := ParseRule(`("$A" eq "x")? /a | ("$A" gt "x")? /b | /c`, ProfileRule)
	if err != nil {
		t.Fatal(err)
	}
	_, ok, err := r.Select(testVars(t))
	if !errors.Is(err, ErrStringOrder) || ok {
		t.Fatalf("Select = %v, %v; want ErrStringOrder", ok, err)
	}
	if want := `rule: alternative 2: condition "$A" gt "x": ordering comparison on a string`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	var nilRule *Rule
	if alt, ok, err := nilRule.Select(nil); alt != nil || ok || err != nil {
		t.Errorf("nil Rule Select = %v, %v, %v", alt, ok, err)
	}
}

func TestAlternativeExpand(t *testing.T) {
	v := testVars(t)
	r, err := ParseRule(`("$CCERT" eq "Installed")? ( User_ID_1_ = "uid$B" ; c = "" ; d = "$MA" ; )! [--key $SA --uid u$UID1 --pwd $SB] https://p.tel.com/config?Linksys$MAU`, ProfileRule)
	if err != nil {
		t.Fatal(err)
	}
	alt, ok, err := r.Select(v)
	if err != nil || !ok {
		t.Fatalf("Select = %v, %v", ok, err)
	}
	if got, want := alt.ExpandURL(v), "https://p.tel.com/config?Linksys000E08012345"; got != want {
		t.Errorf("ExpandURL = %q, want %q", got, want)
	}
	got := alt.Options.Expand(v)
	want := Options{Key: "secret-a", HasKey: true, UID: "u1001", Pwd: "$SB"}
	if got != want {
		t.Errorf("Options.Expand = %+v, want %+v", got, want)
	}
	params := []string{}
	for _, a := range alt.Assign {
		params = append(params, a.Name+"="+Expand(a.Value, v))
	}
	if got, want := strings.Join(params, ","), "User_ID_1_=uidbee,c=,d=000e08012345"; got != want {
		t.Errorf("assignments = %q, want %q", got, want)
	}
}

func TestRuleKindString(t *testing.T) {
	tests := []struct {
		k    RuleKind
		want string
	}{
		{RuleKindUnknown, "unknown"}, {ProfileRule, "Profile_Rule"}, {UpgradeRule, "Upgrade_Rule"}, {ReportRule, "Report_Rule"}, {RuleKind(42), "unknown"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("RuleKind(%d).String() = %q, want %q", int(tt.k), got, tt.want)
		}
	}
}

func BenchmarkParseRule(b *testing.B) {
	text := `("$A" ne "Provisioned")? (Line_Enable_1_ = "No"; a = "Provisioned";)! [--key "$SA" --post f] https://p.tel.com/init-prov?$MA | ($SWVER ge 5.1.15(a) and $REGTMR1 eq 0)? https://p.tel.com/configs/spa$MA.xml | http://p.tel.com/fallback.cfg`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRule(text, ProfileRule); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"http://remote.server.com/Linksys/$MA.cfg",
		"($REGTMR1 eq 0)? http://p.tel.com/has-reg.cfg | [--post a] http://p.tel.com/lost-reg?",
		`("$CCERT" eq "Installed")? https://p.tel.com/config? | https://p.tel.com/config?Linksys$MAU`,
		`("$A" ne "Provisioned")? (Line_Enable_1_ = "No";)! https://p.tel.com/init-prov | https://p.tel.com/configs`,
		"[--alias b] https://p.tel.com/account/spa$MA.xml",
		"( $SWVER ne 2.0.6 )? http://ps.tell.com/sw/spa021024.bin",
		`( User_ID_1_ = "uid$B" ; c = "" ; d = "$MA" ; )!`,
		`[--key "my secret phrase"] http://prov.telco.com/path/profile.cfg`,
		"[--uid u --pwd p]http://x/?mac=$MA", "( ! 1.0.33 )? /x", "(<1.0(a))? /a | /b", "#", "|", "()!", "()?",
		`[--key "a|b"] x | y`, "((((", "))))?", `("`, "[", "]", "(a eq b)!", `(a = "x")?`,
	} {
		for k := ProfileRule; k <= ReportRule; k++ {
			f.Add(s, int(k))
		}
	}
	v := testVars(f)
	f.Fuzz(func(t *testing.T, s string, kind int) {
		k := RuleKind(kind%4 + 0)
		r, err := ParseRule(s, k)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseRule(%q) error %v is not a *SyntaxError", s, err)
			}
			return
		}
		for i, a := range r.Alternatives {
			if i < len(r.Alternatives)-1 && a.Cond == nil {
				t.Fatalf("ParseRule(%q): alternative %d without condition accepted", s, i+1)
			}
			if k == UpgradeRule && a.HasOptions {
				t.Fatalf("ParseRule(%q): options accepted in Upgrade_Rule", s)
			}
			if strings.ContainsAny(a.URL, " \t\n") {
				t.Fatalf("ParseRule(%q): URL %q with white space", s, a.URL)
			}
		}
		alt, ok, err := r.Select(v)
		if err == nil && ok {
			_, _ = ParseURL(alt.ExpandURL(v), "10.0.0.1")
			_ = alt.Options.Expand(v)
		}
	})
}
