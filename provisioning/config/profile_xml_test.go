package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func spa942(t testing.TB) *Catalog { return CatalogFor(mustModel(t, "SPA942")) }

// TestDecodeProfileRules follows SPA-BEHAVIOUR §1.1 and DECISIONS 8-9 case by case.
func TestDecodeProfileRules(t *testing.T) {
	tests := []struct {
		name    string
		xml     string
		want    map[string]string // values after apply on factory defaults
		access  map[string]Access
		unknown []string
		wantErr bool
	}{
		{name: "plain", xml: `<flat-profile><GPP_A>x</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "x"}},
		{name: "declaration and wrapper", xml: `<?xml version='1.0'?><top-level><flat-profile device="Linksys"><GPP_A>x</GPP_A></flat-profile></top-level>`, want: map[string]string{"GPP_A": "x"}},
		{name: "outside flat-profile ignored", xml: `<top><GPP_B>y</GPP_B><flat-profile><GPP_A>x</GPP_A></flat-profile></top>`, want: map[string]string{"GPP_A": "x", "GPP_B": ""}},
		{name: "comments", xml: `<flat-profile><!-- <GPP_A>no</GPP_A> --><GPP_A>x</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "x"}},
		{name: "trim and newlines", xml: "<flat-profile><GPP_A>\n  a\nb  \n</GPP_A></flat-profile>", want: map[string]string{"GPP_A": "a b"}},
		{name: "entities", xml: `<flat-profile><GPP_A>&amp;&lt;&gt;&apos;&quot;&#65;&#x42;</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": `&<>'"AB`}},
		{name: "case sensitive names", xml: `<flat-profile><gpp_a>x</gpp_a></flat-profile>`, want: map[string]string{"GPP_A": ""}, unknown: []string{"gpp_a"}},
		{name: "last wins", xml: `<flat-profile><GPP_A>1</GPP_A><GPP_A>2</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "2"}},
		{name: "empty element keeps value", xml: `<flat-profile><Profile_Rule/></flat-profile>`, want: map[string]string{"Profile_Rule": "/spa$PSN.cfg"}},
		{name: "open close sets empty", xml: `<flat-profile><Profile_Rule></Profile_Rule></flat-profile>`, want: map[string]string{"Profile_Rule": ""}},
		{name: "ua on empty element", xml: `<flat-profile><Speed_Dial_2 ua="na"/></flat-profile>`, access: map[string]Access{"Speed_Dial_2": AccessNA}},
		{name: "ua with value", xml: `<flat-profile><GPP_A ua="rw">v</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "v"}, access: map[string]Access{"GPP_A": AccessRW}},
		{name: "bad ua ignored", xml: `<flat-profile><Speed_Dial_2 ua="xx">1</Speed_Dial_2></flat-profile>`, want: map[string]string{"Speed_Dial_2": "1"}, access: map[string]Access{"Speed_Dial_2": AccessRW}},
		{name: "unknown counted once", xml: `<flat-profile><Foo>1</Foo><Foo>2</Foo><Bar/></flat-profile>`, unknown: []string{"Foo", "Bar"}},
		{name: "nested block tolerated", xml: `<flat-profile><router-configuration><Time_Zone>x</Time_Zone></router-configuration><GPP_A>x</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "x", "Time_Zone": "GMT-08:00"}, unknown: []string{"router-configuration"}},
		{name: "namespace on root", xml: `<flat-profile xmlns="http://www.sipura.net/xsd/SPA50x-30x-SIP"><GPP_A>x</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "x"}},
		{name: "group attribute ignored", xml: `<flat-profile><GPP_A group="Provisioning/General_Purpose_Parameters">x</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "x"}},
		{name: "malformed", xml: `<flat-profile><GPP_A>x</GPP_B></flat-profile>`, wantErr: true},
		{name: "unclosed", xml: `<flat-profile><GPP_A>x</GPP_A>`, wantErr: true},
		{name: "not xml", xml: `GPP_A "x" ;`, wantErr: true},
		{name: "empty document", xml: ``, wantErr: true},
		// The XML subset of DecodeProfile's doc comment.
		{name: "cdata", xml: `<flat-profile><GPP_A><![CDATA[ a<b>&amp; ]]></GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "a<b>&amp;"}},
		{name: "text pieces", xml: "<flat-profile><GPP_A> a<!-- c --><?pi?>b <![CDATA[c\r\n]]>\r\nd </GPP_A></flat-profile>", want: map[string]string{"GPP_A": "ab c  d"}},
		{name: "hex reference upper case", xml: `<flat-profile><GPP_A>&#x4a;&#x4A;&#0000074;</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "JJJ"}},
		{name: "declaration with encoding", xml: `<?xml version="1.0" encoding="utf-8" standalone="yes"?><flat-profile><GPP_A>x</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "x"}},
		{name: "single quotes", xml: `<flat-profile><GPP_A ua='ro' group='a"b'>x</GPP_A></flat-profile>`, want: map[string]string{"GPP_A": "x"}, access: map[string]Access{"GPP_A": AccessRO}},
		{name: "prefixes dropped", xml: `<p:flat-profile xmlns:p="urn:x"><p:GPP_A p:ua="na">x</p:GPP_A></p:flat-profile>`, want: map[string]string{"GPP_A": "x"}, access: map[string]Access{"GPP_A": AccessNA}},
		{name: "last valid ua wins", xml: `<flat-profile><GPP_A ua="ro" ua="rw" ua="zz"/></flat-profile>`, access: map[string]Access{"GPP_A": AccessRW}},
		{name: "text and elements outside the root", xml: "\ufefflead <a/><flat-profile><GPP_A>x</GPP_A></flat-profile> tail <b></b>", want: map[string]string{"GPP_A": "x"}},
		{name: "unknown nested element", xml: `<flat-profile><GPP_A>x<b/></GPP_A><GPP_B>y</GPP_B></flat-profile>`, want: map[string]string{"GPP_A": "", "GPP_B": "y"}},
		{name: "doctype refused", xml: `<!DOCTYPE flat-profile><flat-profile><GPP_A>x</GPP_A></flat-profile>`, wantErr: true},
		{name: "non-ASCII name refused", xml: "<flat-profile><Gr\u00f6\u00dfe>x</Gr\u00f6\u00dfe></flat-profile>", wantErr: true},
		{name: "bare ampersand", xml: `<flat-profile><GPP_A>a & b</GPP_A></flat-profile>`, wantErr: true},
		{name: "unknown entity", xml: `<flat-profile><GPP_A>&nbsp;</GPP_A></flat-profile>`, wantErr: true},
		{name: "reference without semicolon", xml: `<flat-profile><GPP_A>&#65</GPP_A></flat-profile>`, wantErr: true},
		{name: "reference to NUL", xml: `<flat-profile><GPP_A>&#0;</GPP_A></flat-profile>`, wantErr: true},
		{name: "reference to a surrogate", xml: `<flat-profile><GPP_A>&#xD800;</GPP_A></flat-profile>`, wantErr: true},
		{name: "reference beyond Unicode", xml: `<flat-profile><GPP_A>&#x110000;</GPP_A></flat-profile>`, wantErr: true},
		{name: "less-than in attribute", xml: `<flat-profile><GPP_A group="a<b">x</GPP_A></flat-profile>`, wantErr: true},
		{name: "unquoted attribute", xml: `<flat-profile><GPP_A ua=na>x</GPP_A></flat-profile>`, wantErr: true},
		{name: "cdata end in text", xml: `<flat-profile><GPP_A>]]></GPP_A></flat-profile>`, wantErr: true},
		{name: "double hyphen in comment", xml: `<flat-profile><!-- a -- b --></flat-profile>`, wantErr: true},
		{name: "invalid UTF-8 read as Latin-1", xml: "<flat-profile><GPP_A>\xff</GPP_A></flat-profile>", want: map[string]string{"GPP_A": "\u00ff"}},
		{name: "control character", xml: "<flat-profile><GPP_A>\x01</GPP_A></flat-profile>", wantErr: true},
		{name: "bad name", xml: `<flat-profile><1st>x</1st></flat-profile>`, wantErr: true},
		{name: "two colons", xml: `<flat-profile><a:b:c/></flat-profile>`, wantErr: true},
		{name: "declared ISO-8859-1", xml: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><flat-profile><GPP_A>R\xe9pertoire</GPP_A></flat-profile>", want: map[string]string{"GPP_A": "R\u00e9pertoire"}},
		{name: "unsupported version", xml: `<?xml version="1.1"?><flat-profile/>`, wantErr: true},
		{name: "stray end tag", xml: `<flat-profile/></flat-profile>`, wantErr: true},
		{name: "nested 256 deep", xml: strings.Repeat("<a>", 255) + "<flat-profile/>" + strings.Repeat("</a>", 255), want: map[string]string{}},
		{name: "nested 257 deep", xml: strings.Repeat("<a>", 256) + "<flat-profile/>" + strings.Repeat("</a>", 256), wantErr: true},
	}
	cat := spa942(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prof, err := DecodeProfile(cat, []byte(tt.xml), DecodeOptions{})
			if tt.wantErr {
				if !errors.Is(err, ErrMalformedProfile) {
					t.Fatalf("err = %v, want ErrMalformedProfile", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			snap, _, err := NewSnapshot(cat).Apply(prof.Changes, ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got := snap.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for k, a := range tt.access {
				if got := snap.Access(k); got != a {
					t.Errorf("access of %s = %s, want %s", k, got, a)
				}
			}
			if strings.Join(prof.Unknown, ",") != strings.Join(tt.unknown, ",") {
				t.Errorf("unknown = %v, want %v", prof.Unknown, tt.unknown)
			}
		})
	}
}

// TestDecodeProfileAlias follows the --alias rule (SPA-BEHAVIOUR §2.4): the callback sees the
// path of every element outside a parameter, except <flat-profile> itself.
func TestDecodeProfileAlias(t *testing.T) {
	doc := `<device><sip><user>u</user><auth-secret ua="na">s</auth-secret></sip>` +
		`<flat-profile><GPP_A>x</GPP_A><GPP_C>c<user>no</user></GPP_C></flat-profile></device>`
	var calls []string
	rename := func(path []string) (string, bool) {
		calls = append(calls, strings.Join(path, "/"))
		switch path[len(path)-1] {
		case "user":
			return "GPP_B", true
		case "auth-secret":
			return "GPP_D", true
		}
		return "", false
	}
	prof, err := DecodeProfile(spa942(t), []byte(doc), DecodeOptions{Rename: rename})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := "device,device/sip,device/sip/user,device/sip/auth-secret,device/flat-profile/GPP_A,device/flat-profile/GPP_C"
	if got := strings.Join(calls, ","); got != wantCalls {
		t.Errorf("alias lookups %s, want %s", got, wantCalls)
	}
	want := []Change{{Name: "GPP_B", Value: "u", SetValue: true, Line: 1}, {Name: "GPP_D", Value: "s", SetValue: true, Access: AccessNA, Line: 1}, {Name: "GPP_A", Value: "x", SetValue: true, Line: 1}}
	if !reflect.DeepEqual(prof.Changes, want) || prof.Elements != 4 {
		t.Errorf("changes %+v (%d elements), want %+v (4)", prof.Changes, prof.Elements, want)
	}
}

// TestDecodeProfileErrors checks that a fault names its line and never quotes a value.
func TestDecodeProfileErrors(t *testing.T) {
	tests := []struct {
		name, xml, line string
	}{
		{name: "mismatch", xml: "<flat-profile>\n<GPP_A>x</GPP_B>\n</flat-profile>", line: "line 2: <GPP_A> closed by </GPP_B>"},
		{name: "mismatch over lines", xml: "<flat-profile>\n<GPP_A>\nsecret</GPP_B>\n</flat-profile>", line: "line 3: <GPP_A> opened on line 2 closed by </GPP_B>"},
		{name: "unclosed", xml: "<flat-profile>\n\n<GPP_A>secret", line: "line 3:"},
		{name: "bad reference in a secret", xml: "<flat-profile>\n<Admin_Passwd>sec&ret;</Admin_Passwd>\n</flat-profile>", line: "line 2:"},
		{name: "bad attribute", xml: "<flat-profile>\n\n\n<GPP_A group=\"sec<ret\">x</GPP_A></flat-profile>", line: "line 4:"},
		{name: "end of document", xml: "<flat-profile>\n<GPP_A>secret</GPP_A", line: "line 2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeProfile(spa942(t), []byte(tt.xml), DecodeOptions{})
			if !errors.Is(err, ErrMalformedProfile) {
				t.Fatalf("err = %v, want ErrMalformedProfile", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.line) || strings.Contains(msg, "sec") {
				t.Errorf("err = %q, want %q and no value", msg, tt.line)
			}
		})
	}
}

func TestApplyAllOrNothing(t *testing.T) {
	cat := spa942(t)
	base := NewSnapshot(cat)
	_, _, err := base.Apply([]Change{Set("GPP_A", "x"), Set("Line_Enable_1_", "maybe"), Set("Web_Server_Port", "99999"), Set("Nope", "1")}, ApplyOptions{})
	var ae *ApplyError
	if !errors.As(err, &ae) || len(ae.Problems) != 3 {
		t.Fatalf("err = %v, want 3 problems", err)
	}
	if base.Get("GPP_A") != "" {
		t.Fatal("base snapshot changed")
	}
	if !errors.Is(err, ErrUnknownParam) || !errors.Is(err, ErrInvalidValue) {
		t.Errorf("error chain lacks sentinels: %v", err)
	}
}

func TestApplyNormalizesAndDiffs(t *testing.T) {
	cat := spa942(t)
	s, d, err := NewSnapshot(cat).Apply([]Change{Set("Line_Enable_2_", "no"), Set("Preferred_Codec_1_", "g711a"), Set("Provision_Enable", "Yes")}, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Get("Line_Enable_2_") != "No" || s.Get("Preferred_Codec_1_") != "G711a" {
		t.Errorf("not normalised: %q %q", s.Get("Line_Enable_2_"), s.Get("Preferred_Codec_1_"))
	}
	if got := strings.Join(d.Values, ","); got != "Preferred_Codec_1_,Line_Enable_2_" { // catalogue order
		t.Errorf("diff = %s", got)
	}
	if !cat.NeedsRestart(d.Values) {
		t.Error("Ext changes must need a restart")
	}
	if cat.NeedsRestart([]string{"GPP_A", "Resync_Periodic"}) {
		t.Error("provisioning changes apply live")
	}
	// What the star codes and the MWI NOTIFYs change, the phone reads at each use.
	if cat.NeedsRestart([]string{"DND_Setting", "Cfwd_All_Dest", "CW_Setting", "Message_Waiting_2_"}) {
		t.Error("user settings and Message_Waiting apply live")
	}
	if !cat.NeedsRestart([]string{"DND_Setting", "Auto_Answer_Page"}) {
		t.Error("Auto_Answer_Page is not a live parameter")
	}
}

func TestUserApply(t *testing.T) {
	cat := spa942(t)
	base := NewSnapshot(cat)
	if _, _, err := base.Apply([]Change{Set("Speed_Dial_2", "100")}, ApplyOptions{User: true}); err != nil {
		t.Errorf("user may change rw: %v", err)
	}
	for _, name := range []string{"Admin_Passwd", "Profile_Rule", "User_ID_1_"} {
		if _, _, err := base.Apply([]Change{Set(name, "x")}, ApplyOptions{User: true}); !errors.Is(err, ErrReadOnly) {
			t.Errorf("user change of %s: err = %v, want ErrReadOnly", name, err)
		}
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	cat := spa942(t)
	_, _, err := NewSnapshot(cat).Apply([]Change{Set("Password_1_", "sec\x01ret")}, ApplyOptions{})
	if err == nil || strings.Contains(err.Error(), "sec") {
		t.Fatalf("err = %v: want a rejection that does not show the secret", err)
	}
}

// TestExportShape checks the device's /admin/spacfg.xml layout (SPA-BEHAVIOUR §5.3): line 0
// is <flat-profile>, line 13 the MAC (scripts depend on it), self-closing empty values.
func TestExportShape(t *testing.T) {
	cat := CatalogFor(mustModel(t, "SPA962"))
	var buf bytes.Buffer
	info := &Info{ProductName: "SPA962", MAC: "000E08AABBCC"}
	if err := NewSnapshot(cat).WriteXML(&buf, ExportOptions{Info: info}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if lines[0] != "<flat-profile>" {
		t.Errorf("line 0 = %q", lines[0])
	}
	if lines[13] != `<MAC_Address group="Info/Product_Information">000E08AABBCC</MAC_Address>` {
		t.Errorf("line 13 = %q", lines[13])
	}
	if lines[4] != `<Domain group="Info/System_Information"/>` {
		t.Errorf("line 4 = %q", lines[4])
	}
	if got, want := len(lines), 1229+1; got != want { // 1,227 elements + open + close + final newline
		t.Errorf("%d lines, want %d", got, want)
	}
	if strings.Contains(buf.String(), "GPP_SA") {
		t.Error("hidden parameters exported")
	}
}

func TestExportForUser(t *testing.T) {
	cat := spa942(t)
	s, _, err := NewSnapshot(cat).Apply([]Change{Set("Admin_Passwd", "topsecret"), Set("User_Password", "usersecret"), Set("GPP_A", "prov")}, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.WriteXML(&buf, ExportOptions{User: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, no := range []string{"topsecret", "usersecret", "<Admin_Passwd", "<GPP_A", "<Profile_Rule"} {
		if strings.Contains(out, no) {
			t.Errorf("user export contains %q", no)
		}
	}
	if !strings.Contains(out, "<Speed_Dial_2") {
		t.Error("user export lacks an rw parameter")
	}
}

// TestRoundTrip: export → apply → export changes nothing, on every model, after changing
// values that need escaping.
func TestRoundTrip(t *testing.T) {
	for _, m := range Models() {
		t.Run(m.Name, func(t *testing.T) {
			cat := CatalogFor(m)
			s, _, err := NewSnapshot(cat).Apply([]Change{Set("GPP_A", `a<b>&"c'`), Set("Station_Name", "Desk 1"), Set("Line_Enable_1_", "No")}, ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var first bytes.Buffer
			info := &Info{ProductName: m.Name}
			if err := s.WriteXML(&first, ExportOptions{Info: info}); err != nil {
				t.Fatal(err)
			}
			prof, err := DecodeProfile(cat, first.Bytes(), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s2, d, err := NewSnapshot(cat).Apply(prof.Changes, ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var second bytes.Buffer
			if err := s2.WriteXML(&second, ExportOptions{Info: info}); err != nil {
				t.Fatal(err)
			}
			if first.String() != second.String() {
				t.Fatal("export → apply → export changed the export")
			}
			if _, d2, _ := s2.Apply(prof.Changes, ApplyOptions{}); !d2.Empty() {
				t.Errorf("re-applying the export changed %v", d2.Values)
			}
			_ = d
		})
	}
}

// fillTemplate turns a public provisioning template into what a provisioning server would
// send: Smarty/Jinja blocks rendered once, placeholders filled with sample values that are
// valid for the parameter they feed.
func fillTemplate(cat *Catalog, src string) string {
	samples := map[string]string{
		"enable_webserver": "Yes", "enable_webserver_admin": "Yes", "enable_upgrade": "No",
		"webserver_port": "80", "timezone": "GMT-05:00", "logo_type": "Text Logo",
		"background_type": "Default", "share_call_appearance|private": "private",
		"line": "1", "row.device_key_id": "1", "dial_plan": "(xx.)", "spa_dial_plan": "(xx.)",
		"provisioning_type": "http", "line_no": "1", "upgrade_path": "http://192.0.2.10/fw.bin",
	}
	// Smarty loops and conditionals: keep one body, the first branch.
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?s)\{foreach[^}]*\}(.*?)\{/foreach\}`),
		regexp.MustCompile(`(?s)\{line_loop\}(.*?)\{/line_loop\}`),
		regexp.MustCompile(`(?s)\{if [^}]*\}(.*?)(?:\{else\}.*?)?\{/if\}`),
	} {
		for re.MatchString(src) {
			src = re.ReplaceAllString(src, "$1")
		}
	}
	// Placeholders with a known sample value first (they may be part of an element name).
	for k, v := range samples {
		src = strings.ReplaceAll(src, "{$"+k+"}", v)
	}
	// A placeholder that is a parameter's whole value takes a valid value of that parameter.
	whole := regexp.MustCompile(`<([A-Za-z0-9_-]+)(\s[^>]*)?>\s*(\{\$[^}]*\}|\{\{[^}]*\}\})\s*</([A-Za-z0-9_-]+)>`)
	src = whole.ReplaceAllStringFunc(src, func(m string) string {
		sub := whole.FindStringSubmatch(m)
		p, ok := cat.Lookup(sub[1])
		if !ok || sub[1] != sub[4] {
			return m
		}
		v := p.Default
		if v == "" {
			v = "1"
			if p.Kind == KindString {
				v = "sample"
			}
		}
		return "<" + sub[1] + sub[2] + ">" + v + "</" + sub[1] + ">"
	})
	// Jinja statements: drop; expressions: sample values.
	src = regexp.MustCompile(`\{%-?[^%]*-?%\}`).ReplaceAllString(src, "")
	src = regexp.MustCompile(`\{\{[^}]*line_no[^}]*\}\}`).ReplaceAllString(src, "1")
	src = regexp.MustCompile(`\{\{[^}]*\}\}`).ReplaceAllString(src, "sample")
	src = regexp.MustCompile(`\{\$([^}]*)\}`).ReplaceAllStringFunc(src, func(m string) string {
		key := m[2 : len(m)-1]
		if v, ok := samples[key]; ok {
			return v
		}
		return "sample"
	})
	return src
}

// TestRealWorldProfiles applies every public provisioning template that is plain XML (after
// filling its placeholders) and reports known and unknown names.
func TestRealWorldProfiles(t *testing.T) {
	files, err := filepath.Glob("testdata/real-world/*")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ known, unknown int }{
		// A later SPA303 (7.x): most names are unknown to a SPA942.
		"fusionpbx_cisco_spa303_mac.xml": {known: 654, unknown: 944},
		// A 6.x SPA942 export shape: the 6.x-only names are unknown to 5.1.
		"fusionpbx_linksys_spa942_mac.xml": {known: 493, unknown: 67},
		"provisioner_spa5xx_model.cfg":     {known: 663, unknown: 1121},
		"provisioner_spa9xx_model.cfg":     {known: 680, unknown: 316},
		"provisioner_spa9xx_spamac.xml":    {known: 78, unknown: 4},
		"wazo_spa9xx_model.cfg.tpl":        {known: 2, unknown: 0},
		"wazo_spa_base.tpl":                {known: 27, unknown: 8},
	}
	cat := spa942(t)
	seen := 0
	for _, f := range files {
		base := filepath.Base(f)
		if _, ok := want[base]; !ok {
			continue // SOURCES.md; wazo_spa942.tpl only extends wazo_spa_base.tpl
		}
		seen++
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			prof, err := DecodeProfile(cat, []byte(fillTemplate(cat, string(data))), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := NewSnapshot(cat).Apply(prof.Changes, ApplyOptions{}); err != nil {
				var ae *ApplyError
				if errors.As(err, &ae) {
					for _, p := range ae.Problems {
						t.Error(p)
					}
				}
				t.Fatal(err)
			}
			t.Logf("%s: %d elements, %d known changes, %d unknown names", base, prof.Elements, len(prof.Changes), len(prof.Unknown))
			if w := want[base]; len(prof.Changes) != w.known || len(prof.Unknown) != w.unknown {
				t.Errorf("known %d, unknown %d; want %d, %d", len(prof.Changes), len(prof.Unknown), w.known, w.unknown)
			}
		})
	}
	if seen != len(want) {
		t.Errorf("found %d of %d profiles", seen, len(want))
	}
}
