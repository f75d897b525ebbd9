package provtest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pin/tftp/v3"
)

func TestStartTFTPD(t *testing.T) {
	d := StartTFTPD(t, t.TempDir())
	want := []byte("<flat-profile/>\n")
	d.WriteFile(t, "spa942.cfg", want)

	c, err := tftp.NewClient(d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(2 * time.Second)
	wt, err := c.Receive("/spa942.cfg", "octet")
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	var got bytes.Buffer
	if _, err := wt.WriteTo(&got); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("got %q, want %q", got.Bytes(), want)
	}

	rf, err := c.Send("/report.xml", "octet")
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if _, err := rf.ReadFrom(strings.NewReader("report")); err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if got := d.ReadFile(t, "report.xml"); string(got) != "report" {
		t.Errorf("uploaded %q, want %q", got, "report")
	}
}

func TestStartNginx(t *testing.T) {
	n := StartNginx(t, Options{})
	n.WriteFile(t, "spa942.cfg", []byte("profile"))
	n.WriteFile(t, "prov/spa"+DefaultClientCN+".xml", []byte("mine"))
	n.WriteFile(t, "prov/spa0011223344ff.xml", []byte("theirs"))

	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: n.PKI.CAPool, Certificates: []tls.Certificate{n.PKI.ClientCert}}}}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: n.PKI.CAPool}}}
	t.Cleanup(withCert.CloseIdleConnections)
	t.Cleanup(noCert.CloseIdleConnections)

	tests := []struct {
		name   string
		client *http.Client
		method string
		url    string
		body   string
		status int
		want   string
	}{
		{"http file", http.DefaultClient, "GET", n.HTTPURL("/spa942.cfg"), "", 200, "profile"},
		{"http missing", http.DefaultClient, "GET", n.HTTPURL("/nope.cfg"), "", 404, ""},
		{"404", http.DefaultClient, "GET", n.HTTPURL(PathNotFound), "", 404, ""},
		{"403", http.DefaultClient, "GET", n.HTTPURL(PathForbidden), "", 403, ""},
		{"500", http.DefaultClient, "GET", n.HTTPURL(PathServerError), "", 500, ""},
		{"redirect", http.DefaultClient, "GET", n.HTTPURL(PrefixRedirect + "spa942.cfg"), "", 200, "profile"},
		{"auth without credentials", http.DefaultClient, "GET", n.HTTPURL(PrefixAuth + "spa942.cfg"), "", 401, ""},
		{"https with cert", withCert, "GET", n.HTTPSURL("/spa942.cfg"), "", 200, "profile"},
		{"https without cert", noCert, "GET", n.HTTPSURL("/spa942.cfg"), "", 400, ""},
		{"https optional without cert", noCert, "GET", n.HTTPSOptionalURL("/spa942.cfg"), "", 200, "profile"},
		{"per-mac own file", withCert, "GET", n.HTTPSURL("/prov/spa" + DefaultClientCN + ".xml"), "", 200, "mine"},
		{"per-mac other file", withCert, "GET", n.HTTPSURL("/prov/spa0011223344ff.xml"), "", 403, ""},
		{"upload", http.DefaultClient, "POST", n.HTTPURL(PrefixUpload + "r.xml"), "<report/>", 200, "stored\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tt.client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tt.method, tt.url, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if tt.want != "" && string(body) != tt.want {
				t.Errorf("body = %q, want %q", body, tt.want)
			}
		})
	}
	up := n.WaitUpload(t, func(u Upload) bool { return u.Path == PrefixUpload+"r.xml" })
	if string(up.Body) != "<report/>" {
		t.Errorf("upload body = %q", up.Body)
	}
	e := n.WaitAccess(t, func(e AccessEntry) bool { return e.Method == "POST" })
	if e.RequestBody != "<report/>" || e.Status != 200 {
		t.Errorf("access entry = %+v", e)
	}
	e = n.WaitAccess(t, func(e AccessEntry) bool { return e.URI == "/prov/spa"+DefaultClientCN+".xml" })
	if !strings.Contains(e.ClientDN, "CN="+DefaultClientCN) || e.ClientVerify != "SUCCESS" {
		t.Errorf("access entry = %+v", e)
	}
}

// stopTB records how a helper ends a test, and stops the helper as the real methods do.
type stopTB struct {
	testing.TB
	fatal, skip string
}

func (s *stopTB) Helper() {}
func (s *stopTB) Fatal(args ...any) {
	s.fatal = fmt.Sprint(args...)
	panic(s)
}
func (s *stopTB) Skip(args ...any) {
	s.skip = fmt.Sprint(args...)
	panic(s)
}

func TestRequirePeerMissing(t *testing.T) {
	tests := []struct {
		name      string
		ci        string
		wantFatal bool
	}{
		{"skipped outside CI", "", false},
		{"skipped when CI is not true", "1", false},
		{"fatal under CI=true", "true", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			s := &stopTB{TB: t}
			func() {
				defer func() {
					if r := recover(); r != nil && r != s {
						panic(r)
					}
				}()
				RequirePeer(s, "no-such-peer-binary", "no-such-package")
			}()
			msg := s.skip
			if tt.wantFatal {
				msg = s.fatal
			}
			if msg == "" || (s.fatal != "") != tt.wantFatal {
				t.Fatalf("fatal %q, skip %q; want fatal = %v", s.fatal, s.skip, tt.wantFatal)
			}
			if !strings.Contains(msg, "sudo apt-get install no-such-package") {
				t.Errorf("message %q does not say how to install the peer", msg)
			}
		})
	}
}

func TestRequirePeerFound(t *testing.T) {
	if p := RequirePeer(t, "sh", "dash"); p == "" {
		t.Fatal("RequirePeer(sh) returned no path")
	}
}
