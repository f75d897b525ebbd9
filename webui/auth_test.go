package webui

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// withProbes adds two routes that answer the account authenticate found, at each level.
func withProbes(h *handler) {
	for path, need := range map[string]Account{"/test/admin": AccountAdmin, "/test/user": AccountUser} {
		h.table().mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			acct, ok := handlerOf(r).authenticate(w, r, need)
			if ok {
				w.Write([]byte(acct.String()))
			}
		})
	}
}

// TestAuthMatrix: accounts, passwords and schemes (SPA-BEHAVIOUR §5.2, DECISIONS 16).
func TestAuthMatrix(t *testing.T) {
	type check struct {
		path     string
		cred     cred
		wantCode int
		wantBody string // the account, for the probes
	}
	tests := []struct {
		name    string
		adminPw string
		userPw  string
		checks  []check
	}{
		{
			name: "no passwords: everything open",
			checks: []check{
				{"/test/admin", noCred, 200, "admin"},
				{"/test/user", noCred, 200, "user"},
				{"/api/v1/status", noCred, 200, ""},
				{"/admin/spacfg.xml", noCred, 200, ""},
				{"/test/admin", basic("admin", ""), 200, "admin"},
				{"/test/user", basic("user", ""), 200, "user"},
				{"/test/admin", basic("admin", "guess"), 401, ""},
			},
		},
		{
			name:    "admin password only",
			adminPw: "s3cret",
			checks: []check{
				{"/test/admin", noCred, 401, ""},
				{"/api/v1/status", noCred, 401, ""},
				{"/admin/spacfg.xml", noCred, 401, ""},
				{"/test/admin", basic("admin", "s3cret"), 200, "admin"},
				{"/test/admin", digestC("admin", "s3cret"), 200, "admin"},
				{"/api/v1/status", digestC("admin", "s3cret"), 200, ""},
				{"/api/v1/status", basic("admin", "s3cret"), 200, ""},
				{"/api/v1/status?x=1&u=http://h/p%20q", digestC("admin", "s3cret"), 200, ""},
				{"/test/admin", basic("admin", "wrong"), 401, ""},
				{"/test/admin", digestC("admin", "wrong"), 401, ""},
				{"/test/admin", basic("root", "s3cret"), 401, ""},
				{"/test/admin", basic("user", ""), 401, ""},
				{"/api/v1/status", basic("user", ""), 401, ""},
				{"/test/user", noCred, 200, "user"},
				{"/test/user", basic("admin", "s3cret"), 200, "admin"},
				// A Digest client shows credentials only when challenged; the open page is not.
				{"/test/user", digestC("admin", "s3cret"), 200, "user"},
			},
		},
		{
			name:    "both passwords",
			adminPw: "adm1n",
			userPw:  "us3r",
			checks: []check{
				{"/test/user", noCred, 401, ""},
				{"/test/user", basic("user", "us3r"), 200, "user"},
				{"/test/user", digestC("user", "us3r"), 200, "user"},
				{"/test/user", basic("user", "adm1n"), 401, ""},
				{"/test/user", basic("admin", "adm1n"), 200, "admin"},
				{"/test/user", digestC("admin", "us3r"), 401, ""},
				{"/test/admin", basic("user", "us3r"), 401, ""},
				{"/test/admin", digestC("user", "us3r"), 401, ""},
				{"/api/v1/status", digestC("user", "us3r"), 401, ""},
				{"/api/v1/events", basic("user", "us3r"), 401, ""},
				{"/admin/reboot", basic("user", "us3r"), 401, ""},
				{"/admin/spacfg.xml", noCred, 401, ""},
			},
		},
		{
			name:   "user password only: admin open",
			userPw: "us3r",
			checks: []check{
				{"/test/admin", noCred, 200, "admin"},
				{"/test/user", noCred, 401, ""},
				{"/test/user", basic("admin", ""), 200, "admin"},
				{"/test/user", digestC("user", "us3r"), 200, "user"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := testUnit(t, phone.Options{Defaults: []config.Change{
				config.Set(config.AdminPasswd, tt.adminPw), config.Set(config.UserPassword, tt.userPw)}})
			h, srv := testHandler(t, u)
			withProbes(h)
			for _, c := range tt.checks {
				code, body := fetch(t, "GET", srv.URL+c.path, "", c.cred)
				if code != c.wantCode {
					t.Errorf("GET %s as %+v = %d, want %d", c.path, c.cred, code, c.wantCode)
					continue
				}
				if c.wantBody != "" && body != c.wantBody {
					t.Errorf("GET %s as %+v: account %q, want %q", c.path, c.cred, body, c.wantBody)
				}
				if code == 401 && (strings.Contains(body, tt.adminPw) && tt.adminPw != "" || strings.Contains(body, tt.userPw) && tt.userPw != "") {
					t.Errorf("GET %s: 401 body shows a password: %q", c.path, body)
				}
			}
			if p := u.Status().Pending; len(p) != 0 {
				t.Errorf("pending = %+v: a refused request queued an action", p)
			}
		})
	}
}

// TestChallenge: a 401 offers Digest (MD5, qop=auth) and Basic, and never a page.
func TestChallenge(t *testing.T) {
	u := testUnit(t, phone.Options{Defaults: []config.Change{config.Set(config.AdminPasswd, "pw")}})
	_, srv := testHandler(t, u)
	for _, path := range []string{"/admin/spacfg.xml", "/admin/reboot", "/api/v1/status"} {
		resp := request(t, "GET", srv.URL+path, nil, noCred)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET %s = %d, want 401", path, resp.StatusCode)
		}
		chal, err := digest.FindChallenge(resp.Header)
		if err != nil {
			t.Fatalf("GET %s: no Digest challenge: %v", path, err)
		}
		if chal.Algorithm != "MD5" || !chal.SupportsQOP("auth") || chal.Nonce == "" || chal.Realm == "" {
			t.Errorf("GET %s: challenge %+v", path, chal)
		}
		var basicSeen bool
		for _, v := range resp.Header.Values("WWW-Authenticate") {
			basicSeen = basicSeen || strings.HasPrefix(v, `Basic realm="`)
		}
		if !basicSeen {
			t.Errorf("GET %s: no Basic challenge in %q", path, resp.Header.Values("WWW-Authenticate"))
		}
	}
}

// TestDigestNonce: nonces are the handler's own and expire; a stale one gets stale=true.
func TestDigestNonce(t *testing.T) {
	u := testUnit(t, phone.Options{Defaults: []config.Change{config.Set(config.AdminPasswd, "pw")}})
	h, srv := testHandler(t, u)
	other := newHandler(u, Options{})
	realm := authRealm(u.Status().Model)
	const uri = "/api/v1/status"
	tests := []struct {
		name      string
		nonce     string
		realm     string
		uri       string
		pass      string
		wantCode  int
		wantStale bool
	}{
		{name: "fresh", nonce: h.newNonce(time.Now()), wantCode: 200},
		{name: "expired", nonce: h.newNonce(time.Now().Add(-nonceLifetime - time.Second)), wantCode: 401, wantStale: true},
		{name: "from the future", nonce: h.newNonce(time.Now().Add(time.Hour)), wantCode: 401, wantStale: true},
		{name: "another handler's", nonce: other.newNonce(time.Now()), wantCode: 401},
		{name: "forged", nonce: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", wantCode: 401},
		{name: "not base64", nonce: "%%%", wantCode: 401},
		{name: "wrong realm", nonce: h.newNonce(time.Now()), realm: "other", wantCode: 401},
		{name: "uri of another page", nonce: h.newNonce(time.Now()), uri: "/admin/spacfg.xml", wantCode: 401},
		{name: "stale and wrong password", nonce: h.newNonce(time.Now().Add(-time.Hour)), pass: "nope", wantCode: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, cu, pass := realm, uri, "pw"
			if tt.realm != "" {
				r = tt.realm
			}
			if tt.uri != "" {
				cu = tt.uri
			}
			if tt.pass != "" {
				pass = tt.pass
			}
			chal := &digest.Challenge{Realm: r, Nonce: tt.nonce, Algorithm: "MD5", QOP: []string{"auth"}}
			cr, err := digest.Digest(chal, digest.Options{Method: "GET", URI: cu, Username: "admin", Password: pass})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+uri, nil)
			req.Header.Set("Authorization", cr.String())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if tt.wantCode == 401 {
				c, err := digest.FindChallenge(resp.Header)
				if err != nil {
					t.Fatal(err)
				}
				if c.Stale != tt.wantStale {
					t.Errorf("stale = %v, want %v", c.Stale, tt.wantStale)
				}
			}
		})
	}
}

// TestDigestCurl: curl --digest, as XiVO drove /admin/reboot (SPA-BEHAVIOUR §5.2 [S17]).
func TestDigestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl not installed")
		}
		t.Skip("curl not installed: sudo apt-get install curl")
	}
	u := testUnit(t, phone.Options{Defaults: []config.Change{config.Set(config.AdminPasswd, "x y\"z")}})
	_, srv := testHandler(t, u)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "digest", args: []string{"--digest", "-u", "admin:x y\"z"}, want: "200"},
		{name: "basic", args: []string{"-u", "admin:x y\"z"}, want: "200"},
		{name: "digest wrong", args: []string{"--digest", "-u", "admin:xyz"}, want: "401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}"}, tt.args...)
			out, err := exec.CommandContext(ctx, curl, append(args, srv.URL+"/admin/spacfg.xml")...).Output()
			if err != nil {
				t.Fatalf("curl: %v", err)
			}
			if string(out) != tt.want {
				t.Errorf("curl status = %s, want %s", out, tt.want)
			}
		})
	}
}
