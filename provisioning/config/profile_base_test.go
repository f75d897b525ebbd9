package config

import (
	"testing"
	"unsafe"
)

// TestDecodeProfileBase checks DecodeOptions.Base and Changes: a value the base holds is the
// base's own string, a different one is read as it is, and the changes are built in the
// buffer given when it has room (and in a new one when it has not).
func TestDecodeProfileBase(t *testing.T) {
	cat := CatalogFor(mustModel(t, "SPA942"))
	base, _, err := NewSnapshot(cat).Apply([]Change{Set("Station_Name", "reception"), Set("GPP_A", "a b")}, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte("<flat-profile>\n<Station_Name> reception </Station_Name>\n<GPP_A>a\nb</GPP_A>\n<GPP_B>new</GPP_B>\n<Display_Name_1_/>\n</flat-profile>\n")
	for _, tc := range []struct {
		name   string
		buf    []Change
		shared bool // the changes are built in buf
	}{
		{"no buffer", nil, false},
		{"buffer with room", make([]Change, 0, 8), true},
		{"buffer too small", make([]Change, 0, 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prof, err := DecodeProfile(cat, doc, DecodeOptions{Base: base, Changes: tc.buf})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, c := range prof.Changes {
				got[c.Name] = c.Value
			}
			want := map[string]string{"Station_Name": "reception", "GPP_A": "a b", "GPP_B": "new"}
			if len(got) != len(want) {
				t.Fatalf("changes %v, want %v", got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if unsafe.StringData(got["Station_Name"]) != unsafe.StringData(base.Get("Station_Name")) {
				t.Error("Station_Name, equal to the base's, is a copy of it")
			}
			if shared := cap(tc.buf) > 0 && &prof.Changes[:1][0] == &tc.buf[:1][0]; shared != tc.shared {
				t.Errorf("changes built in the buffer: %v, want %v", shared, tc.shared)
			}
		})
	}
	// A base of another catalogue is not used.
	other := NewSnapshot(CatalogFor(mustModel(t, "SPA962")))
	prof, err := DecodeProfile(cat, doc, DecodeOptions{Base: other})
	if err != nil || len(prof.Changes) != 3 {
		t.Fatalf("DecodeProfile(base of another model) = %v, %v", prof, err)
	}
}
