package config

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Profile is a decoded flat-profile: the changes it asks for, in document order, and the
// element names the model does not know.
type Profile struct {
	Changes []Change
	// Unknown lists unrecognised parameter names, each once, in order of first appearance.
	// They are ignored (SPA-BEHAVIOUR §1.1, DECISIONS 8).
	Unknown []string
	// Elements counts the parameter elements read (known and unknown).
	Elements int
}

// DecodeOptions tunes [DecodeProfile].
type DecodeOptions struct {
	// Rename maps an element path (element names from the document root) to a parameter name:
	// the rule option --alias (SPA-BEHAVIOUR §2.4). Nil means no aliases.
	Rename func(path []string) (string, bool)
}

// DecodeProfile reads a flat-profile XML document (SPA-BEHAVIOUR §1.1, DECISIONS 8-9):
//   - parameters are the elements directly inside a <flat-profile> element, which may itself be
//     wrapped in other elements; deeper elements are tolerated and ignored unless an alias names
//     them;
//   - names are case-sensitive; unknown names and unknown attributes are ignored;
//   - values are trimmed, newlines become spaces, entities and character references are decoded;
//   - <X/> changes no value (only its ua attribute applies), <X></X> sets the empty string;
//   - ua="na|ro|rw" sets the user access; other ua values are ignored;
//   - the last occurrence of a parameter wins (Apply processes changes in order).
//
// A document that is not well-formed XML, or has no <flat-profile> and no aliased element,
// fails as a whole with [ErrMalformedProfile]; nothing is applied.
func DecodeProfile(cat *Catalog, data []byte, opts DecodeOptions) (*Profile, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	prof := &Profile{}
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
			return nil, fmt.Errorf("%w: %v", ErrMalformedProfile, syntaxText(err))
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
			cur = &Change{Name: name}
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
				return nil, fmt.Errorf("%w: line %d: element <%s> closed by </%s>", ErrMalformedProfile, lineAt(data, d.InputOffset()), lastName(open), t.Name.Local)
			}
			open = open[:len(open)-1]
			if cur != nil && len(path) == curDepth {
				prof.Elements++
				if _, known := cat.index[cur.Name]; !known {
					if !unknown[cur.Name] {
						unknown[cur.Name] = true
						prof.Unknown = append(prof.Unknown, cur.Name)
					}
				} else if curLeaf {
					if !selfClosed {
						cur.SetValue = true
						cur.Value = cleanValue(text.String())
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
		return nil, fmt.Errorf("%w: <%s> is not closed", ErrMalformedProfile, lastName(open))
	}
	if !sawFlat && prof.Elements == 0 {
		return nil, fmt.Errorf("%w: no <flat-profile> element", ErrMalformedProfile)
	}
	return prof, nil
}

func lastName(open []xml.Name) string {
	if len(open) == 0 {
		return ""
	}
	return open[len(open)-1].Local
}

// lineAt is the 1-based line of a byte offset.
func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// cleanValue trims a value and turns its line breaks into spaces (SPA-BEHAVIOUR §1.1).
func cleanValue(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	}
	return s
}

func syntaxText(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("line %d: %s", se.Line, se.Msg)
	}
	return err.Error()
}
