package provisioning

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of [CompileSPC].
const (
	// MaxImportDepth is how deep `import` may nest (the top-level source is depth 0).
	MaxImportDepth = 8
	// maxSPCInput bounds the total source read, imports included, against import bombs.
	maxSPCInput = 16 << 20
)

// CompileSPC compiles an SPC plain-text source (SPA-BEHAVIOUR §1.2) into a <flat-profile> XML
// document, which the phone accepts; the source itself is not accepted on the wire
// (DECISIONS 7). The source is a sequence of statements, white space free:
//
//	Name "value" ;     sets the value; the user account loses access (ua="na")
//	Name ! "value" ;   the same, user read-write (ua="rw")
//	Name ? "value" ;   the same, user read-only (ua="ro")
//	Name ! ;           value unchanged, only the access is set (the empty-element form)
//
// Indexed names are written Name[1] and become Name_1_; "/", "(" and ")" in a name become "_"
// as well (SIP_ToS/DiffServ_Value[1] → SIP_ToS_DiffServ_Value_1_). Values are double-quoted on
// one line, without escapes; & < > " are escaped in the XML. A "#" outside quotes starts a
// comment that runs to the end of the line. `import name` at the start of a line (after
// optional blanks) splices the source open(name) returns, nested at most [MaxImportDepth]
// levels; a file that imports itself, directly or not, is an error. Names are passed to open as
// written (quotes around them removed). A nil open refuses imports.
//
// Statements are emitted in source order, duplicates included: the consumer applies the last
// occurrence (§1.1). Errors are [*SyntaxError]s naming the file (for imports) and the line.
func CompileSPC(src []byte, open func(name string) ([]byte, error)) ([]byte, error) {
	c := spcCompiler{open: open}
	c.out.WriteString("<flat-profile>\n")
	if err := c.compile(src, "", 0); err != nil {
		return nil, err
	}
	c.out.WriteString("</flat-profile>\n")
	return []byte(c.out.String()), nil
}

type spcCompiler struct {
	open  func(string) ([]byte, error)
	out   strings.Builder
	stack []string // files being compiled, for cycle detection
	read  int      // total bytes of source read
}

// spcStatement is a statement being read; it may span lines.
type spcStatement struct {
	name     string
	line     int // where the name was
	marker   byte
	value    string
	hasValue bool
}

func (c *spcCompiler) compile(src []byte, file string, depth int) error {
	c.read += len(src)
	if c.read > maxSPCInput {
		return &SyntaxError{What: "spc", File: file, Msg: "sources larger than 16 MiB in total (import loop?)"}
	}
	if !utf8.Valid(src) {
		return &SyntaxError{What: "spc", File: file, Msg: "not valid UTF-8 text"}
	}
	errAt := func(line int, format string, args ...any) error {
		return &SyntaxError{What: "spc", File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	var st *spcStatement
	lines := strings.Split(string(src), "\n")
	for ln, line := range lines {
		lineNo := ln + 1
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if rest, ok := strings.CutPrefix(trimmed, "import"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			if st != nil {
				return errAt(st.line, "statement for %s not ended by \";\" before the import", st.name)
			}
			name := strings.TrimSpace(rest)
			if i := strings.IndexByte(name, '#'); i >= 0 && !strings.HasPrefix(name, `"`) {
				name = strings.TrimSpace(name[:i])
			}
			if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
				name = name[1 : len(name)-1]
			}
			if err := c.importFile(name, file, lineNo, depth); err != nil {
				return err
			}
			continue
		}
		i := 0
		for i < len(line) {
			ch := line[i]
			switch {
			case ch == ' ' || ch == '\t':
				i++
			case ch == '#':
				i = len(line)
			case ch == '"':
				end := strings.IndexByte(line[i+1:], '"')
				if end < 0 {
					return errAt(lineNo, "unterminated quoted value (values end on the line they start)")
				}
				val := line[i+1 : i+1+end]
				i += end + 2
				if st == nil {
					return errAt(lineNo, "value without a parameter name")
				}
				if st.hasValue {
					return errAt(lineNo, "%s has two values", st.name)
				}
				for j := 0; j < len(val); j++ {
					if val[j] < ' ' && val[j] != '\t' || val[j] == 0x7f {
						return errAt(lineNo, "control character in the value of %s", st.name)
					}
				}
				st.value, st.hasValue = val, true
			case ch == '!' || ch == '?':
				if st == nil {
					return errAt(lineNo, "access marker %q without a parameter name", ch)
				}
				if st.marker != 0 || st.hasValue {
					return errAt(lineNo, "access marker %q of %s must come right after the name", ch, st.name)
				}
				st.marker = ch
				i++
			case ch == ';':
				if st == nil {
					return errAt(lineNo, "\";\" without a statement")
				}
				c.emit(st)
				st = nil
				i++
			default:
				start := i
				for i < len(line) && !strings.ContainsRune(" \t#\"!?;", rune(line[i])) {
					i++
				}
				raw := line[start:i]
				if st != nil {
					return errAt(st.line, "statement for %s not ended by \";\" before %s", st.name, quoteShort(raw))
				}
				name, ok := spcName(raw)
				if !ok {
					return errAt(lineNo, "%s is not a parameter name", quoteShort(raw))
				}
				st = &spcStatement{name: name, line: lineNo}
			}
		}
	}
	if st != nil {
		return errAt(st.line, "statement for %s not ended by \";\"", st.name)
	}
	return nil
}

func (c *spcCompiler) importFile(name, from string, line, depth int) error {
	errAt := func(format string, args ...any) error {
		return &SyntaxError{What: "spc", File: from, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case name == "":
		return errAt("import without a file name")
	case c.open == nil:
		return errAt("import %s: imports are not available here", quoteShort(name))
	case depth+1 > MaxImportDepth:
		return errAt("import %s: imports nested deeper than %d levels", quoteShort(name), MaxImportDepth)
	}
	for _, f := range c.stack {
		if f == name {
			return errAt("import %s: import cycle (%s)", quoteShort(name), strings.Join(append(c.stack, name), " → "))
		}
	}
	data, err := c.open(name)
	if err != nil {
		return fmt.Errorf("spc: %s%sline %d: import %s: %w", from, sepIf(from), line, quoteShort(name), err)
	}
	c.stack = append(c.stack, name)
	err = c.compile(data, name, depth+1)
	c.stack = c.stack[:len(c.stack)-1]
	return err
}

func sepIf(s string) string {
	if s == "" {
		return ""
	}
	return ": "
}

// emit writes one statement as an XML element.
func (c *spcCompiler) emit(st *spcStatement) {
	ua := "na"
	switch st.marker {
	case '!':
		ua = "rw"
	case '?':
		ua = "ro"
	}
	b := &c.out
	b.WriteString("  <")
	b.WriteString(st.name)
	b.WriteString(` ua="`)
	b.WriteString(ua)
	if !st.hasValue {
		b.WriteString(`"/>` + "\n")
		return
	}
	b.WriteString(`">`)
	escapeXMLText(b, st.value)
	b.WriteString("</")
	b.WriteString(st.name)
	b.WriteString(">\n")
}

func escapeXMLText(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteByte(s[i])
		}
	}
}

// spcName turns an SPC parameter name into its XML element name: "[", "]", "(", ")" and "/"
// become "_" (SPA-BEHAVIOUR §1.1, §1.2). The result must be an XML name.
func spcName(raw string) (string, bool) {
	b := []byte(raw)
	for i, ch := range b {
		switch ch {
		case '[', ']', '(', ')', '/':
			b[i] = '_'
		}
	}
	name := string(b)
	if !isXMLName(name) || strings.ContainsRune(name, ':') || strings.HasPrefix(strings.ToLower(name), "xml") {
		return "", false
	}
	return name, true
}

// quoteShort quotes s for an error message, cut to 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)
}
