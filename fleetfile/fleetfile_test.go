package fleetfile

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func parseFile(t *testing.T, name string) *Spec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func base() Options {
	return Options{Model: "SPA942", IP: netip.MustParseAddr("127.0.0.2"), HTTPPort: 8080}
}

func TestYAML(t *testing.T) {
	s := parseFile(t, "fleet.yaml")
	phones, err := s.Expand(base())
	if err != nil {
		t.Fatal(err)
	}
	if len(phones) != 4 {
		t.Fatalf("%d phones", len(phones))
	}
	want := []Phone{
		{Index: 0, Row: 0, Where: "fleet.yaml:8", Model: "SPA962", MAC: "00:0e:08:00:10:00", IP: "127.0.0.2", HTTP: "127.0.0.2:8080", Name: "reception",
			Set: []string{"Resync_Random_Delay=0", "Profile_Rule=http://prov.example/spa$MA.cfg", "User_ID_1_=1000", "Station_Name=Reception"}},
		{Index: 1, Row: 1, Where: "fleet.yaml:14", Model: "SPA942", MAC: "00:0e:08:00:10:01", IP: "127.0.0.3", HTTP: "127.0.0.3:8080", Name: "desk-1", Seed: 2,
			Set: []string{"Resync_Random_Delay=0", "Profile_Rule=http://prov.example/spa$MA.cfg", "User_ID_1_=1001", "Station_Name=Desk 1 (000E08001001)"}},
	}
	for i, w := range want {
		if !reflect.DeepEqual(phones[i], w) {
			t.Errorf("phone %d:\n got %+v\nwant %+v", i, phones[i], w)
		}
	}
	if p := phones[3]; p.MAC != "00:0e:08:00:10:03" || p.IP != "127.0.0.5" || p.Set[2] != "User_ID_1_=1003" {
		t.Errorf("last phone: %+v", p)
	}
}

func TestCSV(t *testing.T) {
	s := parseFile(t, "fleet.csv")
	o := base()
	o.MAC, _ = net.ParseMAC("00:0e:08:00:30:00")
	phones, err := s.Expand(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(phones) != 3 {
		t.Fatalf("%d phones", len(phones))
	}
	if p := phones[1]; p.Model != "SPA962" || p.MAC != "00:0e:08:00:20:01" || !reflect.DeepEqual(p.Set, []string{"User_ID_1_=2001", "Display_Name_1_=Desk 1"}) || p.Where != "fleet.csv:4" {
		t.Errorf("phone 1: %+v", p)
	}
	// The third row has no MAC: --mac plus its row; no model: --model.
	if p := phones[2]; p.Model != "SPA942" || p.MAC != "00:0e:08:00:30:02" || !reflect.DeepEqual(p.Set, []string{"User_ID_1_=2002"}) {
		t.Errorf("phone 2: %+v", p)
	}
}

// TestErrorsNamePlace: every error names the file, the line or row, and the field.
func TestErrorsNamePlace(t *testing.T) {
	for _, tt := range []struct{ name, data, want string }{
		{"f.yaml", "phones:\n  - mac: zz\n", "f.yaml:2: mac: \"zz\" is not a MAC address"},
		{"f.yaml", "phones:\n  - model: SPA999\n", "f.yaml:2: model: "},
		{"f.yaml", "phones:\n  - colour: red\n", `f.yaml:2: unknown field "colour"`},
		{"f.yaml", "phones:\n  - set:\n      Nope: 1\n", `f.yaml:3: set.Nope: SPA942 has no parameter "Nope"`},
		{"f.yaml", "phones:\n  - set:\n      User_ID_1_: \"{{1000+idx}}\"\n", `f.yaml:3: set.User_ID_1_: template: {{1000+idx}}: unknown name "idx"`},
		{"f.yaml", "phones:\n  - set:\n      Line_Enable_1_: \"{{index}}\"\n", "f.yaml:3: set.Line_Enable_1_: phone 0: "},
		{"f.yaml", "phones:\n  - count: 0\n", "f.yaml:2: count: "},
		{"f.yaml", "phones:\n  - count: 2\n    http: \"127.0.0.1:{{8080}}\"\n", "f.yaml:2: http: 127.0.0.1:8080 is also the web server"},
		{"f.yaml", "phones:\n  - mac: 00:0e:08:00:00:01\n  - mac: 00:0e:08:00:00:01\n", "f.yaml:3: mac: 00:0e:08:00:00:01 is also the MAC of a phone of f.yaml:2"},
		{"f.yaml", "phones:\n  - http: \"{{mac}}\"\n", "f.yaml:2: http: phone 0"},
		{"f.yaml", "defaults:\n  count: 3\nphones:\n  - {}\n", "f.yaml:2: count: belongs to a row"},
		{"f.yaml", "phones: []\n", "phones: no phones"},
		{"f.yaml", "hosts: 1\n", `f.yaml:1: unknown key "hosts"`},
		{"f.yaml", "phones:\n  - set: [a]\n", "f.yaml:2: set: want a mapping"},
		{"f.yaml", "phones:\n  - {mac: [1]}\n", "f.yaml:2: mac: want a value, not a list"},
		{"f.yaml", "phones: [\n", "f.yaml: yaml: "},
		{"f.csv", "mac,User_ID_1_\n00:0e:08:00:00:01,{{x}}\n", `f.csv:2: set.User_ID_1_: template: {{x}}: unknown name "x"`},
		{"f.csv", "mac,Nope\n00:0e:08:00:00:01,1\n", `f.csv:2: set.Nope: SPA942 has no parameter "Nope"`},
		{"f.csv", "mac,mac\n1,2\n", "f.csv:1: column mac: given twice"},
		{"f.csv", "mac\n", "no phones"},
		{"f.csv", "mac,ip\n00:0e:08:00:00:01\n", "f.csv: record on line 2: wrong number of fields"},
		{"f.txt", "", "want a .yaml, .yml or .csv file"},
	} {
		s, err := Parse(tt.name, []byte(tt.data))
		if err == nil {
			_, err = s.Expand(base())
		}
		if err == nil || !errors.Is(err, ErrFleetFile) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %q: %v\n want an error containing %q", tt.name, tt.data, err, tt.want)
		}
	}
}

// TestOrdinalsDisjoint: 100 replicas of a file, each expanded with its ordinal, never share
// a MAC or an extension number, even when replica 0's MACs have gaps.
func TestOrdinalsDisjoint(t *testing.T) {
	data := `defaults:
  set:
    User_ID_1_: "{{1000+index}}"
phones:
  - count: 10
    mac: 00:0e:08:00:10:00
  - mac: 00:0e:08:00:20:00
  - count: 5
`
	s, err := Parse("f.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	macs, users := map[string]int{}, map[string]int{}
	for ord := range 100 {
		o := base()
		o.Ordinal = ord
		o.MAC, _ = net.ParseMAC("00:0e:08:01:00:00")
		phones, err := s.Expand(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range phones {
			if prev, dup := macs[p.MAC]; dup {
				t.Fatalf("MAC %s in replicas %d and %d", p.MAC, prev, ord)
			}
			macs[p.MAC] = ord
			if prev, dup := users[p.Set[0]]; dup {
				t.Fatalf("%s in replicas %d and %d", p.Set[0], prev, ord)
			}
			users[p.Set[0]] = ord
		}
	}
	if len(macs) != 1600 || len(users) != 1600 {
		t.Errorf("%d MACs, %d users", len(macs), len(users))
	}
}

// TestSharedAddress: on one address (ip: auto) the web servers count up from the port.
func TestSharedAddress(t *testing.T) {
	s := Range(3)
	o := base()
	o.IP, o.SharedIP = netip.MustParseAddr("10.1.2.3"), true
	phones, err := s.Expand(o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range phones {
		got = append(got, p.IP+" "+p.HTTP)
	}
	if want := []string{"10.1.2.3 10.1.2.3:8080", "10.1.2.3 10.1.2.3:8081", "10.1.2.3 10.1.2.3:8082"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	if _, err := mustParse(t, "phones:\n  - ip: auto\n").Expand(base()); err == nil || !strings.Contains(err.Error(), "no non-loopback") {
		t.Errorf("ip auto without an address: %v", err)
	}
}

func mustParse(t *testing.T, yaml string) *Spec {
	t.Helper()
	s, err := Parse("f.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzParse: no fleet file, YAML or CSV, makes Parse or Expand panic; what parses expands to
// at most the phones it counts.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"fleet.yaml", "fleet.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(name, data)
	}
	f.Add("f.yaml", []byte("phones:\n  - count: 3\n    mac: ff:ff:ff:ff:ff:fe\n"))
	f.Add("f.csv", []byte("count,ip\n2,255.255.255.255\n"))
	f.Add("f.yaml", []byte("defaults: &d\n  model: SPA962\nphones:\n  - *d\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".csv") {
			return
		}
		s, err := Parse(name, data)
		if err != nil {
			return
		}
		if s.Phones() > 4096 {
			return // expanding is linear in the phones; keep the fuzzer fast
		}
		o := base()
		o.MAC, _ = net.ParseMAC("00:0e:08:00:00:00")
		o.Ordinal = 3
		phones, err := s.Expand(o)
		if err == nil && len(phones) != s.Phones() {
			t.Errorf("%d phones, the spec counts %d", len(phones), s.Phones())
		}
	})
}
