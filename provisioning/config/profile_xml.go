package config

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Profile is a decoded flat-profile: the changes it asks for, in document order, and the
// element names the model does not know.
type Profile struct {
	// Changes are the known parameters' changes in document order; each has the line of its
	// element.
	Changes []Change
	// Unknown lists unrecognised parameter names, each once, in order of first appearance.
	// They are ignored (SPA-BEHAVIOUR §1.1, DECISIONS 8).
	Unknown []string
	// UnknownLines holds the line of the first occurrence of each name of Unknown.
	UnknownLines []int
	// Elements counts the parameter elements read (known and unknown).
	Elements int
	// Encoding says which character encoding the document was read in, and why.
	Encoding Encoding
}

// DecodeOptions tunes [DecodeProfile].
type DecodeOptions struct {
	// Rename maps an element path (element names from the document root) to a parameter name:
	// the rule option --alias (SPA-BEHAVIOUR §2.4). Nil means no aliases.
	Rename func(path []string) (string, bool)
	// Base, when set, is the configuration the profile is read for (of the same catalogue):
	// a value equal to Base's is given as Base's own string, so that a profile that repeats
	// the configuration (a periodic resync of an unchanged profile, a storm of them) costs no
	// allocation for its values and its snapshot shares theirs.
	Base *Snapshot
	// Changes, when it has room (its capacity), is where Profile.Changes is built, from
	// length 0: a caller's buffer from an earlier profile it is done with.
	Changes []Change
}

// maxProfileDepth bounds the nesting of elements in a profile. Real profiles nest three deep
// at most (<top-level><flat-profile><X>); the bound keeps the work on hostile input linear.
const maxProfileDepth = 256

// DecodeProfile reads a flat-profile XML document (SPA-BEHAVIOUR §1.1, DECISIONS 8-9):
//   - parameters are the elements directly inside a <flat-profile> element, which may itself be
//     wrapped in other elements; deeper elements are tolerated and ignored unless an alias names
//     them;
//   - names are case-sensitive; unknown names and unknown attributes are ignored; a namespace
//     prefix is dropped (<x:GPP_A> is GPP_A, x:ua is ua);
//   - values are trimmed, newlines become spaces, entities and character references are decoded;
//     CDATA sections count as text; comments and processing instructions are skipped;
//   - <X/> changes no value (only its ua attribute applies), <X></X> sets the empty string;
//   - ua="na|ro|rw" (single or double quotes) sets the user access; other ua values are ignored;
//   - the last occurrence of a parameter wins (Apply processes changes in order).
//
// Text and elements outside the root element are tolerated: only what sits in a <flat-profile>
// (or is named by an alias) counts.
//
// A document that is not well-formed XML, or has no <flat-profile> and no aliased element,
// fails as a whole with [ErrMalformedProfile] and the line of the fault (a [*SyntaxError]);
// nothing is applied.
// Not well-formed means: mismatched or unclosed tags, a name that is not an XML name, an
// attribute without a quoted value, < in an attribute value, & that does not start one of
// &amp; &lt; &gt; &apos; &quot; or a character reference, a reference to a character XML does
// not allow (NUL, other control characters, surrogates, U+FFFE, U+FFFF, beyond U+10FFFF),
// a forbidden control character in text or attribute values, ]]> in text, -- inside a
// comment, and an XML declaration naming a version other than 1.0.
//
// The character encoding never fails a document (DECISIONS 8): the XML declaration decides,
// bytes that are not UTF-8 are read as ISO-8859-1, and Profile.Encoding says which was used
// and warns when it is not what the document declared (see toUTF8).
//
// Choices where the sources are silent [inf]: element and attribute names
// are ASCII (SPA-BEHAVIOUR §1.1: "only ASCII is supported"); a document type declaration
// (<!DOCTYPE ...>) or any other <!...> declaration is refused, as the device reads no DTD; and
// elements nest at most 256 deep.
func DecodeProfile(cat *Catalog, data []byte, opts DecodeOptions) (*Profile, error) {
	prof := &Profile{}
	data, prof.Encoding = toUTF8(data)
	d := profileDecoder{cat: cat, data: data, rename: opts.Rename, prof: prof, flatDepth: -1, line: 1, changes: opts.Changes[:0]}
	if opts.Base != nil && opts.Base.cat == cat {
		d.base = opts.Base
	}
	d.open = make([]openElement, 0, 8)
	if err := d.run(); err != nil {
		return nil, err
	}
	return prof, nil
}

// syntaxKind tells why a document is not well-formed.
type syntaxKind uint8

const (
	// kindSyntax is a fault of the XML syntax itself.
	kindSyntax syntaxKind = iota
	// kindNonASCIIName is a name with a byte outside ASCII.
	kindNonASCIIName
	// kindSurrogateRef is a character reference to a UTF-16 surrogate (U+D800..U+DFFF).
	kindSurrogateRef
	// kindDeclaration is <!DOCTYPE ...> or another <!...> declaration.
	kindDeclaration
	// kindTooDeep is an element nested deeper than maxProfileDepth.
	kindTooDeep
)

// SyntaxError is a well-formedness fault of a profile. It wraps [ErrMalformedProfile]. The
// message names elements (at most maxNameInError bytes of each) but never quotes text or
// attribute values, which may be secrets.
type SyntaxError struct {
	// Line is the 1-based line of the fault.
	Line int
	// Msg says what is wrong, e.g. "<Display_Name_2_> closed by </Display_Name_1_>".
	Msg string

	off  int // byte offset of the fault
	kind syntaxKind
}

// Error returns "malformed profile: line 4: <Display_Name_2_> closed by </Display_Name_1_>".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%v: line %d: %s", ErrMalformedProfile, e.Line, e.Msg)
}

// Short is the fault without the sentinel: "line 4: <A> closed by </B>", the detail of $ERR.
func (e *SyntaxError) Short() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Unwrap returns [ErrMalformedProfile].
func (e *SyntaxError) Unwrap() error { return ErrMalformedProfile }

// maxNameInError bounds each element name an error message quotes: a hostile profile may
// have names of megabytes.
const maxNameInError = 64

// nameInError is an element name as an error message quotes it.
func nameInError(b []byte) string {
	if len(b) > maxNameInError {
		return string(b[:maxNameInError]) + "..."
	}
	return string(b)
}

// openElement is an open element: its qualified name is data[start:end], its local name
// data[local:end].
type openElement struct {
	start, end, local int
}

// profileDecoder scans one document. It works on offsets into data and makes strings only for
// what it returns: values, unknown names and, with an alias callback, the element path.
type profileDecoder struct {
	cat    *Catalog
	data   []byte
	rename func(path []string) (string, bool)
	prof   *Profile

	unknown map[string]struct{} // the names in prof.Unknown
	next    int                 // catalogue index after the last known parameter read
	base    *Snapshot           // DecodeOptions.Base, of this catalogue; nil: none
	changes []Change            // DecodeOptions.Changes, emptied

	open []openElement
	path []string // local names of the open elements; kept only when rename is set

	flatDepth int // len(open) of the open <flat-profile>, -1 if none
	sawFlat   bool

	// line is the 1-based line of byte lineOff; lineAt moves both forward.
	line, lineOff int

	// The parameter element being read, when inParam.
	inParam    bool
	param      Change
	paramIdx   int  // catalogue index of param.Name, -1 when unknown
	paramRaw   bool // param.Name is not set yet: the name is the element's local name
	paramLocal openElement
	paramDepth int
	leaf       bool // no element nested in it so far
	empty      bool // written as <X/>

	// The text of the parameter element: pieces counts the character data and CDATA pieces.
	// A single piece without references stays in data[rawStart:rawEnd] (rawOnly); otherwise
	// text holds the pieces with line ends normalised and references decoded.
	pieces           int
	rawOnly          bool
	rawStart, rawEnd int
	text             []byte
}

func (d *profileDecoder) run() error {
	data := d.data
	p := 0
	for p < len(data) {
		if data[p] != '<' {
			e := bytes.IndexByte(data[p:], '<')
			if e < 0 {
				e = len(data)
			} else {
				e += p
			}
			if err := d.charData(p, e); err != nil {
				return err
			}
			p = e
			continue
		}
		if p+1 >= len(data) {
			return d.errEOF()
		}
		var err error
		switch data[p+1] {
		case '/':
			p, err = d.endTag(p)
		case '?':
			p, err = d.procInst(p)
		case '!':
			p, err = d.declaration(p)
		default:
			p, err = d.startTag(p)
		}
		if err != nil {
			return err
		}
	}
	if len(d.open) > 0 {
		top := d.open[len(d.open)-1]
		return d.fail(top.start-1, kindSyntax, "<"+nameInError(data[top.local:top.end])+"> is not closed")
	}
	if !d.sawFlat && d.prof.Elements == 0 {
		return fmt.Errorf("%w: no <flat-profile> element", ErrMalformedProfile)
	}
	return nil
}

// startTag reads <name attr="value" ...> or <name .../> at data[p].
func (d *profileDecoder) startTag(p int) (int, error) {
	data := d.data
	nameEnd, local, err := d.qname(p+1, "element")
	if err != nil {
		return 0, err
	}
	access := AccessUnset
	empty := false
	q := nameEnd
	for {
		q = skipSpace(data, q)
		if q >= len(data) {
			return 0, d.errEOF()
		}
		if c := data[q]; c == '>' {
			q++
			break
		} else if c == '/' {
			if q+1 >= len(data) {
				return 0, d.errEOF()
			}
			if data[q+1] != '>' {
				return 0, d.fail(q, kindSyntax, "expected /> in element")
			}
			empty = true
			q += 2
			break
		}
		attrEnd, attrLocal, err := d.qname(q, "attribute")
		if err != nil {
			return 0, err
		}
		q = skipSpace(data, attrEnd)
		if q >= len(data) {
			return 0, d.errEOF()
		}
		if data[q] != '=' {
			return 0, d.fail(q, kindSyntax, "attribute name without = in element")
		}
		q = skipSpace(data, q+1)
		if q >= len(data) {
			return 0, d.errEOF()
		}
		quote := data[q]
		if quote != '"' && quote != '\'' {
			return 0, d.fail(q, kindSyntax, "unquoted attribute value")
		}
		vs := q + 1
		n := bytes.IndexByte(data[vs:], quote)
		if n < 0 {
			return 0, d.fail(q, kindSyntax, "attribute value not closed")
		}
		ve := vs + n
		refs, err := d.checkChars(vs, ve, inAttr)
		if err != nil {
			return 0, err
		}
		if string(data[attrLocal:attrEnd]) == "ua" {
			v := data[vs:ve]
			if refs {
				v = appendText(nil, v, true)
			}
			if len(v) == 2 {
				if acc, ok := ParseAccess(string(v)); ok {
					access = acc
				}
			}
		}
		q = ve + 1
	}
	if len(d.open) >= maxProfileDepth {
		return 0, d.fail(p, kindTooDeep, fmt.Sprintf("elements nested more than %d deep", maxProfileDepth))
	}
	d.open = append(d.open, openElement{start: p + 1, end: nameEnd, local: local})
	if d.rename != nil {
		d.path = append(d.path, string(data[local:nameEnd]))
	}
	d.startElement(access, empty)
	if empty {
		d.endElement()
	}
	return q, nil
}

// startElement applies the rules of SPA-BEHAVIOUR §1.1 to the element just opened.
func (d *profileDecoder) startElement(access Access, empty bool) {
	if d.inParam {
		d.leaf = false // a nested element: not a parameter value
		return
	}
	depth := len(d.open)
	el := d.open[depth-1]
	local := d.data[el.local:el.end]
	if d.flatDepth < 0 && string(local) == "flat-profile" {
		d.flatDepth, d.sawFlat = depth, true
		return
	}
	name, isParam := "", false
	if d.rename != nil {
		name, isParam = d.rename(d.path)
	}
	idx, raw := -1, false
	if isParam {
		if i, ok := d.cat.index[name]; ok {
			idx = i
		}
	} else if d.flatDepth >= 0 && depth == d.flatDepth+1 {
		isParam = true
		if i := d.next; i < len(d.cat.params) && d.cat.params[i].Name == string(local) {
			idx = i // profiles often list parameters in the catalogue's (export) order
		} else if i, ok := d.cat.index[string(local)]; ok {
			idx = i
		}
		if idx >= 0 {
			d.next, name = idx+1, d.cat.params[idx].Name
		} else {
			raw = true
		}
	}
	if !isParam {
		return
	}
	d.inParam = true
	d.param = Change{Name: name, Access: access, Line: d.lineAt(el.start - 1)}
	d.paramIdx, d.paramRaw, d.paramLocal, d.paramDepth = idx, raw, el, depth
	d.leaf, d.empty = true, empty
	d.pieces, d.rawOnly = 0, false
}

// endElement closes the innermost open element.
func (d *profileDecoder) endElement() {
	depth := len(d.open)
	if d.inParam && depth == d.paramDepth {
		d.prof.Elements++
		if d.paramIdx < 0 {
			d.addUnknown()
		} else if d.leaf {
			if !d.empty {
				d.param.SetValue = true
				d.param.Value = d.value()
			}
			if d.param.SetValue || d.param.Access != AccessUnset {
				if d.prof.Changes == nil { // about one change per element from here on
					n := bytes.Count(d.data[d.paramLocal.start:], []byte{'<'}) / 2
					if cap(d.changes) >= min(n+1, 4096) {
						d.prof.Changes = d.changes
					} else {
						d.prof.Changes = make([]Change, 0, min(n+1, 4096))
					}
				}
				d.prof.Changes = append(d.prof.Changes, d.param)
			}
		}
		d.inParam = false
	}
	if depth == d.flatDepth {
		d.flatDepth = -1
	}
	d.open = d.open[:depth-1]
	if d.rename != nil {
		d.path = d.path[:depth-1]
	}
}

// addUnknown records the name of the unknown parameter just read, once.
func (d *profileDecoder) addUnknown() {
	if d.unknown == nil {
		d.unknown = map[string]struct{}{}
	}
	name := d.param.Name
	if d.paramRaw {
		local := d.data[d.paramLocal.local:d.paramLocal.end]
		if _, seen := d.unknown[string(local)]; seen {
			return
		}
		name = string(local)
	} else if _, seen := d.unknown[name]; seen {
		return
	}
	d.unknown[name] = struct{}{}
	d.prof.Unknown = append(d.prof.Unknown, name)
	d.prof.UnknownLines = append(d.prof.UnknownLines, d.param.Line)
}

// lineAt returns the 1-based line of byte off, counting from the last offset asked for:
// offsets only grow while the document is read, so the document is counted once.
func (d *profileDecoder) lineAt(off int) int {
	if off < d.lineOff {
		return 1 + bytes.Count(d.data[:off], []byte{'\n'})
	}
	d.line += bytes.Count(d.data[d.lineOff:off], []byte{'\n'})
	d.lineOff = off
	return d.line
}

// endTag reads </name> at data[p].
func (d *profileDecoder) endTag(p int) (int, error) {
	data := d.data
	if n := len(d.open); n > 0 {
		// The common case: the end tag of the innermost element, without space before >.
		top := d.open[n-1]
		if e := p + 2 + top.end - top.start; e < len(data) && data[e] == '>' && bytes.Equal(data[p+2:e], data[top.start:top.end]) {
			d.endElement()
			return e + 1, nil
		}
	}
	nameEnd, _, err := d.qname(p+2, "element")
	if err != nil {
		return 0, err
	}
	q := skipSpace(data, nameEnd)
	if q >= len(data) {
		return 0, d.errEOF()
	}
	name := data[p+2 : nameEnd]
	if data[q] != '>' {
		return 0, d.fail(q, kindSyntax, "invalid characters between </"+nameInError(name)+" and >")
	}
	if len(d.open) == 0 {
		return 0, d.fail(p, kindSyntax, "</"+nameInError(name)+"> closes no element")
	}
	if top := d.open[len(d.open)-1]; !bytes.Equal(data[top.start:top.end], name) {
		// DECISIONS 8: the line, the element opened and the tag that closed it.
		msg := "<" + nameInError(data[top.start:top.end]) + "> closed by </" + nameInError(name) + ">"
		if opened := d.lineAt(top.start - 1); opened != d.lineAt(p) {
			msg = "<" + nameInError(data[top.start:top.end]) + "> opened on line " + strconv.Itoa(opened) + " closed by </" + nameInError(name) + ">"
		}
		return 0, d.fail(p, kindSyntax, msg)
	}
	d.endElement()
	return q + 1, nil
}

// procInst reads a processing instruction <?target ...?> at data[p] and checks the XML
// declaration <?xml ...?>.
func (d *profileDecoder) procInst(p int) (int, error) {
	data := d.data
	nameEnd, _, _, err := d.name(p+2, "processing instruction target")
	if err != nil {
		return 0, err
	}
	q := skipSpace(data, nameEnd)
	n := bytes.Index(data[q:], []byte("?>"))
	if n < 0 {
		return 0, d.errEOF()
	}
	if string(data[p+2:nameEnd]) == "xml" {
		content := data[q : q+n]
		if v := declParam(content, "version="); len(v) > 0 && string(v) != "1.0" {
			return 0, d.fail(p, kindSyntax, "unsupported XML version: only 1.0 is supported")
		}
		// The encoding was settled before the scan (toUTF8): data is UTF-8 here.
	}
	return q + n + 2, nil
}

// declParam finds the value of a pseudo-attribute of an XML declaration: the text after the
// first key (`version=`, `encoding=`) that is followed by a quote, up to the same quote. It
// returns nil when there is none.
func declParam(content []byte, key string) []byte {
	for i := 0; i < len(content); {
		sub := content[i:]
		k := bytes.Index(sub, []byte(key))
		if k < 0 || k+len(key) >= len(sub) {
			return nil
		}
		i += k + len(key) + 1
		if quote := sub[k+len(key)]; quote == '"' || quote == '\'' {
			n := bytes.IndexByte(content[i:], quote)
			if n < 0 {
				return nil
			}
			return content[i : i+n]
		}
	}
	return nil
}

// declaration reads <!-- comment -->, <![CDATA[...]]> or refuses another <!...> at data[p].
func (d *profileDecoder) declaration(p int) (int, error) {
	data := d.data
	if p+2 >= len(data) {
		return 0, d.errEOF()
	}
	switch data[p+2] {
	case '-':
		if p+3 >= len(data) {
			return 0, d.errEOF()
		}
		if data[p+3] != '-' {
			return 0, d.fail(p, kindSyntax, "<!- is not <!--")
		}
		c := p + 4
		n := bytes.Index(data[c:], []byte("--"))
		if n < 0 {
			return 0, d.errEOF()
		}
		end := c + n + 2
		if end >= len(data) {
			return 0, d.errEOF()
		}
		if data[end] != '>' {
			return 0, d.fail(end, kindSyntax, `"--" inside a comment`)
		}
		return end + 1, nil
	case '[':
		const open = "[CDATA["
		for i := 1; i < len(open); i++ {
			if p+2+i >= len(data) {
				return 0, d.errEOF()
			}
			if data[p+2+i] != open[i] {
				return 0, d.fail(p, kindSyntax, "<![ that does not start <![CDATA[")
			}
		}
		c := p + 2 + len(open)
		n := bytes.Index(data[c:], []byte("]]>"))
		if n < 0 {
			return 0, d.errEOF()
		}
		if _, err := d.checkChars(c, c+n, inCDATA); err != nil {
			return 0, err
		}
		if d.inParam && d.leaf && len(d.open) == d.paramDepth {
			d.addText(c, c+n, false)
		}
		return c + n + 3, nil
	}
	return 0, d.fail(p, kindDeclaration, "document type and other <! declarations are not supported")
}

// charData checks the character data data[s:e] and keeps it when it is a parameter's value.
func (d *profileDecoder) charData(s, e int) error {
	refs, err := d.checkChars(s, e, inText)
	if err != nil {
		return err
	}
	if d.inParam && d.leaf && len(d.open) == d.paramDepth {
		d.addText(s, e, refs)
	}
	return nil
}

// addText adds a piece of the current parameter's text: data[s:e], character data or a CDATA
// section. refs tells whether it has references to decode (never in CDATA).
func (d *profileDecoder) addText(s, e int, refs bool) {
	if d.pieces == 0 && !refs {
		d.pieces, d.rawOnly, d.rawStart, d.rawEnd = 1, true, s, e
		return
	}
	if d.pieces == 0 {
		d.text = d.text[:0]
	} else if d.rawOnly {
		d.text = appendText(d.text[:0], d.data[d.rawStart:d.rawEnd], false)
		d.rawOnly = false
	}
	d.text = appendText(d.text, d.data[s:e], refs)
	d.pieces++
}

// value is the current parameter's value, cleaned: the base's own string when it is the
// same.
func (d *profileDecoder) value() string {
	prev, known := "", false
	if d.base != nil && d.paramIdx >= 0 {
		prev, known = d.base.val(d.paramIdx), true
	}
	switch {
	case d.pieces == 0:
		return ""
	case d.rawOnly:
		// Line ends need no normalising first: cleanBytes turns \r\n, \r and \n into one
		// space each, as it would after normalisation.
		return cleanBytesAs(d.data[d.rawStart:d.rawEnd], prev, known)
	}
	return cleanBytesAs(d.text, prev, known)
}

// Where checkChars is looking.
const (
	inText = iota
	inAttr
	inCDATA
)

// Character classes for checkChars.
const (
	clsCtl  = 1 << iota // a control character XML does not allow
	clsAmp              // &
	clsLt               // <
	clsRSB              // ]
	clsHigh             // a byte of a multi-byte UTF-8 sequence
)

// charClass is a constant table of the character classes of bytes.
var charClass = func() (t [256]uint8) {
	for c := range 0x20 {
		if c != '\t' && c != '\n' && c != '\r' {
			t[c] = clsCtl
		}
	}
	t['&'], t['<'], t[']'] = clsAmp, clsLt, clsRSB
	for c := 0x80; c < 0x100; c++ {
		t[c] = clsHigh
	}
	return t
}()

// plainWord reports whether the eight bytes of x are all ASCII from space on, other than &, <
// and ]: in charClass 0 (tab, line feed and carriage return are too, but plainWord leaves them
// to the byte loop). It tests each byte for < 0x20, >= 0x80 and equality with the three.
func plainWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) &^ v & highs } // a zero byte in v
	return (x&highs | (x-0x20*ones)&^x&highs | zero(x^'&'*ones) | zero(x^'<'*ones) | zero(x^']'*ones)) == 0
}

// checkChars checks the characters of data[s:e] and reports whether it holds references.
func (d *profileDecoder) checkChars(s, e int, where int) (refs bool, err error) {
	seg := d.data[s:e]
	i := 0
	for ; i+8 <= len(seg); i += 8 { // eight bytes at a time while all are plain
		if !plainWord(binary.LittleEndian.Uint64(seg[i:])) {
			break
		}
	}
	var acc uint8
	for _, c := range seg[i:] {
		acc |= charClass[c]
	}
	if acc == 0 {
		return false, nil
	}
	if acc&clsCtl != 0 {
		i := s
		for charClass[d.data[i]]&clsCtl == 0 {
			i++
		}
		return false, d.fail(i, kindSyntax, "illegal control character")
	}
	if acc&clsHigh != 0 {
		if !utf8.Valid(seg) {
			return false, d.fail(s, kindSyntax, "invalid UTF-8")
		}
		if bytes.Contains(seg, []byte("\uFFFE")) || bytes.Contains(seg, []byte("\uFFFF")) {
			return false, d.fail(s, kindSyntax, "illegal character U+FFFE or U+FFFF")
		}
	}
	if where == inCDATA {
		return false, nil
	}
	if where == inAttr && acc&clsLt != 0 {
		return false, d.fail(s+bytes.IndexByte(seg, '<'), kindSyntax, "< in an attribute value")
	}
	if where == inText && acc&clsRSB != 0 {
		if i := bytes.Index(seg, []byte("]]>")); i >= 0 {
			return false, d.fail(s+i, kindSyntax, "]]> outside a CDATA section")
		}
	}
	if acc&clsAmp == 0 {
		return false, nil
	}
	for i := 0; i < len(seg); {
		k := bytes.IndexByte(seg[i:], '&')
		if k < 0 {
			break
		}
		i += k
		_, n, kind := parseRef(seg[i:])
		switch kind {
		case refSurrogate:
			return false, d.fail(s+i, kindSurrogateRef, "character reference to a surrogate")
		case refBad:
			return false, d.fail(s+i, kindSyntax, "invalid entity or character reference")
		}
		i += n
	}
	return true, nil
}

// Outcomes of parseRef.
const (
	refOK = iota
	refBad
	refSurrogate
)

// parseRef reads the entity or character reference at the start of s ("&..."): the character,
// the length of the reference and whether it is valid.
func parseRef(s []byte) (r rune, n int, kind int) {
	if len(s) < 2 {
		return 0, 0, refBad
	}
	if s[1] != '#' {
		for _, e := range [...]struct {
			ref string
			r   rune
		}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&apos;", '\''}, {"&quot;", '"'}} {
			if bytes.HasPrefix(s, []byte(e.ref)) {
				return e.r, len(e.ref), refOK
			}
		}
		return 0, 0, refBad
	}
	i, base := 2, rune(10)
	if i < len(s) && s[i] == 'x' {
		i, base = 3, 16
	}
	start := i
	var v rune
	for ; i < len(s); i++ {
		var digit rune
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digit = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			digit = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			digit = rune(c-'A') + 10
		default:
			digit = -1
		}
		if digit < 0 {
			break
		}
		if v <= utf8.MaxRune {
			v = v*base + digit
		}
	}
	if i == start || i >= len(s) || s[i] != ';' {
		return 0, 0, refBad
	}
	switch {
	case 0xD800 <= v && v <= 0xDFFF:
		return 0, 0, refSurrogate
	case v == 0x9 || v == 0xA || v == 0xD, 0x20 <= v && v <= 0xD7FF,
		0xE000 <= v && v <= 0xFFFD, 0x10000 <= v && v <= utf8.MaxRune:
		return v, i + 1, refOK
	}
	return 0, 0, refBad
}

// appendText appends checked text to dst with line ends normalised (\r\n and \r become \n)
// and, when refs is set, entity and character references decoded.
func appendText(dst, s []byte, refs bool) []byte {
	prevCR := false
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\r':
			dst = append(dst, '\n')
			prevCR = true
			i++
		case c == '\n' && prevCR:
			prevCR = false
			i++
		case c == '&' && refs:
			r, n, _ := parseRef(s[i:])
			if n == 0 { // cannot happen on checked text; never loop
				n = 1
			}
			dst = utf8.AppendRune(dst, r)
			prevCR = false
			i += n
		default:
			dst = append(dst, c)
			prevCR = false
			i++
		}
	}
	return dst
}

// name reads an XML name at data[p]: its end, and where its first colon is (-1 if none) and
// whether it has more. Names are ASCII (SPA-BEHAVIOUR §1.1).
func (d *profileDecoder) name(p int, what string) (end, colon int, colons bool, err error) {
	data := d.data
	e, seen := p, uint8(0)
	for e < len(data) {
		c := nameChar[data[e]]
		if c&nameAny == 0 {
			break
		}
		seen |= c
		e++
	}
	colon = -1
	if seen&nameColon != 0 {
		colon = p + bytes.IndexByte(data[p:e], ':')
		colons = bytes.IndexByte(data[colon+1:e], ':') >= 0
	}
	if e < len(data) && data[e] >= utf8.RuneSelf {
		return 0, 0, false, d.fail(e, kindNonASCIIName, "non-ASCII character in a name")
	}
	if e == p {
		if e >= len(data) {
			return 0, 0, false, d.errEOF()
		}
		return 0, 0, false, d.fail(p, kindSyntax, "expected "+what+" name")
	}
	if nameChar[data[p]]&nameFirst == 0 {
		return 0, 0, false, d.fail(p, kindSyntax, "invalid "+what+" name")
	}
	return e, colon, colons, nil
}

// qname reads a name with an optional namespace prefix at data[p]: its end and the start of
// its local part (after the colon of prefix:local).
func (d *profileDecoder) qname(p int, what string) (end, local int, err error) {
	end, colon, colons, err := d.name(p, what)
	switch {
	case err != nil:
		return 0, 0, err
	case colons:
		return 0, 0, d.fail(p, kindSyntax, "more than one colon in "+what+" name")
	case colon > p && colon < end-1:
		return end, colon + 1, nil
	}
	return end, p, nil
}

// Classes of name characters.
const (
	nameAny   = 1 << iota // may appear in a name
	nameFirst             // may start a name
	nameColon             // :
)

// nameChar is a constant table of the ASCII name characters: letters, _ and : start a name;
// digits, . and - may follow.
var nameChar = func() (t [256]uint8) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c], t[c+'a'-'A'] = nameAny|nameFirst, nameAny|nameFirst
	}
	t['_'], t[':'] = nameAny|nameFirst, nameAny|nameFirst|nameColon
	for c := '0'; c <= '9'; c++ {
		t[c] = nameAny
	}
	t['.'], t['-'] = nameAny, nameAny
	return t
}()

func skipSpace(data []byte, p int) int {
	for p < len(data) {
		switch data[p] {
		case ' ', '\t', '\r', '\n':
			p++
		default:
			return p
		}
	}
	return p
}

func (d *profileDecoder) fail(off int, kind syntaxKind, msg string) error {
	off = min(max(off, 0), len(d.data))
	return &SyntaxError{off: off, Line: 1 + bytes.Count(d.data[:off], []byte{'\n'}), kind: kind, Msg: msg}
}

func (d *profileDecoder) errEOF() error {
	return d.fail(len(d.data), kindSyntax, "unexpected end of document")
}

// cleanBytesAs is cleanValue of b, without copying b more than once in the common case, and
// not at all when known and the value is prev: prev itself is returned.
func cleanBytesAs(b []byte, prev string, known bool) string {
	i, j := 0, len(b)
	for i < j && isASCIISpace(b[i]) {
		i++
	}
	for j > i && isASCIISpace(b[j-1]) {
		j--
	}
	if i < j && (b[i] >= utf8.RuneSelf || b[j-1] >= utf8.RuneSelf) {
		return cleanValue(string(b)) // maybe Unicode white space at an end
	}
	b = b[i:j]
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		if known && string(b) == prev { // compared without a copy
			return prev
		}
		return string(b)
	}
	return string(joinLines(make([]byte, 0, len(b)), b))
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// cleanValue trims a value and turns its line breaks into spaces (SPA-BEHAVIOUR §1.1).
func cleanValue(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "\r\n") {
		s = string(joinLines(make([]byte, 0, len(s)), []byte(s)))
	}
	return s
}

// joinLines appends s to dst with each line break (\r\n, \r or \n) turned into a space.
func joinLines(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			dst = append(dst, ' ')
		case '\n':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
