package config

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/ianaindex"
)

// decodeProfileStd is the encoding/xml implementation DecodeProfile replaced, the reference
// of FuzzDecodeProfileMatchesStd. It has learnt the rules DECISIONS 8 added since: the
// character encoding (refEncoding, from encoding/xml's own reading of the declaration and
// x/text's IANA index) and the line of each element (encoding/xml's offsets).
func decodeProfileStd(cat *Catalog, data []byte, opts DecodeOptions) (*Profile, error) {
	prof := &Profile{}
	data, prof.Encoding = refEncoding(data)
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	// data is UTF-8 now: a declared encoding needs no conversion.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	unknown := map[string]bool{}
	var (
		path       []string   // local names of the open elements
		open       []xml.Name // the open elements, to check that tags match
		flatDepth  = -1       // len(path) of the open <flat-profile>, -1 if none
		sawFlat    bool
		cur        *Change // the parameter element being read
		curDepth   int
		curLeaf    bool
		text       bytes.Buffer
		selfClosed bool
	)
	for {
		off := d.InputOffset()
		tok, err := d.RawToken() // no namespace work; tag matching is checked below
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformedProfile, syntaxTextStd(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			open = append(open, t.Name)
			if cur != nil {
				curLeaf = false // a nested element: not a parameter value
				continue
			}
			if t.Name.Local == "flat-profile" && flatDepth < 0 {
				flatDepth, sawFlat = len(path), true
				continue
			}
			name, isParam := "", false
			if opts.Rename != nil {
				name, isParam = opts.Rename(path)
			}
			if !isParam && flatDepth >= 0 && len(path) == flatDepth+1 {
				name, isParam = t.Name.Local, true
			}
			if !isParam {
				continue
			}
			cur = &Change{Name: name, Line: lineAtStd(data, off)}
			curDepth, curLeaf = len(path), true
			text.Reset()
			for _, a := range t.Attr {
				if a.Name.Local == "ua" {
					if acc, ok := ParseAccess(a.Value); ok {
						cur.Access = acc
					}
				}
			}
			end := int(d.InputOffset())
			selfClosed = end >= 2 && end <= len(data) && data[end-2] == '/' && int(off) < end
		case xml.CharData:
			if cur != nil && curLeaf && len(path) == curDepth {
				text.Write(t)
			}
		case xml.EndElement:
			if len(open) == 0 || open[len(open)-1] != t.Name {
				return nil, fmt.Errorf("%w: line %d: element <%s> closed by </%s>", ErrMalformedProfile, lineAtStd(data, d.InputOffset()), lastNameStd(open), t.Name.Local)
			}
			open = open[:len(open)-1]
			if cur != nil && len(path) == curDepth {
				prof.Elements++
				if _, known := cat.index[cur.Name]; !known {
					if !unknown[cur.Name] {
						unknown[cur.Name] = true
						prof.Unknown = append(prof.Unknown, cur.Name)
						prof.UnknownLines = append(prof.UnknownLines, cur.Line)
					}
				} else if curLeaf {
					if !selfClosed {
						cur.SetValue = true
						cur.Value = cleanValueStd(text.String())
					}
					if cur.SetValue || cur.Access != AccessUnset {
						prof.Changes = append(prof.Changes, *cur)
					}
				}
				cur = nil
			}
			if len(path) == flatDepth {
				flatDepth = -1
			}
			path = path[:len(path)-1]
		}
	}
	if len(open) > 0 {
		return nil, fmt.Errorf("%w: <%s> is not closed", ErrMalformedProfile, lastNameStd(open))
	}
	if !sawFlat && prof.Elements == 0 {
		return nil, fmt.Errorf("%w: no <flat-profile> element", ErrMalformedProfile)
	}
	return prof, nil
}

// refEncoding is the reference of toUTF8, written independently: encoding/xml finds the
// declaration (it hands a non-UTF-8 label to CharsetReader when the declaration is the first
// token after white space and a byte order mark), x/text's IANA index says what the label
// means, and the document is transcoded with x/text's charmap (windows-1252) or byte by byte
// (ISO-8859-1). Encoding.Declared is not computed (matchStd does not compare it), and
// Warning is "warn" where toUTF8 must have one.
func refEncoding(data []byte) ([]byte, Encoding) {
	label := ""
	probe := xml.NewDecoder(bytes.NewReader(data))
	probe.CharsetReader = func(l string, r io.Reader) (io.Reader, error) { label = l; return r, nil }
	for {
		tok, err := probe.RawToken()
		if err != nil {
			label = ""
			break
		}
		if cd, ok := tok.(xml.CharData); ok {
			rest := bytes.TrimPrefix(cd, []byte("\ufeff"))
			if len(rest) < len(cd) && probe.InputOffset() != int64(len(cd)) {
				break // a byte order mark that is not the document's first bytes
			}
			if len(bytes.Trim(rest, " \t\r\n")) == 0 {
				continue
			}
		}
		if pi, ok := tok.(xml.ProcInst); !ok || pi.Target != "xml" {
			label = ""
		}
		break
	}
	extra := map[string]string{"utf8": "UTF-8", "ascii": "US-ASCII", "cp1252": "windows-1252",
		"x-cp1252": "windows-1252", "iso8859-1": "ISO_8859-1:1987", "iso88591": "ISO_8859-1:1987"}
	name := ""
	if e, err := ianaindex.IANA.Encoding(label); err == nil && e != nil {
		name, _ = ianaindex.IANA.Name(e)
	} else if n, ok := extra[strings.ToLower(strings.Trim(label, " \t\r\n"))]; ok {
		name = n
	}
	latin1 := func() []byte {
		var b strings.Builder
		for _, c := range data {
			b.WriteRune(rune(c))
		}
		return []byte(b.String())
	}
	switch {
	case label == "" || name == "UTF-8" || name == "US-ASCII":
		if utf8.Valid(data) {
			return data, Encoding{Used: EncodingUTF8}
		}
		return latin1(), Encoding{Used: EncodingLatin1, Warning: "warn"}
	case name == "ISO_8859-1:1987":
		return latin1(), Encoding{Used: EncodingLatin1}
	case name == "windows-1252":
		out, err := io.ReadAll(charmap.Windows1252.NewDecoder().Reader(bytes.NewReader(data)))
		if err != nil {
			panic(err)
		}
		return out, Encoding{Used: EncodingWindows1252}
	case utf8.Valid(data):
		return data, Encoding{Used: EncodingUTF8, Warning: "warn"}
	}
	return latin1(), Encoding{Used: EncodingLatin1, Warning: "warn"}
}

func lastNameStd(open []xml.Name) string {
	if len(open) == 0 {
		return ""
	}
	return open[len(open)-1].Local
}

// lineAtStd is the 1-based line of a byte offset.
func lineAtStd(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// cleanValueStd trims a value and turns its line breaks into spaces (SPA-BEHAVIOUR §1.1).
func cleanValueStd(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	}
	return s
}

func syntaxTextStd(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("line %d: %s", se.Line, se.Msg)
	}
	return err.Error()
}

// FuzzDecodeProfileMatchesStd feeds DecodeProfile and the encoding/xml reference the same
// bytes and requires the same outcome: the same Changes, Unknown and Elements, the same alias
// lookups, and an error from both or from neither. The only accepted difference is where
// DecodeProfile is stricter by design (see its doc comment), each checked against the input:
//   - a name with a non-ASCII character (encoding/xml takes XML 1.0 Unicode letters);
//   - a character reference to a surrogate (encoding/xml decodes it to U+FFFD);
//   - <!DOCTYPE ...> and other <! declarations (encoding/xml skips them);
//   - elements nested deeper than maxProfileDepth (encoding/xml has no limit).
//
// DecodeProfile is never more lenient than the reference.
func FuzzDecodeProfileMatchesStd(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	cat := spa942(f)
	f.Fuzz(func(t *testing.T, data []byte, alias bool) {
		if msg := matchStd(cat, data, alias); msg != "" {
			t.Fatal(msg)
		}
	})
}

// matchStd decodes data with DecodeProfile and decodeProfileStd and describes how the results
// differ beyond what stricterByDesign accepts; "" when they agree.
func matchStd(cat *Catalog, data []byte, alias bool) string {
	var gotCalls, wantCalls []string
	gotOpts, wantOpts := DecodeOptions{}, DecodeOptions{}
	if alias {
		gotOpts.Rename, wantOpts.Rename = fuzzAliases(&gotCalls), fuzzAliases(&wantCalls)
	}
	got, err := DecodeProfile(cat, data, gotOpts)
	want, wantErr := decodeProfileStd(cat, data, wantOpts)
	if err != nil && !errors.Is(err, ErrMalformedProfile) {
		return fmt.Sprintf("error %v does not wrap ErrMalformedProfile", err)
	}
	switch {
	case err != nil && wantErr != nil:
		return ""
	case err != nil:
		if stricterByDesign(data, err) {
			return ""
		}
		return fmt.Sprintf("DecodeProfile: %v; encoding/xml accepts the document", err)
	case wantErr != nil:
		return fmt.Sprintf("DecodeProfile accepts what encoding/xml refuses: %v", wantErr)
	}
	if got.Encoding.Used != want.Encoding.Used || (got.Encoding.Warning == "") != (want.Encoding.Warning == "") {
		return fmt.Sprintf("encoding %+v, reference %+v", got.Encoding, want.Encoding)
	}
	got.Encoding, want.Encoding = Encoding{}, Encoding{}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("DecodeProfile =\n%+v\nencoding/xml =\n%+v", got, want)
	}
	if !reflect.DeepEqual(gotCalls, wantCalls) {
		return fmt.Sprintf("alias lookups %q, want %q", gotCalls, wantCalls)
	}
	return ""
}

// fuzzAliases is an alias callback that records each lookup. It names a parameter after an
// element in an <alias> element (known or not), and maps <gpp> and <ren> anywhere.
func fuzzAliases(calls *[]string) func(path []string) (string, bool) {
	return func(path []string) (string, bool) {
		*calls = append(*calls, strings.Join(path, "/"))
		n := len(path)
		switch {
		case n >= 2 && path[n-2] == "alias":
			return path[n-1], true
		case path[n-1] == "gpp":
			return "GPP_B", true
		case path[n-1] == "ren":
			return "Renamed_Unknown", true
		}
		return "", false
	}
}

// stricterByDesign reports whether err is one of the faults DecodeProfile refuses on purpose
// where encoding/xml does not, after checking that data (as read, in UTF-8) really has that
// fault.
func stricterByDesign(data []byte, err error) bool {
	var se *SyntaxError
	data, _ = refEncoding(data) // offsets are into the document as read, in UTF-8
	if !errors.As(err, &se) || se.off >= len(data) {
		return false
	}
	rest := data[se.off:]
	switch se.kind {
	case kindNonASCIIName:
		return rest[0] >= 0x80
	case kindSurrogateRef:
		digits, _, _ := bytes.Cut(rest, []byte(";"))
		var ok bool
		base := 10
		if digits, ok = bytes.CutPrefix(digits, []byte("&#")); !ok {
			return false
		}
		if hex, isHex := bytes.CutPrefix(digits, []byte("x")); isHex {
			digits, base = hex, 16
		}
		v, err := strconv.ParseUint(string(digits), base, 64)
		return err == nil && 0xD800 <= v && v <= 0xDFFF
	case kindDeclaration:
		return len(rest) > 2 && rest[0] == '<' && rest[1] == '!' && rest[2] != '-' && rest[2] != '['
	case kindTooDeep:
		return maxDepthStd(data) > maxProfileDepth
	}
	return false
}

// maxDepthStd is the deepest element nesting encoding/xml reads in data before any error.
func maxDepthStd(data []byte) int {
	d := xml.NewDecoder(bytes.NewReader(data))
	depth, deepest := 0, 0
	for {
		tok, err := d.RawToken()
		if err != nil {
			return deepest
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			deepest = max(deepest, depth)
		case xml.EndElement:
			depth--
		}
	}
}

// realWorldDocs are the real-world profiles, filled in as a server would fill them, and two
// exports: the SPA962 5.1.15 one and ours.
func realWorldDocs(tb testing.TB) [][]byte {
	tb.Helper()
	cat := spa942(tb)
	files, err := filepath.Glob("testdata/real-world/*")
	if err != nil {
		tb.Fatal(err)
	}
	var docs [][]byte
	for _, f := range append(files, "testdata/spa962-5.1.15-export.xml") {
		if filepath.Ext(f) == ".md" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, []byte(fillTemplate(cat, string(data))))
	}
	var export bytes.Buffer
	if err := NewSnapshot(CatalogFor(mustModel(tb, "SPA962"))).WriteXML(&export, ExportOptions{Info: &Info{ProductName: "SPA962"}}); err != nil {
		tb.Fatal(err)
	}
	return append(docs, export.Bytes())
}

// fuzzSeeds are the real-world documents cut into pieces of 40 lines (each piece also wrapped
// in <flat-profile>), the cases of TestDecodeProfileRules and documents for each rule of the
// scanner. Whole documents of 100 KB make the fuzzer spend its time minimising; they are
// checked whole by TestDecodeProfileMatchesStd.
func fuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	for _, doc := range realWorldDocs(tb) {
		lines := bytes.SplitAfter(doc, []byte("\n"))
		for i := 0; i < len(lines); i += 40 {
			piece := bytes.Join(lines[i:min(i+40, len(lines))], nil)
			seeds = append(seeds, piece, slices.Concat([]byte("<flat-profile>\n"), piece, []byte("</flat-profile>\n")))
		}
	}
	for _, s := range []string{
		`<flat-profile><GPP_A>x</GPP_A></flat-profile>`,
		`<?xml version='1.0'?><top-level><flat-profile device="Linksys"><GPP_A>x</GPP_A></flat-profile></top-level>`,
		`<top><GPP_B>y</GPP_B><flat-profile><GPP_A>x</GPP_A></flat-profile></top>`,
		`<flat-profile><!-- <GPP_A>no</GPP_A> --><GPP_A>x</GPP_A></flat-profile>`,
		"<flat-profile><GPP_A>\n  a\nb  \n</GPP_A></flat-profile>",
		`<flat-profile><GPP_A>&amp;&lt;&gt;&apos;&quot;&#65;&#x42;</GPP_A></flat-profile>`,
		`<flat-profile><gpp_a>x</gpp_a></flat-profile>`,
		`<flat-profile><GPP_A>1</GPP_A><GPP_A>2</GPP_A></flat-profile>`,
		`<flat-profile><Profile_Rule/></flat-profile>`,
		`<flat-profile><Profile_Rule></Profile_Rule></flat-profile>`,
		`<flat-profile><Speed_Dial_2 ua="na"/></flat-profile>`,
		`<flat-profile><GPP_A ua="rw">v</GPP_A></flat-profile>`,
		`<flat-profile><Speed_Dial_2 ua="xx">1</Speed_Dial_2></flat-profile>`,
		`<flat-profile><Foo>1</Foo><Foo>2</Foo><Bar/></flat-profile>`,
		`<flat-profile><router-configuration><Time_Zone>x</Time_Zone></router-configuration><GPP_A>x</GPP_A></flat-profile>`,
		`<flat-profile xmlns="http://www.sipura.net/xsd/SPA50x-30x-SIP"><GPP_A>x</GPP_A></flat-profile>`,
		`<flat-profile><GPP_A group="Provisioning/General_Purpose_Parameters">x</GPP_A></flat-profile>`,
		`<flat-profile><GPP_A>x</GPP_B></flat-profile>`,
		`<flat-profile><GPP_A>x</GPP_A>`,
		`GPP_A "x" ;`,
		``,
		// CDATA, pieces and line ends.
		"<flat-profile><GPP_A><![CDATA[a<b>&amp;]]></GPP_A><GPP_B> x <![CDATA[ y\r]]>\n&#13;z<!-- c -->\r\n w </GPP_B></flat-profile>",
		"<flat-profile><GPP_A>a\r&#10;b\r\r\nc&#13;&#10;d</GPP_A><GPP_C>&#xA0;v&#x2003;</GPP_C></flat-profile>",
		// Processing instructions, prefixes, quotes, attributes.
		`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><?pi data?><x:flat-profile><x:GPP_A x:ua='ro' b = "1">v</x:GPP_A><GPP_B xmlns:ua="rw"/></x:flat-profile>`,
		`<?xml version="1.1"?><flat-profile/>`,
		`<?xml encoding="latin1"?><flat-profile/>`,
		`<flat-profile><GPP_A ua="n&#97;" a="]]>">v</GPP_A><GPP_B ua="na"ua="rw"/></flat-profile>`,
		// Aliases, nesting, several roots and text outside them.
		`<dev><alias><GPP_A>a</GPP_A><Nope ua="na"/></alias><x><gpp>b</gpp><ren>c</ren></x></dev>`,
		`lead <a/><flat-profile><alias><GPP_A>x</GPP_A></alias><flat-profile>y</flat-profile></flat-profile> tail <flat-profile><GPP_D>d</GPP_D></flat-profile>`,
		// Faults.
		`<flat-profile><GPP_A>a & b</GPP_A></flat-profile>`,
		`<flat-profile><GPP_A a="<">v</GPP_A></flat-profile>`,
		`<flat-profile><GPP_A>&#0;&#xD800;&#x110000;</GPP_A></flat-profile>`,
		`<!DOCTYPE flat-profile [<!ENTITY e "x">]><flat-profile><GPP_A>&e;</GPP_A></flat-profile>`,
		"<flat-profile><Gr\u00f6\u00dfe>x</Gr\u00f6\u00dfe></flat-profile>",
		"<flat-profile><GPP_A>\xff\x01</GPP_A><!-- -- --></flat-profile>",
		`<flat-profile><GPP_A>]]></GPP_A><1a/><a:b:c/></flat-profile>`,
		strings.Repeat("<a>", 300) + "<flat-profile/>" + strings.Repeat("</a>", 300),
		strings.Repeat("<a>", 255) + "<flat-profile><GPP_A>x</GPP_A></flat-profile>" + strings.Repeat("</a>", 255),
		"<flat-profile><GPP_A> a<!-- c --><?pi?>b <![CDATA[c\r\n]]>\r\nd </GPP_A></flat-profile>",
		`<flat-profile><GPP_A>&#x4a;&#x4A;&#0000074;&#X4A;</GPP_A><GPP_B>&nbsp;&#65</GPP_B></flat-profile>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><flat-profile/>`,
		`<flat-profile><GPP_A ua="ro" ua="rw" ua="zz"/><GPP_B ua=na/><GPP_C ua></GPP_C></flat-profile>`,
		"\ufefflead <a/><flat-profile><GPP_A>x<b/></GPP_A></flat-profile> tail <b></b>",
		`<device><sip><user>u</user><auth-secret ua="na">s</auth-secret></sip><flat-profile><GPP_A>x</GPP_A><GPP_C>c<user>no</user></GPP_C></flat-profile></device>`,
		"<flat-profile><GPP_A>\u00e9\ufffd\U0001F600&#x1F600;&#xFFFE;\uffff</GPP_A></flat-profile>",
		// Character encodings (DECISIONS 8): declared, undeclared, misdeclared, unknown.
		"<flat-profile><Station_Name>R\xe9pertoire</Station_Name></flat-profile>",
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<flat-profile><GPP_A>\xe9\x85</GPP_A></flat-profile>",
		"\xef\xbb\xbf <?xml version='1.0' encoding='latin1'?><flat-profile><GPP_A>\xe9</GPP_A></flat-profile>",
		"<?xml version=\"1.0\" encoding=\"windows-1252\"?><flat-profile><GPP_A>\x80\x81\x93x\x94</GPP_A></flat-profile>",
		"<?xml version=\"1.0\" encoding=\"cp1252\"?><flat-profile><GPP_A>\x9d\xff</GPP_A></flat-profile>",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><flat-profile><GPP_A>\xe9</GPP_A><GPP_B>\u00e9</GPP_B></flat-profile>",
		"<?xml version=\"1.0\" encoding=\"US-ASCII\"?><flat-profile><GPP_A>\u00e9</GPP_A></flat-profile>",
		"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><flat-profile><GPP_A>\x82\xa0</GPP_A></flat-profile>",
		"<?xml encoding=\"utf-16\"?><flat-profile><GPP_A>x</GPP_A></flat-profile>",
		"<a><?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><flat-profile><GPP_A>\xe9</GPP_A></flat-profile></a>",
		"<?xml-stylesheet encoding=\"latin1\"?><flat-profile><GPP_A>\xe9</GPP_A></flat-profile>",
		"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><flat-profile><GPP_A>\x01</GPP_A></flat-profile>",
		// Lines and the Elastix mismatch.
		"<flat-profile>\n<Display_Name_1_>a</Display_Name_1_>\n<Display_Name_2_>b</Display_Name_1_>\n</flat-profile>",
		"<flat-profile>\r\n<Foo>1</Foo>\r<GPP_A>\n</GPP_A>\n\n<Foo/><Bar>\n</Bar></flat-profile>",
		"<flat-profile><Time_Zone>GMT+1:00</Time_Zone><Time_Zone>GMT-5:00</Time_Zone></flat-profile>",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// TestDecodeProfileMatchesStd runs the differential check on the whole real-world documents,
// the seeds and every prefix of the small seeds: truncation reaches each "unexpected end" path.
func TestDecodeProfileMatchesStd(t *testing.T) {
	cat := spa942(t)
	for _, seed := range slices.Concat(realWorldDocs(t), fuzzSeeds(t)) {
		inputs := [][]byte{seed}
		if len(seed) < 400 {
			for i := range seed {
				inputs = append(inputs, seed[:i])
			}
		}
		for _, in := range inputs {
			for _, alias := range []bool{false, true} {
				if msg := matchStd(cat, in, alias); msg != "" {
					t.Errorf("%.80q (alias %v): %s", in, alias, msg)
				}
			}
		}
	}
}

// TestStricterByDesign shows each documented difference from encoding/xml on a document the
// reference accepts, and that the oracle recognises it.
func TestStricterByDesign(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		kind syntaxKind
	}{
		{name: "non-ASCII name", xml: "<flat-profile><Gr\u00f6\u00dfe>x</Gr\u00f6\u00dfe></flat-profile>", kind: kindNonASCIIName},
		{name: "non-ASCII attribute name", xml: "<flat-profile><GPP_A \u00e9t\u00e9=\"1\">x</GPP_A></flat-profile>", kind: kindNonASCIIName},
		{name: "surrogate reference", xml: `<flat-profile><GPP_A>&#xD800;</GPP_A></flat-profile>`, kind: kindSurrogateRef},
		{name: "decimal surrogate reference", xml: `<flat-profile><GPP_A ua="&#56320;"/></flat-profile>`, kind: kindSurrogateRef},
		{name: "doctype", xml: `<!DOCTYPE flat-profile><flat-profile><GPP_A>x</GPP_A></flat-profile>`, kind: kindDeclaration},
		{name: "too deep", xml: strings.Repeat("<a>", 300) + "<flat-profile/>" + strings.Repeat("</a>", 300), kind: kindTooDeep},
	}
	cat := spa942(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeProfileStd(cat, []byte(tt.xml), DecodeOptions{}); err != nil {
				t.Fatalf("encoding/xml: %v", err)
			}
			_, err := DecodeProfile(cat, []byte(tt.xml), DecodeOptions{})
			var se *SyntaxError
			if !errors.As(err, &se) || se.kind != tt.kind || !errors.Is(err, ErrMalformedProfile) {
				t.Fatalf("err = %v, want a fault of kind %d", err, tt.kind)
			}
			if !stricterByDesign([]byte(tt.xml), err) {
				t.Error("the oracle does not recognise the difference")
			}
		})
	}
}

// TestPlainWord checks the eight-byte test of checkChars against charClass: plainWord may
// send a word to the byte loop for nothing (it does for tab, line feed and carriage return)
// but must never pass a byte of a non-zero class. One byte of every value at every position
// among plain bytes, and random words.
func TestPlainWord(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			want := charClass[c] == 0 && c != '\t' && c != '\n' && c != '\r'
			if got := plainWord(binary.LittleEndian.Uint64(w)); got != want {
				t.Errorf("plainWord(%q) = %v, want %v", w, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		x := rng.Uint64()
		if rng.IntN(2) == 0 {
			x = x&0x3f3f3f3f3f3f3f3f | 0x2020202020202020 // mostly printable ASCII
		}
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], x)
		plain := true
		for _, c := range w {
			plain = plain && charClass[c] == 0
		}
		if plainWord(x) && !plain {
			t.Fatalf("plainWord(%q) = true for a byte that needs a look", w)
		}
	}
}
