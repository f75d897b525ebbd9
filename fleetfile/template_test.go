package fleetfile

import (
	"errors"
	"strings"
	"testing"
)

func TestTemplate(t *testing.T) {
	v := Vars{Index: 205, Row: 5, Ordinal: 2, Count: 100, MAC: "000E08001234", IP: "10.0.0.7"}
	for _, tt := range []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"{{1000+index}}", "1205"},
		{"{{ 1000 + index }}", "1205"},
		{"Desk {{row+1}} of {{count}}", "Desk 6 of 100"},
		{"{{5060 + row*2}}", "5070"},
		{"{{(index+1)*(ordinal+1)}}", "618"},
		{"{{index/10}}-{{index%10}}", "20-5"},
		{"{{-7/2}} {{-7%2}}", "-3 -1"},
		{"{{-(row)}}", "-5"},
		{"{{0x10+1}}", "17"},
		{"sip{{mac}}", "sip000E08001234"},
		{"{{ ip }}:5060", "10.0.0.7:5060"},
		{"$MA {{index}}", "$MA 205"},
		{"a}}b", "a}}b"},
	} {
		tmpl, err := ParseTemplate(tt.in)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tt.in, err)
			continue
		}
		got, err := tmpl.Expand(v)
		if err != nil || got != tt.want {
			t.Errorf("%q = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"{{index", "without }}"},
		{"{{}}", "empty expression"},
		{"{{ }}", "empty expression"},
		{"{{foo}}", `unknown name "foo"`},
		{"{{index+}}", "ends early"},
		{"{{(index}}", "missing )"},
		{"{{index 1}}", "unexpected"},
		{"{{mac+1}}", "mac is a string"},
		{"{{-ip}}", "ip is a string"},
		{"{{1.5}}", "unexpected"},
		{"{{99999999999999999999}}", "bad number"},
		{"{{index; rm}}", "unexpected"},
		{"{{printf \"%d\" index}}", "unknown name"},
		{"{{" + strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100) + "}}", "nested too deeply"},
	} {
		_, err := ParseTemplate(tt.in)
		if err == nil || !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTemplate(%q) = %v, want an error with %q", tt.in, err, tt.want)
		}
	}
	tmpl, err := ParseTemplate("{{index/row}}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Expand(Vars{Index: 1}); err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Errorf("division by zero: %v", err)
	}
}

// FuzzTemplate: parsing and expanding never panics; a template without {{ is its own text.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{1000+index}}", "Desk {{row}}", "{{mac}}", "{{(1+2)*-3%4/5}}", "{{", "}}{{index}}", "{{0x7fffffffffffffff+1}}", "{{-9223372036854775808/-1}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := ParseTemplate(s)
		if err != nil {
			return
		}
		got, err := tmpl.Expand(Vars{Index: 3, Row: 1, Ordinal: 1, Count: 2, MAC: "000E08000001", IP: "127.0.0.1"})
		if err == nil && !strings.Contains(s, "{{") && got != s {
			t.Errorf("static %q expanded to %q", s, got)
		}
	})
}
