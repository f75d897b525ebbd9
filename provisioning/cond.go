package provisioning

import (
	"fmt"
	"strconv"
	"strings"
)

// Op is a comparison operator of a condition (SPA-BEHAVIOUR §2.1).
type Op int

// The comparison operators. Each has a symbol and a mnemonic; the mnemonics are handy inside
// XML, where < and > need escaping.
const (
	OpUnknown Op = iota
	OpEq         // = or eq (also the legacy bare ! is OpNe)
	OpNe         // != or ne, or the legacy bare !
	OpLt         // < or lt
	OpLe         // <= or le
	OpGt         // > or gt
	OpGe         // >= or ge
)

// String returns the mnemonic: "eq", "ne", "lt", "le", "gt", "ge", or "unknown".
func (o Op) String() string {
	switch o {
	case OpEq:
		return "eq"
	case OpNe:
		return "ne"
	case OpLt:
		return "lt"
	case OpLe:
		return "le"
	case OpGt:
		return "gt"
	case OpGe:
		return "ge"
	}
	return "unknown"
}

// Operand is one side of a comparison, as written in the rule: not yet macro-expanded.
type Operand struct {
	// Text is the operand without its quotes.
	Text string
	// Quoted operands are always strings. Unquoted ones are typed after expansion by their
	// shape: an integer, a version number, or else a string.
	Quoted bool
}

// String returns the operand as written.
func (o Operand) String() string {
	if o.Quoted {
		return `"` + o.Text + `"`
	}
	return o.Text
}

// Comparison is one `left op right` term of a condition.
type Comparison struct {
	// Left is the left operand. When ImplicitLeft is set, none was written and the
	// comparison applies to $SWVER (legacy `( ! 1.0.33 )?`, `(<1.0)?`).
	Left         Operand
	ImplicitLeft bool
	Op           Op
	Right        Operand
}

// String returns the comparison in a canonical spelling, with mnemonic operators.
func (c Comparison) String() string {
	if c.ImplicitLeft {
		return c.Op.String() + " " + c.Right.String()
	}
	return c.Left.String() + " " + c.Op.String() + " " + c.Right.String()
}

// Cond is a condition: comparisons joined by `and`, all of which must hold. There is no `or`
// (SPA-BEHAVIOUR §2.1). It is the `( … )?` part of a rule alternative and the whole value of a
// Resync_Trigger_n parameter. A nil *Cond (an alternative without a condition) is always true;
// a Cond without terms (a trigger that is not set) is always false. A Cond is immutable and
// safe for concurrent use.
//
// Typing and comparison, after macro expansion of each operand:
//
//   - a quoted operand is a string; an unquoted one is an integer when it is decimal digits
//     with an optional leading "-" (such as $PRVST = -1), else a version number when
//     [ParseVersion] accepts it (5.1.15(aSC), 1.0), else a string;
//   - two integers compare as numbers, two versions with [Version.Compare];
//   - an integer and a version compare as versions, the integer n being read as n.0.0, so
//     `$SWVER gt 5` holds for 5.1.15 [inf];
//   - when either side is a string, = and != compare the expanded texts exactly, and the
//     ordering operators are an error ([ErrStringOrder]).
type Cond struct {
	Terms []Comparison
}

// String returns the condition in a canonical spelling, without the enclosing `( )?`.
func (c *Cond) String() string {
	if c == nil {
		return ""
	}
	parts := make([]string, len(c.Terms))
	for i, t := range c.Terms {
		parts[i] = t.String()
	}
	return strings.Join(parts, " and ")
}

// ParseTrigger parses the value of a Resync_Trigger_n parameter: a bare condition, without the
// `( )?` of a rule, e.g. `$REGTMR1 gt 300 and $PRVTMR ge 600` (SPA-BEHAVIOUR §2.1, §4.1).
//
// An empty value, or one whose first non-blank character is `#`, means the trigger is not set:
// ParseTrigger then returns a Cond without terms, which never holds (see [Cond.Unset]). A value
// wrapped in `( )?` is refused with a message that says so.
func ParseTrigger(text string) (*Cond, error) {
	t := strings.TrimSpace(text)
	if t == "" || t[0] == '#' {
		return &Cond{}, nil
	}
	if t[0] == '(' && strings.HasSuffix(t, ")?") {
		return nil, &SyntaxError{What: "trigger", Msg: `write the bare condition, without "( )?"`}
	}
	c, err := parseCond(t)
	if err != nil {
		return nil, &SyntaxError{What: "trigger", Msg: err.Error()}
	}
	return c, nil
}

// condToken is a lexical token of a condition.
type condToken struct {
	kind int // tokOperand, tokOp, tokAnd, tokOr
	op   Op
	opnd Operand
	text string // for messages
}

const (
	tokOperand = iota
	tokOp
	tokAnd
	tokOr
)

// lexCond splits a condition into tokens.
func lexCond(s string) ([]condToken, error) {
	var toks []condToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case isSpace(c):
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, errorString("unterminated quoted string")
			}
			toks = append(toks, condToken{kind: tokOperand, opnd: Operand{Text: s[i+1 : i+1+j], Quoted: true}})
			i += j + 2
		case c == '=':
			if i+1 < len(s) && s[i+1] == '=' {
				return nil, errorString(`"==" is not an operator: use "=" or "eq"`)
			}
			toks = append(toks, condToken{kind: tokOp, op: OpEq, text: "="})
			i++
		case c == '!':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, condToken{kind: tokOp, op: OpNe, text: "!="})
				i += 2
			} else {
				toks = append(toks, condToken{kind: tokOp, op: OpNe, text: "!"})
				i++
			}
		case c == '<' || c == '>':
			op, text := OpLt, "<"
			if c == '>' {
				op, text = OpGt, ">"
			}
			if i+1 < len(s) && s[i+1] == '=' {
				op++ // OpLe, OpGe follow OpLt, OpGt
				text += "="
				i++
			} else if c == '<' && i+1 < len(s) && s[i+1] == '>' {
				return nil, errorString(`"<>" is not an operator: use "!=" or "ne"`)
			}
			toks = append(toks, condToken{kind: tokOp, op: op, text: text})
			i++
		default:
			j := i
			for j < len(s) && !isSpace(s[j]) && !strings.ContainsRune(`"=!<>`, rune(s[j])) {
				j++
			}
			word := s[i:j]
			i = j
			switch strings.ToLower(word) {
			case "and":
				toks = append(toks, condToken{kind: tokAnd, text: word})
			case "or":
				toks = append(toks, condToken{kind: tokOr, text: word})
			case "eq":
				toks = append(toks, condToken{kind: tokOp, op: OpEq, text: word})
			case "ne":
				toks = append(toks, condToken{kind: tokOp, op: OpNe, text: word})
			case "lt":
				toks = append(toks, condToken{kind: tokOp, op: OpLt, text: word})
			case "le":
				toks = append(toks, condToken{kind: tokOp, op: OpLe, text: word})
			case "gt":
				toks = append(toks, condToken{kind: tokOp, op: OpGt, text: word})
			case "ge":
				toks = append(toks, condToken{kind: tokOp, op: OpGe, text: word})
			default:
				// A version suffix or a $(…) macro holds "(" inside a word; a word that
				// starts with "(" or closes one it did not open is an attempt at grouping.
				if word[0] == '(' || strings.Count(word, ")") > strings.Count(word, "(") {
					return nil, errorString("parentheses cannot group comparisons")
				}
				toks = append(toks, condToken{kind: tokOperand, opnd: Operand{Text: word}})
			}
		}
	}
	return toks, nil
}

// parseCond parses comparisons joined by "and". Its errors are plain messages; the caller
// wraps them in a SyntaxError with the right context.
func parseCond(s string) (*Cond, error) {
	toks, err := lexCond(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errorString("empty condition")
	}
	c := &Cond{}
	i := 0
	for {
		var cmp Comparison
		if i < len(toks) && toks[i].kind == tokOperand {
			cmp.Left = toks[i].opnd
			i++
		} else {
			cmp.ImplicitLeft = true
		}
		n := len(c.Terms) + 1
		if i >= len(toks) {
			return nil, fmt.Errorf("comparison %d: missing operator after %s", n, cmp.Left)
		}
		switch t := toks[i]; t.kind {
		case tokOp:
			cmp.Op = t.op
			i++
		case tokOperand:
			return nil, fmt.Errorf("comparison %d: missing operator between %s and %s", n, cmp.Left, t.opnd)
		default:
			if cmp.ImplicitLeft {
				return nil, fmt.Errorf("comparison %d: %q without a comparison before it", n, t.text)
			}
			return nil, fmt.Errorf("comparison %d: missing operator after %s", n, cmp.Left)
		}
		if i >= len(toks) || toks[i].kind != tokOperand {
			return nil, fmt.Errorf("comparison %d: operator %s without a right operand", n, cmp.Op)
		}
		cmp.Right = toks[i].opnd
		i++
		c.Terms = append(c.Terms, cmp)
		if i >= len(toks) {
			return c, nil
		}
		switch toks[i].kind {
		case tokAnd:
			i++
			if i >= len(toks) {
				return nil, errorString(`"and" at the end of the condition`)
			}
		case tokOr:
			return nil, errorString(`there is no "or" in conditions: use one alternative per case`)
		default:
			return nil, fmt.Errorf("comparison %d: expected \"and\" after %s", n, cmp)
		}
	}
}

// Unset reports whether c is a non-nil Cond without terms: a Resync_Trigger_n that is empty
// or commented out.
func (c *Cond) Unset() bool { return c != nil && len(c.Terms) == 0 }

// Eval evaluates the condition with the macro values of env. A nil Cond is true; a Cond
// without terms is false. The error, [ErrStringOrder] wrapped with the offending comparison as
// written, reports an ordering operator applied to a string.
func (c *Cond) Eval(env Env) (bool, error) {
	if c == nil {
		return true, nil
	}
	if len(c.Terms) == 0 {
		return false, nil
	}
	for _, t := range c.Terms {
		ok, err := t.eval(env)
		if err != nil {
			return false, fmt.Errorf("condition %s: %w", t, err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// value is an expanded, typed operand.
type value struct {
	kind int // valString, valInt, valVersion
	text string
	n    int64
	ver  Version
}

const (
	valString = iota
	valInt
	valVersion
)

func typedValue(o Operand, env Env) value {
	text := Expand(o.Text, env)
	if o.Quoted {
		return value{kind: valString, text: text}
	}
	digits := strings.TrimPrefix(text, "-")
	if allDigits(digits) && len(digits) <= 18 {
		n, _ := strconv.ParseInt(text, 10, 64) // cannot fail: at most 18 digits
		return value{kind: valInt, text: text, n: n}
	}
	if v, err := ParseVersion(text); err == nil {
		return value{kind: valVersion, text: text, ver: v}
	}
	return value{kind: valString, text: text}
}

func (t Comparison) eval(env Env) (bool, error) {
	left := t.Left
	if t.ImplicitLeft {
		left = Operand{Text: "$SWVER"}
	}
	l, r := typedValue(left, env), typedValue(t.Right, env)
	var cmp int
	switch {
	case l.kind == valString || r.kind == valString:
		switch t.Op {
		case OpEq:
			return l.text == r.text, nil
		case OpNe:
			return l.text != r.text, nil
		}
		return false, ErrStringOrder
	case l.kind == valInt && r.kind == valInt:
		switch {
		case l.n < r.n:
			cmp = -1
		case l.n > r.n:
			cmp = 1
		}
	case l.kind == valInt && l.n < 0:
		cmp = -1 // a negative integer sorts before every version
	case r.kind == valInt && r.n < 0:
		cmp = 1
	default:
		cmp = l.version().Compare(r.version())
	}
	switch t.Op {
	case OpEq:
		return cmp == 0, nil
	case OpNe:
		return cmp != 0, nil
	case OpLt:
		return cmp < 0, nil
	case OpLe:
		return cmp <= 0, nil
	case OpGt:
		return cmp > 0, nil
	case OpGe:
		return cmp >= 0, nil
	}
	return false, errorString("unknown operator")
}

// version returns v as a Version; a non-negative integer n becomes n.0.0.
func (v value) version() Version {
	if v.kind == valVersion {
		return v.ver
	}
	n := v.n
	if n > 1<<32-1 {
		n = 1<<32 - 1
	}
	return Version{nums: [maxVersionParts]uint32{uint32(n)}, n: 1}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// errorString is a plain message error, wrapped into a SyntaxError by the callers.
type errorString string

func (e errorString) Error() string { return string(e) }
