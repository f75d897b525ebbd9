package fleetfile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Template is a value with {{…}} expressions, evaluated for each phone of a fleet
// (`User_ID_1_: "{{1000+index}}"`). The language is deliberately small:
//
//   - text outside {{ }} is copied as it is; "{{" always opens an expression (a parameter
//     value that must contain "{{" literally cannot be templated);
//   - an expression is integer arithmetic: decimal or 0x hexadecimal numbers, + - * / %
//     (/ and % truncate toward zero, as Go does; dividing by zero is an error), unary minus,
//     parentheses, and the numbers of the phone: index (its number in the whole fleet, from
//     0: ordinal × count + row), row (its number in this process's fleet, from 0), ordinal
//     (the replica, --ordinal) and count (the phones of this process's fleet);
//   - or, alone in its braces, one of the phone's strings: mac (12 upper-case hex digits,
//     as the device's MAC_Address), ip (its address);
//   - nothing else: no functions, no other names, no string arithmetic. An error says which
//     expression and why.
//
// A Template is immutable and safe for concurrent use.
type Template struct {
	parts []part
}

type part struct {
	text string
	expr node // nil for text
	src  string
}

// Vars are the values a template may use for one phone.
type Vars struct {
	Index, Row, Ordinal, Count int64
	MAC, IP                    string
}

// ErrTemplate is wrapped by every template error.
var ErrTemplate = errors.New("template")

// ParseTemplate parses s. A value without "{{" is a template that returns itself.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{}
	for s != "" {
		i := strings.Index(s, "{{")
		if i < 0 {
			t.parts = append(t.parts, part{text: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{text: s[:i]})
		}
		rest := s[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return nil, fmt.Errorf("%w: %q: {{ without }}", ErrTemplate, s[i:])
		}
		src := rest[:j]
		n, err := parseExpr(src)
		if err != nil {
			return nil, fmt.Errorf("%w: {{%s}}: %v", ErrTemplate, src, err)
		}
		t.parts = append(t.parts, part{expr: n, src: src})
		s = rest[j+2:]
	}
	return t, nil
}

// Static reports whether the template has no expression: it is its own text.
func (t *Template) Static() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// Expand evaluates the template for one phone.
func (t *Template) Expand(v Vars) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.text)
			continue
		}
		val, err := p.expr.eval(v)
		if err != nil {
			return "", fmt.Errorf("%w: {{%s}}: %v", ErrTemplate, p.src, err)
		}
		b.WriteString(val.String())
	}
	return b.String(), nil
}

// value is an integer, or a string (mac, ip) that only stands alone.
type value struct {
	n     int64
	s     string
	isStr bool
}

func (v value) String() string {
	if v.isStr {
		return v.s
	}
	return strconv.FormatInt(v.n, 10)
}

type node interface {
	eval(v Vars) (value, error)
}

type num int64

func (n num) eval(Vars) (value, error) { return value{n: int64(n)}, nil }

type ident string

func (id ident) eval(v Vars) (value, error) {
	switch id {
	case "index":
		return value{n: v.Index}, nil
	case "row":
		return value{n: v.Row}, nil
	case "ordinal":
		return value{n: v.Ordinal}, nil
	case "count":
		return value{n: v.Count}, nil
	case "mac":
		return value{s: v.MAC, isStr: true}, nil
	case "ip":
		return value{s: v.IP, isStr: true}, nil
	}
	return value{}, fmt.Errorf("unknown name %q (index, row, ordinal, count, mac, ip)", string(id))
}

type unary struct{ x node }

func (u unary) eval(v Vars) (value, error) {
	x, err := intOf(u.x, v)
	if err != nil {
		return value{}, err
	}
	return value{n: -x}, nil
}

type binop struct {
	op   byte
	l, r node
}

func (b binop) eval(v Vars) (value, error) {
	l, err := intOf(b.l, v)
	if err != nil {
		return value{}, err
	}
	r, err := intOf(b.r, v)
	if err != nil {
		return value{}, err
	}
	switch b.op {
	case '+':
		return value{n: l + r}, nil
	case '-':
		return value{n: l - r}, nil
	case '*':
		return value{n: l * r}, nil
	case '/', '%':
		if r == 0 {
			return value{}, errors.New("division by zero")
		}
		if b.op == '/' {
			return value{n: l / r}, nil
		}
		return value{n: l % r}, nil
	}
	return value{}, fmt.Errorf("operator %q", b.op)
}

// intOf evaluates an operand of arithmetic, which must be a number.
func intOf(n node, v Vars) (int64, error) {
	x, err := n.eval(v)
	if err != nil {
		return 0, err
	}
	if x.isStr {
		return 0, fmt.Errorf("%s is a string: it stands alone in {{ }}, without arithmetic", n.(ident))
	}
	return x.n, nil
}

// parseExpr parses one expression:
//
//	expr   = term { ("+" | "-") term }
//	term   = factor { ("*" | "/" | "%") factor }
//	factor = number | name | "(" expr ")" | "-" factor
func parseExpr(src string) (node, error) {
	p := &parser{src: src}
	p.skip()
	if p.pos == len(p.src) {
		return nil, errors.New("empty expression")
	}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("unexpected %q at %d", p.src[p.pos:], p.pos+1)
	}
	if _, alone := n.(ident); !alone {
		if err := noStrings(n); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// noStrings refuses mac and ip inside arithmetic, before any phone is expanded.
func noStrings(n node) error {
	switch x := n.(type) {
	case ident:
		if x == "mac" || x == "ip" {
			return fmt.Errorf("%s is a string: it stands alone in {{ }}, without arithmetic", string(x))
		}
	case unary:
		return noStrings(x.x)
	case binop:
		if err := noStrings(x.l); err != nil {
			return err
		}
		return noStrings(x.r)
	}
	return nil
}

type parser struct {
	src string
	pos int
}

// maxDepth bounds nesting, so that no input exhausts the stack.
const maxDepth = 64

func (p *parser) skip() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *parser) expr(depth int) (node, error) {
	l, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	for p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
		op := p.src[p.pos]
		p.pos++
		p.skip()
		r, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		l = binop{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) term(depth int) (node, error) {
	l, err := p.factor(depth)
	if err != nil {
		return nil, err
	}
	for p.pos < len(p.src) && (p.src[p.pos] == '*' || p.src[p.pos] == '/' || p.src[p.pos] == '%') {
		op := p.src[p.pos]
		p.pos++
		p.skip()
		r, err := p.factor(depth)
		if err != nil {
			return nil, err
		}
		l = binop{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) factor(depth int) (node, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	if p.pos == len(p.src) {
		return nil, errors.New("expression ends early")
	}
	c := p.src[p.pos]
	var n node
	switch {
	case c == '(':
		p.pos++
		p.skip()
		x, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.pos == len(p.src) || p.src[p.pos] != ')' {
			return nil, errors.New("missing )")
		}
		p.pos++
		n = x
	case c == '-':
		p.pos++
		p.skip()
		x, err := p.factor(depth + 1)
		if err != nil {
			return nil, err
		}
		n = unary{x: x}
	case c >= '0' && c <= '9':
		start := p.pos
		for p.pos < len(p.src) && isAlnum(p.src[p.pos]) {
			p.pos++
		}
		v, err := strconv.ParseInt(p.src[start:p.pos], 0, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", p.src[start:p.pos])
		}
		n = num(v)
	case isAlpha(c):
		start := p.pos
		for p.pos < len(p.src) && (isAlnum(p.src[p.pos]) || p.src[p.pos] == '_') {
			p.pos++
		}
		id := ident(p.src[start:p.pos])
		if _, err := id.eval(Vars{}); err != nil {
			return nil, err
		}
		n = id
	default:
		return nil, fmt.Errorf("unexpected %q at %d", c, p.pos+1)
	}
	p.skip()
	return n, nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }
