package config

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/spa900/spa900/provisioning/config/internal/exporttable"
)

// exportRows reads the real SPA962 export: every element as name and group, in order.
func exportRows(t *testing.T) (names, groups []string) {
	t.Helper()
	data, err := os.ReadFile("testdata/spa962-5.1.15-export.xml")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "<") || strings.HasPrefix(line, "<flat-profile") || strings.HasPrefix(line, "</") {
			continue
		}
		name := line[1:strings.IndexAny(line, " />")]
		g := line[strings.Index(line, `group="`)+7:]
		names = append(names, name)
		groups = append(groups, g[:strings.IndexByte(g, '"')])
	}
	return names, groups
}

func TestCatalogTableInSync(t *testing.T) {
	data, err := os.ReadFile("testdata/spa962-5.1.15-export.xml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := exporttable.Generate(data)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != spa962Table {
		t.Fatal("catalog_spa962.tsv is stale: run go generate ./provisioning/config")
	}
}

func TestSPA962CatalogIsTheExport(t *testing.T) {
	names, groups := exportRows(t)
	cat := CatalogFor(mustModel(t, "SPA962"))
	var gotNames, gotGroups []string
	for _, f := range cat.Info() {
		gotNames, gotGroups = append(gotNames, f.Name), append(gotGroups, f.Group)
	}
	for _, p := range cat.Params() {
		if p.Hidden {
			continue
		}
		gotNames, gotGroups = append(gotNames, p.Name), append(gotGroups, p.Group)
	}
	if len(gotNames) != len(names) {
		t.Fatalf("catalogue has %d elements, export %d", len(gotNames), len(names))
	}
	for i := range names {
		if gotNames[i] != names[i] || gotGroups[i] != groups[i] {
			t.Fatalf("element %d = %s (%s), export has %s (%s)", i, gotNames[i], gotGroups[i], names[i], groups[i])
		}
	}
	if n := len(cat.Params()) - 4; n != 908 {
		t.Errorf("SPA962 has %d configuration parameters, want 908 (export outside Info/)", n)
	}
}

func mustModel(t testing.TB, name string) Model {
	t.Helper()
	m, err := LookupModel(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModelsExtensions(t *testing.T) {
	tests := []struct {
		model   string
		ext     int
		sidecar bool
	}{
		{"SPA901", 1, false}, {"SPA921", 1, false}, {"SPA922", 1, false},
		{"SPA941", 4, false}, {"SPA942", 4, false}, {"SPA962", 6, true},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			cat := CatalogFor(mustModel(t, tt.model))
			for n := 1; n <= 6; n++ {
				_, hasExt := cat.Lookup(ExtName(LineEnable, n))
				_, hasKey := cat.Lookup(ExtName("Extension", n))
				if want := n <= tt.ext; hasExt != want || hasKey != want {
					t.Errorf("Line_Enable_%d_ present=%v, Extension_%d_ present=%v, want %v", n, hasExt, n, hasKey, want)
				}
			}
			_, side := cat.Lookup("Unit_1_Key_1")
			if side != tt.sidecar {
				t.Errorf("SPA932 keys present = %v, want %v", side, tt.sidecar)
			}
			status := 0
			for _, f := range cat.Info() {
				if strings.HasSuffix(f.Group, "_Status") && strings.HasPrefix(f.Group, "Info/Ext_") && f.Name == "Registration_State" {
					status++
				}
			}
			if status != tt.ext {
				t.Errorf("Info has %d Ext status groups, want %d", status, tt.ext)
			}
			tabs := strings.Join(cat.Tabs(), " ")
			wantTabs := "System SIP Provisioning Regional Phone"
			for n := 1; n <= tt.ext; n++ {
				wantTabs += " Ext_" + string(rune('0'+n))
			}
			wantTabs += " User"
			if tt.sidecar {
				wantTabs += " SPA932"
			}
			if tabs != wantTabs {
				t.Errorf("tabs = %s, want %s", tabs, wantTabs)
			}
		})
	}
}

// TestFactoryDefaultCorrections lists every parameter whose export value was the previous
// owner's, with the factory default the catalogue uses instead.
func TestFactoryDefaultCorrections(t *testing.T) {
	cat := CatalogFor(mustModel(t, "SPA962"))
	tests := []struct {
		name, exported, want string
	}{
		{"Connection_Type", "Static IP", "DHCP"},
		{"Static_IP", "$ipaddress", ""},
		{"Primary_DNS", "4.2.2.1", ""},
		{"Voice_Mail_Number", "6050", ""},
		{"Mailbox_ID_1_", "$mailbox", ""},
		{"Proxy_3_", "$server_address", ""},
		{"Display_Name_6_", "$label", ""},
		{"User_ID_1_", "$extension", ""},
		{"Password_2_", "$password", ""},
		{"SIP_Remote-Party-ID_1_", "No", "Yes"},
		{"SIP_Port_1_", "5060", "5060"},
		{"SIP_Port_2_", "5060", "5061"},
		{"SIP_Port_6_", "5060", "5065"},
		{"Unit_1_Key_1", "fnc=blf+sd;sub=$sidecar1@$server_address", ""},
		{"Unit_2_Key_32", "fnc=blf+sd;sub=$sidecar64@$server_address", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := cat.Lookup(tt.name)
			if !ok {
				t.Fatalf("%s missing", tt.name)
			}
			if p.Default != tt.want {
				t.Errorf("default = %q, want %q (export had %q)", p.Default, tt.want, tt.exported)
			}
		})
	}
	// Every other parameter keeps the export's value as its default.
	corrected := map[string]bool{}
	for _, tt := range tests {
		corrected[tt.name] = true
	}
	for _, line := range strings.Split(spa962Table, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || strings.HasPrefix(line, "#") || strings.HasPrefix(f[1], "Info/") {
			continue
		}
		p, _ := cat.Lookup(f[0])
		if p.Default != f[2] && !corrected[f[0]] && !strings.HasPrefix(f[0], "Unit_") &&
			!strings.HasPrefix(f[0], "Mailbox_ID_") && !strings.HasPrefix(f[0], "Proxy_") &&
			!strings.HasPrefix(f[0], "Display_Name_") && !strings.HasPrefix(f[0], "User_ID_") &&
			!strings.HasPrefix(f[0], "Password_") && !strings.HasPrefix(f[0], "SIP_Remote-Party-ID_") &&
			!strings.HasPrefix(f[0], "SIP_Port_") {
			t.Errorf("%s: default %q differs from the export's %q without a listed reason", f[0], p.Default, f[2])
		}
	}
}

func TestDefaultsAreValid(t *testing.T) {
	for _, m := range Models() {
		cat := CatalogFor(m)
		for _, p := range cat.Params() {
			if _, err := p.Normalize(p.Default); err != nil {
				t.Errorf("%s %s: default invalid: %v", m.Name, p.Name, err)
			}
		}
	}
}

func TestSecretsAreHiddenFromUser(t *testing.T) {
	cat := CatalogFor(mustModel(t, "SPA962"))
	for _, p := range cat.Params() {
		if p.Secret && p.Name != UserPassword && p.Access != AccessNA {
			t.Errorf("%s is secret but user access is %s", p.Name, p.Access)
		}
	}
	for _, name := range []string{AdminPasswd, "Password_1_", "GPP_SA", "PPPoE_Login_Password"} {
		p, _ := cat.Lookup(name)
		if !p.Secret {
			t.Errorf("%s is not marked secret", name)
		}
	}
}

func TestGPP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a", "GPP_A"}, {"p", "GPP_P"}, {"B", "GPP_B"}, {"sa", "GPP_SA"}, {"SD", "GPP_SD"}, {"q", ""}, {"se", ""}, {"", ""},
	}
	for _, tt := range tests {
		if got, _ := GPP(tt.in); got != tt.want {
			t.Errorf("GPP(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAssignedName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"a", "GPP_A"}, {"p", "GPP_P"}, {"GPP_B", "GPP_B"}, {"Line_Enable_1_", "Line_Enable_1_"}, {"A", "A"},
	}
	for _, tt := range tests {
		if got := AssignedName(tt.name); got != tt.want {
			t.Errorf("AssignedName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Issue 9 item 5: the servers the phone sends its Log_* messages to (expanded provisioning
// URLs, $ERR) are the admin's; the rest of the network settings stay the user's.
func TestSyslogServersAreAdminOnly(t *testing.T) {
	for _, m := range Models() {
		cat := CatalogFor(m)
		for name, want := range map[string]Access{SyslogServer: AccessNA, DebugServer: AccessNA, HostName: AccessRW, Domain: AccessRW} {
			if p, ok := cat.Lookup(name); !ok || p.Access != want {
				t.Errorf("%s %s: user access %s, want %s", m.Name, name, p.Access, want)
			}
		}
	}
}

// TestExtName checks the names of per-extension parameters, one digit or more.
func TestExtName(t *testing.T) {
	for _, tc := range []struct {
		ext  int
		want string
	}{{1, "Line_Enable_1_"}, {9, "Line_Enable_9_"}, {10, "Line_Enable_10_"}, {12, "Line_Enable_12_"}} {
		if got := ExtName(LineEnable, tc.ext); got != tc.want {
			t.Errorf("ExtName(%d) = %q, want %q", tc.ext, got, tc.want)
		}
	}
}
