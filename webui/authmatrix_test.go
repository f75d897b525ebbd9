package webui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/icholy/digest"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// The auth matrix of issue 9: every route of the server (the device's pages, its action URLs,
// the API, the event stream) × no / user / admin / wrong credentials, Basic and Digest × no
// passwords / admin password only / both passwords, against a table of expected answers
// (SPA-BEHAVIOUR §5.2, DECISIONS 16).

// matrixLevel is who a route lets in.
type matrixLevel int

const (
	levelOpen   matrixLevel = iota // everyone: the style sheet, the /admin redirect
	levelUser                      // the user account, or the admin
	levelAdmin                     // the admin account
	levelExport                    // /admin/spacfg.xml: the admin, or the user account's view with its credentials
)

// matrixCreds are the credentials tried, in the order of the table's columns.
var matrixCreds = []string{"none", "basic user", "basic admin", "basic wrong", "digest user", "digest admin", "digest wrong"}

// matrixSetups are the password setups, in the order of the table's rows.
var matrixSetups = []struct {
	name            string
	adminPw, userPw string
}{
	{"no passwords", "", ""},
	{"admin password only", "adm1n", ""},
	{"both passwords", "adm1n", "us3r"},
}

// matrixTable says, per level and setup, whether each credential of matrixCreds gets in (Y)
// or is challenged (4, a 401). A Digest client shows credentials only when challenged, so on a
// route open to the request without credentials it gets in whatever it holds.
var matrixTable = map[matrixLevel][3]string{
	//                 none  b-user b-admin b-wrong d-user d-admin d-wrong
	levelOpen:   {"YYYYYYY", "YYYYYYY", "YYYYYYY"},
	levelUser:   {"YYY4YYY", "YYY4YYY", "4YY4YY4"},
	levelAdmin:  {"Y4Y4YYY", "44Y44Y4", "44Y44Y4"},
	levelExport: {"YYY4YYY", "4YY4YY4", "4YY4YY4"},
}

// matrixRoute is one route with the answer it gives when let in.
type matrixRoute struct {
	method, path, body, ctype string
	level                     matrixLevel
	okCode                    int
}

func matrixRoutes() []matrixRoute {
	form := "application/x-www-form-urlencoded"
	user := url.Values{"Speed_Dial_2": {"5551234"}}.Encode()
	admin := url.Values{"Station_Name": {"Desk 7"}}.Encode()
	routes := []matrixRoute{
		{"GET", stylePath, "", "", levelOpen, 200},
		{"GET", "/admin", "", "", levelOpen, 301},
		// The user's pages.
		{"GET", "/", "", "", levelUser, 200},
		{"GET", "/basic", "", "", levelUser, 200},
		{"GET", "/advanced", "", "", levelUser, 200},
		{"GET", "/advanced?tab=User", "", "", levelUser, 200},
		{"GET", "/pdir.htm", "", "", levelUser, 200},
		{"GET", "/calllog.htm", "", "", levelUser, 200},
		{"POST", "/bsipura.spa", user, form, levelUser, 200},
		// The admin's pages and export.
		{"GET", "/admin/", "", "", levelAdmin, 200},
		{"GET", "/admin/basic", "", "", levelAdmin, 200},
		{"GET", "/admin/advanced", "", "", levelAdmin, 200},
		{"GET", "/admin/advanced?tab=Provisioning", "", "", levelAdmin, 200},
		{"POST", "/admin/bsipura.spa", admin, form, levelAdmin, 200},
		{"GET", "/admin/spacfg.xml", "", "", levelExport, 200},
		// The action URLs, GET and POST (the phone is off-hook: they wait, and show).
		{"GET", "/admin/reboot", "", "", levelAdmin, 200},
		{"POST", "/admin/reboot", "", "", levelAdmin, 200},
		{"GET", "/admin/resync", "", "", levelAdmin, 200},
		{"GET", "/admin/resync?http://192.0.2.10/p.cfg", "", "", levelAdmin, 200},
		{"POST", "/admin/resync", "", "", levelAdmin, 200},
		{"GET", "/admin/upgrade?192.0.2.10/spa942.bin", "", "", levelAdmin, 200},
		{"POST", "/admin/upgrade?192.0.2.10/spa942.bin", "", "", levelAdmin, 200},
		{"GET", "/upgrade?192.0.2.10/spa942.bin", "", "", levelAdmin, 200},
		{"POST", "/upgrade?192.0.2.10/spa942.bin", "", "", levelAdmin, 200},
		// The API and the event stream.
		{"GET", "/api/v1/status", "", "", levelAdmin, 200},
		{"GET", "/api/v1/config", "", "", levelAdmin, 200},
		{"GET", "/api/v1/events", "", "", levelAdmin, 200},
		{"GET", "/api/v1/events?after=0", "", "", levelAdmin, 200},
		{"POST", "/api/v1/hook", `{"offhook": true}`, "application/json", levelAdmin, 200},
		{"POST", "/api/v1/reboot", "", "", levelAdmin, 202},
		{"POST", "/api/v1/restart", "", "", levelAdmin, 202},
		{"POST", "/api/v1/profile", "<flat-profile><GPP_A>m</GPP_A></flat-profile>", "application/xml", levelAdmin, 200},
		{"POST", "/api/v1/factory-reset", "", "", levelAdmin, 202},
		{"POST", "/api/v1/resync", `{}`, "application/json", levelAdmin, 202},
		{"POST", "/api/v1/upgrade", `{"url": "http://192.0.2.10/spa942.bin"}`, "application/json", levelAdmin, 202},
		{"POST", "/api/v1/report", "", "", levelAdmin, 400}, // let in, then: no Report_Rule
		{"GET", "/api/v1/calls", "", "", levelAdmin, 200},
		{"POST", "/api/v1/calls", `{}`, "application/json", levelAdmin, 400},                                // let in, then: no number
		{"POST", "/api/v1/calls/no-such-call/hangup", "", "", levelAdmin, 404},                              // let in, then: no such call
		{"POST", "/api/v1/calls/no-such-call/dtmf", `{"digits": "1"}`, "application/json", levelAdmin, 404}, // the same
	}
	return routes
}

// matrixRequest sends one request with one credential variant and returns the status. The
// body is not read: the event stream never ends.
func matrixRequest(t *testing.T, base string, rt matrixRoute, cred, adminPw, userPw string) int {
	t.Helper()
	scheme, who, _ := strings.Cut(cred, " ")
	user, pass := "admin", adminPw
	switch who {
	case "user":
		user, pass = "user", userPw
	case "wrong":
		pass = "not-" + adminPw + "-at-all"
	}
	var body io.Reader
	if rt.body != "" {
		body = strings.NewReader(rt.body)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, rt.method, base+rt.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if rt.ctype != "" {
		req.Header.Set("Content-Type", rt.ctype)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	switch scheme {
	case "basic":
		req.SetBasicAuth(user, pass)
	case "digest":
		client.Transport = &digest.Transport{Username: user, Password: pass}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s (%s): %v", rt.method, rt.path, cred, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAuthMatrixEveryRoute(t *testing.T) {
	routes := matrixRoutes()
	for si, setup := range matrixSetups {
		t.Run(setup.name, func(t *testing.T) {
			u := testUnit(t, phone.Options{Defaults: []config.Change{
				config.Set(config.AdminPasswd, setup.adminPw), config.Set(config.UserPassword, setup.userPw)}})
			h, srv := testHandler(t, u)
			p, err := u.Phone()
			if err != nil {
				t.Fatal(err)
			}
			// Off-hook: the reboots, upgrades and resyncs let in wait, so that the phone stays
			// up for the whole matrix.
			if err := p.SetHook(t.Context(), true); err != nil {
				t.Fatal(err)
			}
			restore := []config.Change{config.Set(config.AdminPasswd, setup.adminPw), config.Set(config.UserPassword, setup.userPw)}
			var fails []string
			letIn := 0
			for _, rt := range routes {
				want := matrixTable[rt.level][si]
				for ci, cred := range matrixCreds {
					code := matrixRequest(t, srv.URL, rt, cred, setup.adminPw, setup.userPw)
					wantCode := 401
					if want[ci] == 'Y' {
						wantCode = rt.okCode
						letIn++
					}
					if code != wantCode {
						fails = append(fails, fmt.Sprintf("%s %s as %s = %d, want %d", rt.method, rt.path, cred, code, wantCode))
					}
					// The matrix is about who gets in, not about throttling (TestLoginThrottled),
					// nor about a factory reset's passwords (restored as they were).
					h.logins.succeeded(clientKey("127.0.0.1:1"))
					if _, err := p.Apply(t.Context(), "test", restore, config.ApplyOptions{}); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, f := range fails {
				t.Error(f)
			}
			t.Logf("%d routes × %d credentials: %d let in, %d challenged, %d unexpected", len(routes), len(matrixCreds),
				letIn, len(routes)*len(matrixCreds)-letIn, len(fails))
			if st := u.Status(); st.State != phone.StateRunning {
				t.Errorf("phone %s after the matrix, want it running", st.State)
			}
		})
	}
}
