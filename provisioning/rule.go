package provisioning

import (
	"fmt"
	"strings"
)

// RuleKind says which parameter a rule comes from, which decides what it may contain.
type RuleKind int

// The kinds of rule.
const (
	// RuleKindUnknown is the zero RuleKind; ParseRule refuses it.
	RuleKindUnknown RuleKind = iota
	// ProfileRule is Profile_Rule, Profile_Rule_B, _C and _D: conditions, assignments, URL
	// options and a URL (SPA-BEHAVIOUR §2.1, §2.4).
	ProfileRule
	// UpgradeRule is Upgrade_Rule: the same grammar without URL options (§4.2).
	UpgradeRule
	// ReportRule is Report_Rule: one URL with optional options, nothing else (§4.5).
	ReportRule
)

// String returns the parameter name the kind stands for.
func (k RuleKind) String() string {
	switch k {
	case ProfileRule:
		return "Profile_Rule"
	case UpgradeRule:
		return "Upgrade_Rule"
	case ReportRule:
		return "Report_Rule"
	}
	return "unknown"
}

// Rule is a parsed Profile_Rule*, Upgrade_Rule or Report_Rule value (SPA-BEHAVIOUR §2.1). A rule
// without alternatives (empty, or commented out with a leading #) is skipped. A Rule is
// immutable after [ParseRule] and safe for concurrent use.
type Rule struct {
	Alternatives []Alternative
}

// Alternative is one `|`-separated part of a rule:
// `[ "(" cond ")?" ] [ "(" assignments ")!" ] [ [ "[" options "]" ] URL ]`.
type Alternative struct {
	// Cond selects the alternative; nil means always.
	Cond *Cond
	// Assign are the assignments, run before the fetch, in order.
	Assign []Assignment
	// Options are the bracketed URL options, unexpanded.
	Options Options
	// HasOptions reports whether a [ … ] was written, even an empty one.
	HasOptions bool
	// URL is the URL as written, not macro-expanded; empty for an alternative without a URL
	// (assignments only, which always succeeds).
	URL string
}

// Assignment is one `Name = "value" ;` of an assignment expression (SPA-BEHAVIOUR §2.1).
type Assignment struct {
	// Name is the parameter name as written: "a"…"p" for GPP_A…GPP_P, else a profile name
	// such as "GPP_A" or "Line_Enable_1_". config.AssignedName gives the parameter.
	Name string
	// Value is the value without its quotes, not macro-expanded.
	Value string
}

// Options are the bracketed options before a URL (SPA-BEHAVIOUR §2.4), unexpanded.
type Options struct {
	// Key is the --key argument: the passphrase of an encrypted profile. Expand it with
	// [ExpandKey]. Never log it.
	Key string
	// HasKey reports whether --key was given (the key may be the empty string).
	HasKey bool
	// Post is the --post letter, "a"…"p" in lower case, or "": POST the macro-expanded GPP_x.
	Post string
	// Alias is the --alias letter, "a"…"p" in lower case, or "": GPP_x holds an alias map.
	Alias string
	// UID and Pwd are the HTTP credentials of the --uid and --pwd options, an extension
	// (DECISIONS 13). Expand them with [Expand]. Never log Pwd.
	UID string
	Pwd string
}

// Expand returns the options with Key expanded by [ExpandKey] and UID and Pwd by [Expand].
func (o Options) Expand(env Env) Options {
	o.Key = ExpandKey(o.Key, env)
	o.UID = Expand(o.UID, env)
	o.Pwd = Expand(o.Pwd, env)
	return o
}

// ParseRule parses a rule (SPA-BEHAVIOUR §2.1, §2.4):
//
//	rule        = alternative *( "|" alternative )
//	alternative = [ "(" cond ")?" ] [ "(" assignments ")!" ] [ [ "[" options "]" ] URL ]
//
// White space is free between the parts. A value whose first non-blank character is `#` is
// commented out and gives a rule without alternatives. Every alternative but the last needs a
// condition. Nothing is macro-expanded here.
//
// Where `|` separates alternatives: a `|` inside double quotes, inside a `( )?` or `( )!`
// group, or inside the `[ ]` options is part of that text; anywhere else, including inside a
// URL's query string, it ends the alternative. A URL that needs a literal `|` writes %7C.
//
// The options are --key K, --post x, --alias x and, as an extension, --uid U and --pwd P
// (DECISIONS 13). An argument may be double-quoted to hold spaces; quotes do not nest and
// have no escapes. x is a GPP letter a…p. An unknown option is an error, as is a repeated one.
// UpgradeRule refuses options; ReportRule takes only options (--key, --uid, --pwd) and a URL.
//
// URLs are checked only for white space here: their syntax can be judged after expansion, by
// [ParseURL]. Errors are [*SyntaxError]s such as `rule: alternative 1: condition without ")?"`.
func ParseRule(text string, kind RuleKind) (*Rule, error) {
	if kind != ProfileRule && kind != UpgradeRule && kind != ReportRule {
		return nil, &SyntaxError{What: "rule", Msg: "unknown rule kind"}
	}
	t := strings.TrimSpace(text)
	if t == "" || t[0] == '#' {
		return &Rule{}, nil
	}
	p := ruleParser{s: t, kind: kind}
	r := &Rule{}
	for n := 1; ; n++ {
		alt, err := p.alternative(n)
		if err != nil {
			return nil, err
		}
		r.Alternatives = append(r.Alternatives, alt)
		if p.i >= len(p.s) {
			break
		}
		p.i++ // the '|'
	}
	for i, alt := range r.Alternatives[:len(r.Alternatives)-1] {
		if alt.Cond == nil {
			return nil, &SyntaxError{What: "rule", Alt: i + 1, Msg: "no condition, but it is not the last alternative"}
		}
	}
	if kind == ReportRule && len(r.Alternatives) > 1 {
		return nil, &SyntaxError{What: "rule", Msg: "Report_Rule takes one URL, not alternatives"}
	}
	return r, nil
}

// Empty reports whether the rule has no alternatives (empty or commented out), so that the
// resync skips it (SPA-BEHAVIOUR §2.1).
func (r *Rule) Empty() bool { return r == nil || len(r.Alternatives) == 0 }

// Select returns the first alternative whose condition holds with the macro values of env, or
// ok false when none does (the rule is then skipped, SPA-BEHAVIOUR §2.1). A condition that
// cannot be evaluated stops the selection with an error.
func (r *Rule) Select(env Env) (alt *Alternative, ok bool, err error) {
	if r == nil {
		return nil, false, nil
	}
	for i := range r.Alternatives {
		a := &r.Alternatives[i]
		ok, err := a.Cond.Eval(env)
		if err != nil {
			return nil, false, fmt.Errorf("rule: alternative %d: %w", i+1, err)
		}
		if ok {
			return a, true, nil
		}
	}
	return nil, false, nil
}

// ExpandURL returns the alternative's URL with its macros expanded, ready for [ParseURL].
func (a *Alternative) ExpandURL(env Env) string { return Expand(a.URL, env) }

type ruleParser struct {
	s    string
	i    int
	kind RuleKind
}

func (p *ruleParser) skipSpace() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func (p *ruleParser) errorf(alt int, format string, args ...any) error {
	return &SyntaxError{What: "rule", Alt: alt, Msg: fmt.Sprintf(format, args...)}
}

// alternative parses one alternative and leaves p.i at the '|' that ends it, or at the end.
func (p *ruleParser) alternative(n int) (Alternative, error) {
	var alt Alternative
	hasAssign := false
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '(' {
			break
		}
		inner, closer, err := p.group(n)
		if err != nil {
			return alt, err
		}
		switch closer {
		case '?':
			if hasAssign {
				return alt, p.errorf(n, `condition after the assignments: write "( cond )?" first`)
			}
			if alt.Cond != nil {
				return alt, p.errorf(n, "two conditions: join the comparisons with \"and\"")
			}
			if p.kind == ReportRule {
				return alt, p.errorf(n, "Report_Rule takes no condition")
			}
			c, err := parseCond(inner)
			if err != nil {
				return alt, p.errorf(n, "condition: %s", err.Error())
			}
			alt.Cond = c
		case '!':
			if hasAssign {
				return alt, p.errorf(n, "two assignment groups: put all assignments in one \"( … )!\"")
			}
			if p.kind == ReportRule {
				return alt, p.errorf(n, "Report_Rule takes no assignments")
			}
			as, err := parseAssignments(inner)
			if err != nil {
				return alt, p.errorf(n, "assignments: %s", err.Error())
			}
			alt.Assign, hasAssign = as, true
		}
	}
	if p.i < len(p.s) && p.s[p.i] == '[' {
		if p.kind == UpgradeRule {
			return alt, p.errorf(n, "URL options are not allowed in Upgrade_Rule")
		}
		end := indexOutsideQuotes(p.s, p.i+1, ']')
		if end < 0 {
			return alt, p.errorf(n, `options without "]"`)
		}
		opts, err := parseOptions(p.s[p.i+1:end], p.kind)
		if err != nil {
			return alt, p.errorf(n, "options: %s", err.Error())
		}
		alt.Options, alt.HasOptions = opts, true
		p.i = end + 1
		p.skipSpace()
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '|' {
		p.i++
	}
	url := strings.TrimSpace(p.s[start:p.i])
	switch {
	case url == "" && alt.HasOptions:
		return alt, p.errorf(n, "options without a URL")
	case url == "" && p.kind == ReportRule:
		return alt, p.errorf(n, "no URL")
	case url != "" && (url[0] == '(' || url[0] == '['):
		return alt, p.errorf(n, "%q out of order: write ( cond )? then ( assignments )! then [ options ] then the URL", url[:1])
	case strings.IndexFunc(url, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }) >= 0:
		return alt, p.errorf(n, "white space inside the URL (a condition or options after the URL?)")
	}
	alt.URL = url
	return alt, nil
}

// group reads a "( … )" group at p.i, matching nested parentheses outside double quotes (a
// version suffix such as 5.1.15(aSC) or a macro $(MAU:4) nests), and returns its inner text and
// the '?' or '!' after the closing parenthesis (white space may come between).
func (p *ruleParser) group(n int) (inner string, closer byte, err error) {
	start := p.i
	depth := 0
	inQuote := false
	for j := start; j < len(p.s); j++ {
		c := p.s[j]
		switch {
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth > 0 {
				continue
			}
			inner = p.s[start+1 : j]
			k := j + 1
			for k < len(p.s) && isSpace(p.s[k]) {
				k++
			}
			if k < len(p.s) && (p.s[k] == '?' || p.s[k] == '!') {
				p.i = k + 1
				return inner, p.s[k], nil
			}
			return "", 0, p.unclosed(n, inner)
		}
	}
	return "", 0, p.unclosed(n, p.s[start+1:])
}

// unclosed reports a group that does not end in ")?" or ")!", guessing which was meant: text
// ending in ";" or holding `= "` reads as assignments, anything else as a condition.
func (p *ruleParser) unclosed(n int, inner string) error {
	t := strings.TrimSpace(inner)
	if strings.HasSuffix(t, ";") || looksLikeAssignment(t) {
		return p.errorf(n, `assignments without ")!"`)
	}
	return p.errorf(n, `condition without ")?"`)
}

// looksLikeAssignment reports whether s starts with `Name = "`, which no condition does (they
// compare macros, numbers and quoted strings, not bare parameter names).
func looksLikeAssignment(s string) bool {
	i := 0
	for i < len(s) && isNameByte(s[i]) {
		i++
	}
	if i == 0 || !isLetter(s[0]) {
		return false
	}
	rest := strings.TrimLeft(s[i:], " \t")
	if !strings.HasPrefix(rest, "=") {
		return false
	}
	return strings.HasPrefix(strings.TrimLeft(rest[1:], " \t"), `"`)
}

// indexOutsideQuotes returns the index of the first c at or after from that is not inside
// double quotes, or -1.
func indexOutsideQuotes(s string, from int, c byte) int {
	inQuote := false
	for j := from; j < len(s); j++ {
		switch {
		case s[j] == '"':
			inQuote = !inQuote
		case !inQuote && s[j] == c:
			return j
		}
	}
	return -1
}

// parseAssignments parses `Name = "value" ; …`; the last ";" may be left out.
func parseAssignments(s string) ([]Assignment, error) {
	var out []Assignment
	i := 0
	skip := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	for {
		skip()
		if i >= len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && isNameByte(s[i]) {
			i++
		}
		name := s[start:i]
		num := len(out) + 1
		if name == "" {
			return nil, fmt.Errorf("assignment %d: expected a parameter name", num)
		}
		if !isLetter(name[0]) {
			return nil, fmt.Errorf("assignment %d: parameter name must start with a letter", num)
		}
		if len(name) == 1 && (name[0] < 'a' || name[0] > 'p') {
			return nil, fmt.Errorf("assignment to %s: the GPP short names are a…p", name)
		}
		skip()
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("assignment to %s: expected \"=\"", name)
		}
		i++
		skip()
		if i >= len(s) || s[i] != '"' {
			return nil, fmt.Errorf("assignment to %s: the value must be in double quotes", name)
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 {
			return nil, fmt.Errorf("assignment to %s: unterminated quoted value", name)
		}
		out = append(out, Assignment{Name: name, Value: s[i+1 : i+1+end]})
		i += end + 2
		skip()
		if i >= len(s) {
			return out, nil
		}
		if s[i] != ';' {
			return nil, fmt.Errorf("assignment to %s: expected \";\" after the value", name)
		}
		i++
	}
}

// parseOptions parses the text between [ and ].
func parseOptions(s string, kind RuleKind) (Options, error) {
	var o Options
	seen := map[string]bool{}
	words, err := splitWords(s)
	if err != nil {
		return o, err
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w.quoted || !strings.HasPrefix(w.text, "--") {
			return o, errorString("expected an option such as --key (quote an argument that contains spaces)")
		}
		name := w.text
		switch name {
		case "--key", "--post", "--alias", "--uid", "--pwd":
		default:
			return o, fmt.Errorf("unknown option %s", name)
		}
		if seen[name] {
			return o, fmt.Errorf("%s given twice", name)
		}
		seen[name] = true
		if kind == ReportRule && (name == "--post" || name == "--alias") {
			return o, fmt.Errorf("%s is not allowed in Report_Rule", name)
		}
		if i+1 >= len(words) || !words[i+1].quoted && strings.HasPrefix(words[i+1].text, "--") {
			return o, fmt.Errorf("%s without a value", name)
		}
		i++
		arg := words[i].text
		switch name {
		case "--key":
			o.Key, o.HasKey = arg, true
		case "--uid":
			o.UID = arg
		case "--pwd":
			o.Pwd = arg
		case "--post", "--alias":
			idx, ok := GPPIndex(arg)
			if !ok {
				return o, fmt.Errorf("%s takes a GPP letter a…p", name)
			}
			letter := string(rune('a' + idx))
			if name == "--post" {
				o.Post = letter
			} else {
				o.Alias = letter
			}
		}
	}
	return o, nil
}

type word struct {
	text   string
	quoted bool
}

// splitWords splits s at white space; a double-quoted word may hold spaces.
func splitWords(s string) ([]word, error) {
	var out []word
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case isSpace(c):
			i++
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, errorString("unterminated quoted argument")
			}
			out = append(out, word{text: s[i+1 : i+1+end], quoted: true})
			i += end + 2
		default:
			start := i
			for i < len(s) && !isSpace(s[i]) && s[i] != '"' {
				i++
			}
			out = append(out, word{text: s[start:i]})
		}
	}
	return out, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isNameByte reports whether c may appear in a profile parameter name (SPA-BEHAVIOUR §1.1:
// letters, digits, "_" and "-").
func isNameByte(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }
