package lab

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spa900/spa900/fleetfile"
	"github.com/spa900/spa900/provisioning/config"
)

func labPhones(n int) []Phone {
	var ps []Phone
	for i := range n {
		ps = append(ps, Phone{Model: "SPA942", Vars: fleetfile.Vars{Index: int64(i), Row: int64(i), Count: int64(n),
			MAC: "000E0800AB0" + string(rune('1'+i)), IP: "127.0.90." + string(rune('1'+i))}})
	}
	return ps
}

func TestDefaultTemplate(t *testing.T) {
	tmpl, err := DefaultTemplate("SPA942", "127.0.0.1:5070", 1001, "s3")
	if err != nil {
		t.Fatal(err)
	}
	profs, err := RenderProfiles("default", tmpl, labPhones(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(profs) != 2 || profs[1].MAC != "000E0800AB02" || profs[1].Station != "Lab 1002" {
		t.Fatalf("profiles %+v", profs)
	}
	if a := profs[1].Accounts; len(a) != 1 || a[0] != (Account{Ext: 1, User: "1002", Password: "s3-1002"}) {
		t.Errorf("accounts of phone 2: %+v", a)
	}
	if !strings.Contains(string(profs[0].Data), "<"+config.ExtName(config.Proxy, 1)+">127.0.0.1:5070<") ||
		!strings.Contains(string(profs[0].Data), "<"+config.ExtName(config.LineEnable, 4)+">No<") {
		t.Errorf("profile:\n%s", profs[0].Data)
	}
	accts, err := Accounts(profs)
	if err != nil || len(accts) != 2 || accts["1001"] != "s3-1001" {
		t.Errorf("Accounts = %v, %v", accts, err)
	}
	users, err := KamailioUsers(accts)
	if err != nil || !strings.Contains(string(users), "$sht(users=>1001) = \"s3-1001\";\n$sht(users=>1002) = \"s3-1002\";\n") {
		t.Errorf("Kamailio users:\n%s (%v)", users, err)
	}
}

// TestRenderErrors: every fault of a template names the template, the phone and the line.
func TestRenderErrors(t *testing.T) {
	for _, c := range []struct{ name, tmpl, want string }{
		{"expression", "<flat-profile><User_ID_1_>{{1000+idx}}</User_ID_1_></flat-profile>", `unknown name "idx"`},
		{"xml", "<flat-profile>\n<User_ID_1_>1</Password_1_>\n</flat-profile>", "line 2"},
		{"unknown name", "<flat-profile>\n\n<Line_Enable_6_>No</Line_Enable_6_></flat-profile>", "line 3: SPA942 has no parameter Line_Enable_6_"},
		{"bad value", "<flat-profile>\n<Resync_Periodic>daily</Resync_Periodic></flat-profile>", "line 2: Resync_Periodic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := RenderProfiles("p.xml", c.tmpl, labPhones(1))
			where := "p.xml: phone 000E0800AB01"
			if c.name == "expression" {
				where = "p.xml: " // a template that does not parse is wrong for every phone
			}
			if !errors.Is(err, ErrProfile) || !strings.Contains(err.Error(), where) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one naming %q and %q", err, where, c.want)
			}
		})
	}
	twice := []Profile{{MAC: "A", Accounts: []Account{{User: "1", Password: "x"}}}, {MAC: "B", Accounts: []Account{{User: "1", Password: "y"}}}}
	if _, err := Accounts(twice); err == nil {
		t.Error("one account with two passwords accepted")
	}
	if _, err := KamailioUsers(map[string]string{"1": `a"b`}); err == nil {
		t.Error("a password with a quote written into Kamailio's configuration")
	}
}

func TestProvServer(t *testing.T) {
	profs := []Profile{{MAC: "000E0800AB01", Data: []byte("<flat-profile/>")}}
	s := NewProvServer(profs, nil)
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", ProfilePath("000E0800AB01"), 200},
		{"GET", "/spa000E0800AB01.cfg", 200},
		{"GET", "/spa000e0800ab02.cfg", 404},
		{"GET", "/other", 404},
		{"POST", ProfilePath("000E0800AB01"), 405},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(c.method, c.path, nil)
		req.Header.Set("User-Agent", "Linksys/SPA-942-5.1.10 (X)")
		s.ServeHTTP(rec, req)
		if rec.Code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.code)
		}
		if c.code == http.StatusOK && rec.Body.String() != "<flat-profile/>" {
			t.Errorf("body %q", rec.Body)
		}
	}
	f := s.Fetches()
	if len(f) != 5 || f[0].MAC != "000E0800AB01" || f[0].Status != 200 || f[0].UserAgent != "Linksys/SPA-942-5.1.10 (X)" || f[2].Status != 404 {
		t.Errorf("fetches %+v", f)
	}
}
