package provisioning

import (
	"net"
	"strings"
	"testing"
)

// testVars returns the macro values used across the tests: the examples of SPA-BEHAVIOUR §3.
func testVars(t testing.TB) *Vars {
	t.Helper()
	mac, err := net.ParseMAC("00:0e:08:01:23:45")
	if err != nil {
		t.Fatal(err)
	}
	v := &Vars{
		MAC:    mac,
		PN:     "SPA942",
		PSN:    "942",
		SN:     "88012BA01234",
		CCERT:  true,
		IP:     "192.168.1.20",
		EXTIP:  "203.0.113.7",
		SWVER:  "5.1.15(aSC)",
		HWVER:  "1.0.5(0617)",
		PRVST:  -1,
		UPGST:  2,
		UPGERR: "http_get failed",
		PRVTMR: 650,
		UPGTMR: 7,
		REGTMR: []int{0, 301},
		ERR:    "corrupt file",
		UID:    []string{"1001", "1002"},
		ISCUST: false,
		URL:    &URL{Scheme: "http", Host: "prov.example.com", Port: 8080, Path: "/cfg/spa942.cfg?x=1"},
		SERVIP: "198.51.100.9",
	}
	v.GPP[0] = "Provisioned"      // A
	v.GPP[1] = "bee"              // B
	v.GPP[3] = "dir"              // D
	v.GPP[4] = "file"             // E
	v.GPP[15] = "pee"             // P
	v.GPPSecret[0] = "secret-a"   // SA
	v.GPPSecret[1] = "secret b$A" // SB: not expanded again
	return v
}

func TestExpand(t *testing.T) {
	v := testVars(t)
	tests := []struct {
		name string
		in   string
		want string
	}{
		// SPA-BEHAVIOUR §3, literally.
		{name: "substring from offset", in: "$(MAU:4)", want: "08012345"},
		{name: "substring with length", in: "$(MAU:8:2)", want: "23"},
		{name: "unknown name kept", in: "spa$STRANGE$MAU.cfg", want: "spa$STRANGE000E08012345.cfg"},
		{name: "dollar dollar single pass", in: "$$MAU", want: "$MAU"},
		{name: "dollar dollar", in: "a$$b", want: "a$b"},
		{name: "MA", in: "$MA", want: "000e08012345"},
		{name: "MAU", in: "$MAU", want: "000E08012345"},
		{name: "MAC", in: "$MAC", want: "00:0e:08:01:23:45"},
		{name: "paren form", in: "$(MA)", want: "000e08012345"},
		{name: "default profile rule", in: "/spa$PSN.cfg", want: "/spa942.cfg"},
		{name: "PN", in: "$PN", want: "SPA942"},
		{name: "SN", in: "$SN", want: "88012BA01234"},
		{name: "CCERT", in: `"$CCERT"`, want: `"Installed"`},
		{name: "IP EXTIP", in: "$IP/$EXTIP", want: "192.168.1.20/203.0.113.7"},
		{name: "SWVER HWVER", in: "$SWVER $HWVER", want: "5.1.15(aSC) 1.0.5(0617)"},
		{name: "states and timers", in: "$PRVST $UPGST $PRVTMR $UPGTMR", want: "-1 2 650 7"},
		{name: "REGTMR", in: "$REGTMR1,$REGTMR2", want: "0,301"},
		{name: "REGTMR beyond the lines kept", in: "$REGTMR3", want: "$REGTMR3"},
		{name: "UID", in: "$UID1 $UID2 $UID3", want: "1001 1002 $UID3"},
		{name: "UPGERR ERR", in: "$UPGERR / $ERR", want: "http_get failed / corrupt file"},
		{name: "UPGCOND always true", in: "$UPGCOND", want: "true"},
		{name: "ISCUST", in: "$ISCUST", want: "0"},
		{name: "GPP letters", in: "$A $B $C $D", want: "Provisioned bee  dir"},
		{name: "GPP_A alias", in: "$GPP_A/$(GPP_D)", want: "Provisioned/dir"},
		{name: "URL macros", in: "$SCHEME://$SERVIP:$PORT$PATH", want: "http://198.51.100.9:8080/cfg/spa942.cfg?x=1"},
		{name: "METH and SERV", in: "$METH $SERV", want: "http prov.example.com"},
		{name: "log resync failure", in: "$PN $MAC -- Resync failed: $ERR", want: "SPA942 00:0e:08:01:23:45 -- Resync failed: corrupt file"},
		// SA..SD only inside --key.
		{name: "SA kept outside key", in: "$SA", want: "$SA"},
		{name: "GPP_SA kept outside key", in: "$GPP_SA$(SB)", want: "$GPP_SA$(SB)"},
		// Longest match.
		{name: "MAU before MA", in: "spa$MAU.cfg", want: "spa000E08012345.cfg"},
		{name: "MA then text", in: "$MA.cfg", want: "000e08012345.cfg"},
		{name: "MA then X", in: "$MAX", want: "000e08012345X"},
		{name: "GPP letter then text", in: "$Efile", want: "filefile"},
		{name: "PORT not GPP_P", in: "$PORT", want: "8080"},
		{name: "PATH not GPP_P", in: "$PATH", want: "/cfg/spa942.cfg?x=1"},
		{name: "P alone", in: "$P", want: "pee"},
		{name: "PN not GPP_P", in: "$PNx", want: "SPA942x"},
		{name: "ERR not GPP_E", in: "$ERRx", want: "corrupt filex"},
		{name: "manual URL example", in: "http://neptune.speak.net:8080/prov/$D/$E.cfg", want: "http://neptune.speak.net:8080/prov/dir/file.cfg"},
		{name: "assignment example", in: "uid$B", want: "uidbee"},
		// Malformed and edge forms.
		{name: "lower case is no macro", in: "$ma", want: "$ma"},
		{name: "trailing dollar", in: "abc$", want: "abc$"},
		{name: "lone dollar", in: "$", want: "$"},
		{name: "dollar digit", in: "$1", want: "$1"},
		{name: "unclosed paren", in: "$(MAU", want: "$(MAU"},
		{name: "unknown paren name", in: "$(MAUX)", want: "$(MAUX)"},
		{name: "comma separator not supported", in: "$(MAU:4,2)", want: "$(MAU:4,2)"},
		{name: "offset past end", in: "[$(MAU:20)]", want: "[]"},
		{name: "length past end", in: "$(MAU:10:9)", want: "45"},
		{name: "zero length", in: "[$(MAU:0:0)]", want: "[]"},
		{name: "paren then paren", in: "$(A)$(B)", want: "Provisionedbee"},
		{name: "no macro at all", in: "http://x/y.cfg", want: "http://x/y.cfg"},
		{name: "single pass values", in: "$SA$B", want: "$SAbee"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Expand(tt.in, v); got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExpandKey(t *testing.T) {
	v := testVars(t)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "SA", in: "$SA", want: "secret-a"},
		{name: "paren SA", in: "$(SA)", want: "secret-a"},
		{name: "GPP_SA alias", in: "$GPP_SA", want: "secret-a"},
		{name: "value not expanded again", in: "$SB", want: "secret b$A"},
		{name: "SC empty", in: "[$SC]", want: "[]"},
		{name: "SN still the serial", in: "$SN", want: "88012BA01234"},
		{name: "other macros", in: "k-$MA-$A", want: "k-000e08012345-Provisioned"},
		{name: "substring of secret", in: "$(SA:0:6)", want: "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExpandKey(tt.in, v); got != tt.want {
				t.Errorf("ExpandKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExpandNilAndEmpty(t *testing.T) {
	tests := []struct {
		name string
		env  Env
		in   string
		want string
	}{
		{name: "nil env keeps macros", env: nil, in: "$MA$$x$(MAU:2)", want: "$MA$x$(MAU:2)"},
		{name: "nil env UPGCOND", env: nil, in: "$UPGCOND", want: "true"},
		{name: "nil Vars", env: (*Vars)(nil), in: "$MA", want: "$MA"},
		{name: "no MAC", env: &Vars{}, in: "[$MA][$MAC]", want: "[][]"},
		{name: "no URL", env: &Vars{}, in: "$SCHEME://$SERVIP:$PORT$PATH", want: "://:"},
		{name: "CCERT not installed", env: &Vars{}, in: "$CCERT", want: "Not Installed"},
		{name: "ISCUST", env: &Vars{ISCUST: true}, in: "$ISCUST", want: "1"},
		{name: "SERVIP falls back to host", env: &Vars{URL: &URL{Scheme: "tftp", Host: "tftp.lan", Port: 69, Path: "/a"}}, in: "$SERVIP", want: "tftp.lan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Expand(tt.in, tt.env); got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExpandNoMacroDoesNotAllocate(t *testing.T) {
	v := testVars(t)
	s := "http://prov.example.com/profiles/spa942.cfg"
	if n := testing.AllocsPerRun(100, func() { _ = Expand(s, v) }); n != 0 {
		t.Errorf("Expand without macros: %v allocations, want 0", n)
	}
	rule := "http://prov.example.com/Linksys/spa$MA.cfg?sn=$SN&v=$SWVER"
	if n := testing.AllocsPerRun(100, func() { _ = Expand(rule, v) }); n > 1 {
		t.Errorf("Expand of a typical rule: %v allocations, want at most 1", n)
	}
}

func TestGPPIndex(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"a", 0, true}, {"p", 15, true}, {"F", 5, true}, {"q", 0, false}, {"", 0, false}, {"ab", 0, false}, {"1", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := GPPIndex(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("GPPIndex(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestMacroTableLongestFirst guards the longest-match rule: within a letter, no name may be
// preceded by one of its own prefixes.
func TestMacroTableLongestFirst(t *testing.T) {
	for _, names := range macroNames {
		for i, n := range names {
			for _, earlier := range names[:i] {
				if strings.HasPrefix(n, earlier) {
					t.Errorf("macro %q listed after its prefix %q", n, earlier)
				}
			}
			if !knownMacro(n, true) {
				t.Errorf("knownMacro(%q) = false", n)
			}
		}
	}
}

func BenchmarkExpand(b *testing.B) {
	v := testVars(b)
	rule := "https://prov.example.com/Linksys/$PN/spa$MA.cfg?sn=$SN&v=$SWVER&ip=$IP"
	b.ReportAllocs()
	for b.Loop() {
		_ = Expand(rule, v)
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		"$(MAU:4)", "$(MAU:8:2)", "spa$STRANGE$MAU.cfg", "$$MAU", "$MA.cfg", "$SA", "$(SA:1:2)",
		"$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH", "$REGTMR9$UID1$(UID2)",
		"$(", "$(:)", "$(MA:)", "$(MA::)", "$(MA:999999:999999)", "$GPP_P$GPP_SD", "$$$",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	v := testVars(f)
	f.Fuzz(func(t *testing.T, s string, key bool) {
		var got string
		if key {
			got = ExpandKey(s, v)
		} else {
			got = Expand(s, v)
		}
		if !strings.Contains(s, "$") && got != s {
			t.Fatalf("Expand(%q) = %q: text without $ changed", s, got)
		}
		// With no environment, only "$$" changes.
		if got, want := Expand(s, nil), strings.ReplaceAll(s, "$$", "$"); got != want && !strings.Contains(s, "UPGCOND") {
			t.Fatalf("Expand(%q, nil) = %q, want only $$ collapsed", s, got)
		}
	})
}
