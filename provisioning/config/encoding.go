package config

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// The character encodings a profile is read in (DECISIONS 8).
const (
	// EncodingUTF8 is the default: a document without an encoding declaration, or declaring
	// UTF-8 or US-ASCII.
	EncodingUTF8 = "UTF-8"
	// EncodingLatin1 is ISO-8859-1: declared, or the fallback for bytes that are not UTF-8.
	EncodingLatin1 = "ISO-8859-1"
	// EncodingWindows1252 is declared windows-1252 (Latin-1 with printable characters such as
	// € and typographic quotes in 0x80..0x9F).
	EncodingWindows1252 = "windows-1252"
)

// Encoding says how a profile's bytes were turned into characters (DECISIONS 8).
type Encoding struct {
	// Declared is the encoding of the XML declaration at the start of the document, as
	// written; "" when there is none.
	Declared string
	// Used is the encoding the document was read in: one of EncodingUTF8, EncodingLatin1 or
	// EncodingWindows1252.
	Used string
	// Warning says why Used is not what the document declared (or the UTF-8 default): bytes
	// that are not UTF-8, or a declared encoding the phone does not know. "" when the document
	// was read as it says.
	Warning string
}

// encodingLabels maps the lower-case labels of an XML declaration to the encoding they
// mean: the IANA names and aliases of UTF-8, US-ASCII, ISO-8859-1 and windows-1252, and the
// spellings that generators write although IANA does not list them (utf8, ascii, cp1252,
// iso8859-1). US-ASCII is a subset of UTF-8 and read as such.
var encodingLabels = map[string]string{
	"utf-8": EncodingUTF8, "csutf8": EncodingUTF8, "utf8": EncodingUTF8,
	"us-ascii": EncodingUTF8, "iso-ir-6": EncodingUTF8, "ansi_x3.4-1968": EncodingUTF8,
	"ansi_x3.4-1986": EncodingUTF8, "iso_646.irv:1991": EncodingUTF8, "iso646-us": EncodingUTF8,
	"us": EncodingUTF8, "ibm367": EncodingUTF8, "cp367": EncodingUTF8, "csascii": EncodingUTF8,
	"ascii":           EncodingUTF8,
	"iso_8859-1:1987": EncodingLatin1, "iso-ir-100": EncodingLatin1, "iso_8859-1": EncodingLatin1,
	"iso-8859-1": EncodingLatin1, "latin1": EncodingLatin1, "l1": EncodingLatin1,
	"ibm819": EncodingLatin1, "cp819": EncodingLatin1, "csisolatin1": EncodingLatin1,
	"iso8859-1": EncodingLatin1, "iso88591": EncodingLatin1,
	"windows-1252": EncodingWindows1252, "cswindows1252": EncodingWindows1252,
	"cp1252": EncodingWindows1252, "x-cp1252": EncodingWindows1252,
}

// maxLabel bounds how much of a declared encoding a warning quotes.
const maxLabel = 40

// toUTF8 decides a document's character encoding and returns its text in UTF-8
// (DECISIONS 8: the encoding never fails a profile):
//   - the encoding="..." of an XML declaration at the start of the document (after an
//     optional UTF-8 byte order mark and white space) decides; a <?xml ...?> elsewhere does
//     not;
//   - ISO-8859-1 and windows-1252 (and their aliases) are transcoded;
//   - no declaration, UTF-8 or US-ASCII: the bytes are read as UTF-8 when they are valid
//     UTF-8, else the whole document is read as ISO-8859-1 with a warning (Wazo's legacy
//     plugin writes Latin-1 without saying so; a template that declares UTF-8 and pastes in
//     Latin-1 values from a database is just as common);
//   - any other declared encoding (ISO-8859-2, Shift_JIS, ...): decided, as the phone shows
//     only ASCII anyway (SPA-BEHAVIOUR §1.1): read as UTF-8 when the bytes are valid UTF-8,
//     else as ISO-8859-1, with a warning naming the declared encoding. Every such encoding is
//     ASCII-compatible, so names and markup read the same. UTF-16 and UTF-32 are not: their
//     markup is not ASCII bytes, the phone cannot find its tags, and the file is not a
//     profile to it (ErrCorruptFile upstream), not a question of character encoding.
//
// The returned bytes are data itself when no transcoding is needed. Transcoding keeps every
// line end, so line numbers of errors are those of the original document.
func toUTF8(data []byte) ([]byte, Encoding) {
	label := declaredEncoding(data)
	enc := Encoding{Declared: shortLabel(label), Used: EncodingUTF8}
	known, ok := encodingLabels[strings.ToLower(strings.Trim(label, " \t\r\n"))]
	switch {
	case enc.Declared == "" || (ok && known == EncodingUTF8):
		if utf8.Valid(data) {
			return data, enc
		}
		enc.Used = EncodingLatin1
		if enc.Declared == "" {
			enc.Warning = "not valid UTF-8 and no encoding declared: read as ISO-8859-1"
		} else {
			enc.Warning = "declared " + quoteLabel(enc.Declared) + " but not valid UTF-8: read as ISO-8859-1"
		}
		return latin1ToUTF8(data), enc
	case ok && known == EncodingLatin1:
		enc.Used = EncodingLatin1
		return latin1ToUTF8(data), enc
	case ok && known == EncodingWindows1252:
		enc.Used = EncodingWindows1252
		if isASCIIBytes(data) {
			return data, enc // the same bytes in UTF-8
		}
		out, err := charmap.Windows1252.NewDecoder().Bytes(data)
		if err != nil { // cannot happen: every byte has a mapping
			return latin1ToUTF8(data), Encoding{Declared: enc.Declared, Used: EncodingLatin1}
		}
		return out, enc
	}
	if utf8.Valid(data) {
		enc.Warning = "encoding " + quoteLabel(enc.Declared) + " is not supported: read as UTF-8"
		return data, enc
	}
	enc.Used = EncodingLatin1
	enc.Warning = "encoding " + quoteLabel(enc.Declared) + " is not supported: read as ISO-8859-1"
	return latin1ToUTF8(data), enc
}

// shortLabel is a declared encoding as a report may show it: valid UTF-8, at most maxLabel
// bytes of it.
func shortLabel(label string) string {
	if len(label) > maxLabel {
		label = label[:maxLabel] + "..."
	}
	return strings.ToValidUTF8(label, "?")
}

// quoteLabel quotes a (shortened) declared encoding for a warning.
func quoteLabel(label string) string { return `"` + label + `"` }

// latin1ToUTF8 transcodes ISO-8859-1: each byte is the code point of the same value. It is
// the identity mapping charmap.ISO8859_1 implements, without its transform machinery. ASCII
// comes back as it is, uncopied.
func latin1ToUTF8(data []byte) []byte {
	n := len(data)
	for _, c := range data {
		if c >= utf8.RuneSelf {
			n++
		}
	}
	if n == len(data) {
		return data
	}
	out := make([]byte, 0, n)
	for _, c := range data {
		if c < utf8.RuneSelf {
			out = append(out, c)
		} else {
			out = append(out, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return out
}

// isASCIIBytes reports whether data is all ASCII.
func isASCIIBytes(data []byte) bool {
	for _, c := range data {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// declaredEncoding returns the encoding pseudo-attribute of an XML declaration at the start
// of data (after an optional UTF-8 byte order mark and white space), or "".
func declaredEncoding(data []byte) string {
	d := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	d = d[skipSpace(d, 0):]
	const open = "<?xml"
	if !bytes.HasPrefix(d, []byte(open)) || len(d) == len(open) {
		return ""
	}
	if c := d[len(open)]; c != '?' && c != ' ' && c != '\t' && c != '\r' && c != '\n' {
		return "" // <?xml-stylesheet ...?> and the like
	}
	end := bytes.Index(d, []byte("?>"))
	if end < 0 {
		return ""
	}
	return string(declParam(d[len(open):end], "encoding="))
}
