package config

import (
	"bufio"
	"io"
	"strings"
)

// ExportOptions says what an export contains.
type ExportOptions struct {
	// Info supplies the live Info/ values; nil leaves the Info group out.
	Info *Info
	// User exports as the user account sees the configuration: parameters with access na and
	// every secret are left out.
	User bool
}

// WriteXML writes the configuration as the device's /admin/spacfg.xml (SPA-BEHAVIOUR §5.3):
// <flat-profile> on the first line, one element per line with its group attribute, the Info
// values first, then the tabs in the device's order, self-closing elements for empty values,
// and </flat-profile>. Hidden parameters (GPP_SA..GPP_SD) are never written.
func (s *Snapshot) WriteXML(w io.Writer, opts ExportOptions) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("<flat-profile>\n")
	if opts.Info != nil {
		for _, f := range s.cat.info {
			writeElement(bw, f.Name, f.Group, opts.Info.Value(f))
		}
	}
	for i := range s.cat.params {
		p := &s.cat.params[i]
		if p.Hidden || (opts.User && (p.Secret || !s.access[i].UserCanRead())) {
			continue
		}
		writeElement(bw, p.Name, p.Group, s.val(i))
	}
	bw.WriteString("</flat-profile>\n")
	return bw.Flush()
}

func writeElement(w *bufio.Writer, name, group, value string) {
	w.WriteByte('<')
	w.WriteString(name)
	w.WriteString(` group="`)
	w.WriteString(group)
	if value == "" {
		w.WriteString(`"/>` + "\n")
		return
	}
	w.WriteString(`">`)
	writeEscaped(w, value)
	w.WriteString("</")
	w.WriteString(name)
	w.WriteString(">\n")
}

// writeEscaped escapes the characters XML text cannot hold as they are.
func writeEscaped(w *bufio.Writer, s string) {
	if !strings.ContainsAny(s, "&<>") {
		w.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			w.WriteString("&amp;")
		case '<':
			w.WriteString("&lt;")
		case '>':
			w.WriteString("&gt;")
		default:
			w.WriteByte(c)
		}
	}
}
