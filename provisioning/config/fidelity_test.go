package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/ianaindex"
)

// TestUnpaddedGMTOffsets is issue 8's first case: provisioner.net writes whole-hour zones as
// GMT+1:00 and GMT-5:00; they are the catalogue's GMT+01:00 and GMT-05:00 (DECISIONS 8).
func TestUnpaddedGMTOffsets(t *testing.T) {
	p, ok := spa942(t).Lookup("Time_Zone")
	if !ok {
		t.Fatal("no Time_Zone")
	}
	tests := []struct{ in, want string }{
		{"GMT+1:00", "GMT+01:00"}, {"GMT-5:00", "GMT-05:00"}, {"gmt+10:00", "GMT+10:00"},
		{"GMT+5:30", "GMT+05:30"}, {"GMT-3:30", "GMT-03:30"}, {"GMT+1", "GMT+01:00"},
		{"GMT+0:00", "GMT"}, {"GMT-00:00", "GMT"}, {"GMT+01:00", "GMT+01:00"}, {"gmt", "GMT"},
	}
	for _, tt := range tests {
		if got, err := p.Normalize(tt.in); err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"GMT+25:00", "GMT+1:5", "GMT+123:00", "GMT+1:00x", "GMT+:00", "GMT1:00", "GMT+2:15", "UTC+1"} {
		if got, err := p.Normalize(bad); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalidValue", bad, got, err)
		}
	}
}

// TestSkipInvalid: in a well-formed profile a value its parameter cannot take is skipped
// with its name, value, reason and line; the rest applies; a secret's value is never kept.
func TestSkipInvalid(t *testing.T) {
	cat := spa942(t)
	doc := "<flat-profile>\n<Time_Zone>GMT+1:00</Time_Zone>\n<Line_Enable_1_ ua=\"ro\">maybe</Line_Enable_1_>\n" +
		"<GPP_A>kept</GPP_A>\n<Resync_Periodic>soon</Resync_Periodic>\n</flat-profile>"
	prof, err := DecodeProfile(cat, []byte(doc), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	valid, skipped := cat.SkipInvalid(prof.Changes)
	want := []Skipped{
		{Name: "Line_Enable_1_", Value: "maybe", Reason: "want Yes or No", Line: 3},
		{Name: "Resync_Periodic", Value: "soon", Reason: `want seconds, or a list like "30,60,120+30"`, Line: 5},
	}
	if !reflect.DeepEqual(skipped, want) {
		t.Errorf("skipped %+v, want %+v", skipped, want)
	}
	snap, _, err := NewSnapshot(cat).Apply(valid, ApplyOptions{})
	if err != nil {
		t.Fatalf("the valid rest does not apply: %v", err)
	}
	def := NewSnapshot(cat)
	if snap.Get("Time_Zone") != "GMT+01:00" || snap.Get("GPP_A") != "kept" ||
		snap.Get("Line_Enable_1_") != def.Get("Line_Enable_1_") || snap.Get(ResyncPeriodic) != def.Get(ResyncPeriodic) {
		t.Errorf("applied: Time_Zone %q GPP_A %q Line_Enable_1_ %q Resync_Periodic %q", snap.Get("Time_Zone"),
			snap.Get("GPP_A"), snap.Get("Line_Enable_1_"), snap.Get(ResyncPeriodic))
	}
	if snap.Access("Line_Enable_1_") != AccessRO {
		t.Error("the ua of a skipped value was not applied")
	}
	if got := skipped[0].String(); got != `Line_Enable_1_ "maybe": want Yes or No` {
		t.Errorf("String() = %s", got)
	}

	// All valid: the same slice comes back.
	ok := []Change{Set("GPP_A", "x")}
	if v, s := cat.SkipInvalid(ok); &v[0] != &ok[0] || s != nil {
		t.Errorf("SkipInvalid of valid changes = %v, %v", v, s)
	}
	// A secret's value is not kept; a long value is cut.
	_, s := cat.SkipInvalid([]Change{Set("Admin_Passwd", "bad\x01secret"), Set(ResyncPeriodic, strings.Repeat("9x", 1000))})
	if len(s) != 2 || s[0].Value != "" || len(s[1].Value) > maxSkippedValue+len("…") {
		t.Errorf("skipped %+v", s)
	}
}

// TestApplyValid checks that ApplyValid does what SkipInvalid and then Apply do, in one pass:
// the same values skipped, the same valid changes, the same snapshot and difference, the same
// failure for a name the catalogue does not have, and changes itself back when all are valid.
func TestApplyValid(t *testing.T) {
	cat := spa942(t)
	base, _, err := NewSnapshot(cat).Apply([]Change{Set("GPP_B", "old")}, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		changes []Change
	}{
		{"all valid", []Change{Set("GPP_A", "x"), Set("Time_Zone", "GMT+1:00"), {Name: "GPP_C", Access: AccessNA}}},
		{"some skipped", []Change{
			Set("Time_Zone", "GMT+1:00"), {Name: "Line_Enable_1_", Value: "maybe", SetValue: true, Access: AccessRO, Line: 3},
			Set("GPP_B", "new"), {Name: ResyncPeriodic, Value: "soon", SetValue: true, Line: 5}, Set("Admin_Passwd", "bad\x01secret"),
			Set("GPP_A", "first"), Set("GPP_A", "zz\x01"),
		}},
		{"nothing changes", []Change{Set("GPP_B", "old")}},
		{"unknown name", []Change{Set("GPP_A", "x"), Set("No_Such_Param", "1"), Set(ResyncPeriodic, "soon")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantValid, wantSkipped := cat.SkipInvalid(tc.changes)
			wantNext, wantDiff, wantErr := base.Apply(wantValid, ApplyOptions{})
			next, diff, valid, skipped, err := base.ApplyValid(tc.changes, ApplyOptions{})
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("error %v, want %v", err, wantErr)
			}
			if !reflect.DeepEqual(skipped, wantSkipped) || !reflect.DeepEqual(valid, wantValid) {
				t.Errorf("skipped %+v valid %+v, want %+v and %+v", skipped, valid, wantSkipped, wantValid)
			}
			if wantSkipped == nil && len(valid) > 0 && &valid[0] != &tc.changes[0] {
				t.Error("all valid: not the changes themselves")
			}
			nv, na := next.Overrides()
			wv, wa := wantNext.Overrides()
			if !reflect.DeepEqual(diff, wantDiff) || (next == base) != (wantNext == base) || !reflect.DeepEqual(nv, wv) || !reflect.DeepEqual(na, wa) {
				t.Errorf("diff %+v, overrides %v %v; want %+v, %v %v", diff, nv, na, wantDiff, wv, wa)
			}
			for _, name := range []string{"GPP_A", "GPP_B", "Time_Zone", "Line_Enable_1_", ResyncPeriodic, "Admin_Passwd"} {
				if next.Get(name) != wantNext.Get(name) || next.Access(name) != wantNext.Access(name) {
					t.Errorf("%s = %q (%v), want %q (%v)", name, next.Get(name), next.Access(name), wantNext.Get(name), wantNext.Access(name))
				}
			}
		})
	}
}

// TestProfileEncodings is issue 8's second case: the character encoding never fails a
// profile (DECISIONS 8). Wazo writes "Répertoire" with the Latin-1 byte 0xE9.
func TestProfileEncodings(t *testing.T) {
	const e = "R\u00e9pertoire"
	body := func(v string) string { return "<flat-profile><Station_Name>" + v + "</Station_Name></flat-profile>" }
	tests := []struct {
		name, doc, want string
		enc             Encoding
	}{
		{name: "undeclared Latin-1", doc: body("R\xe9pertoire"), want: e,
			enc: Encoding{Used: EncodingLatin1, Warning: "not valid UTF-8 and no encoding declared: read as ISO-8859-1"}},
		{name: "undeclared UTF-8", doc: body(e), want: e, enc: Encoding{Used: EncodingUTF8}},
		{name: "declared ISO-8859-1", doc: `<?xml version="1.0" encoding="ISO-8859-1"?>` + body("R\xe9pertoire"), want: e,
			enc: Encoding{Declared: "ISO-8859-1", Used: EncodingLatin1}},
		{name: "declared latin1 after BOM and space", doc: "\xef\xbb\xbf\n <?xml version='1.0' encoding='latin1' ?>" + body("R\xe9pertoire"), want: e,
			enc: Encoding{Declared: "latin1", Used: EncodingLatin1}},
		{name: "declared windows-1252", doc: `<?xml version="1.0" encoding="Windows-1252"?>` + body("\x93R\xe9pertoire\x94 \x80"), want: "\u201c" + e + "\u201d \u20ac",
			enc: Encoding{Declared: "Windows-1252", Used: EncodingWindows1252}},
		{name: "declared UTF-8 with a Latin-1 byte", doc: `<?xml version="1.0" encoding="UTF-8"?>` + body("R\xe9pertoire"), want: e,
			enc: Encoding{Declared: "UTF-8", Used: EncodingLatin1, Warning: `declared "UTF-8" but not valid UTF-8: read as ISO-8859-1`}},
		{name: "declared UTF-8 in UTF-8", doc: `<?xml version="1.0" encoding="utf-8"?>` + body(e), want: e, enc: Encoding{Declared: "utf-8", Used: EncodingUTF8}},
		{name: "unknown encoding, UTF-8 bytes", doc: `<?xml version="1.0" encoding="ISO-8859-2"?>` + body(e), want: e,
			enc: Encoding{Declared: "ISO-8859-2", Used: EncodingUTF8, Warning: `encoding "ISO-8859-2" is not supported: read as UTF-8`}},
		{name: "unknown encoding, other bytes", doc: `<?xml version="1.0" encoding="koi8-r"?>` + body("R\xe9pertoire"), want: e,
			enc: Encoding{Declared: "koi8-r", Used: EncodingLatin1, Warning: `encoding "koi8-r" is not supported: read as ISO-8859-1`}},
		{name: "declaration not at the start", doc: `<top-level><?xml version="1.0" encoding="ISO-8859-1"?>` + body(e) + `</top-level>`, want: e,
			enc: Encoding{Used: EncodingUTF8}},
		{name: "stylesheet is no declaration", doc: `<?xml-stylesheet encoding="ISO-8859-1"?>` + body(e), want: e, enc: Encoding{Used: EncodingUTF8}},
	}
	cat := spa942(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prof, err := DecodeProfile(cat, []byte(tt.doc), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(prof.Changes) != 1 || prof.Changes[0].Value != tt.want {
				t.Errorf("changes %+v, want Station_Name %q", prof.Changes, tt.want)
			}
			if prof.Encoding != tt.enc {
				t.Errorf("encoding %+v, want %+v", prof.Encoding, tt.enc)
			}
		})
	}
	// Line numbers of faults and elements survive transcoding.
	_, err := DecodeProfile(cat, []byte("<flat-profile>\n<GPP_A>\xe9</GPP_A>\n<GPP_B>x</GPP_C>\n</flat-profile>"), DecodeOptions{})
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 3 {
		t.Errorf("err = %v, want a fault on line 3", err)
	}
}

// TestEncodingLabelsMatchIANA checks the label table against x/text's IANA index: every IANA
// name or alias in it means the encoding the table says.
func TestEncodingLabelsMatchIANA(t *testing.T) {
	iana := map[string]string{"UTF-8": EncodingUTF8, "US-ASCII": EncodingUTF8, "ISO_8859-1:1987": EncodingLatin1, "windows-1252": EncodingWindows1252}
	notIANA := map[string]bool{"utf8": true, "ascii": true, "cp1252": true, "x-cp1252": true, "iso8859-1": true, "iso88591": true}
	for label, want := range encodingLabels {
		e, err := ianaindex.IANA.Encoding(label)
		if notIANA[label] {
			if err == nil && e != nil {
				t.Errorf("%s is an IANA label after all", label)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", label, err)
			continue
		}
		name, _ := ianaindex.IANA.Name(e)
		if iana[name] != want {
			t.Errorf("%s is %s to IANA, %s to the table", label, name, want)
		}
	}
	if e, _ := ianaindex.IANA.Encoding("windows-1252"); e != charmap.Windows1252 {
		t.Error("windows-1252 is not charmap.Windows1252")
	}
}
