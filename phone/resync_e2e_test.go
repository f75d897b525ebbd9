package phone

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
)

// realUnit starts a unit on the real network (no fake), a manual policy clock, and its own
// flash in dir.
func realUnit(t *testing.T, dir string, opts Options, sets ...string) (*Unit, *ManualClock, <-chan Event) {
	t.Helper()
	clock := NewManualClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	opts.Defaults = append(opts.Defaults, defaults(sets...)...)
	opts.Flash = config.NewFileFlash(filepath.Join(dir, "flash.json"))
	opts.Clock = clock
	if opts.MAC == "" {
		opts.MAC = "000e08aabbcc"
	}
	opts.IP = "127.0.0.1"
	u, events := startUnit(t, opts, nil)
	return u, clock, events
}

// opensslEncrypt encrypts data with the openssl command line, as a provisioning server
// operator does: openssl enc -e -aes-256-cbc -md md5 -k KEY (SPA-BEHAVIOUR §1.4).
func opensslEncrypt(t *testing.T, data []byte, key, md string) []byte {
	t.Helper()
	bin := provtest.RequirePeer(t, "openssl", "openssl")
	cmd := exec.Command(bin, "enc", "-e", "-aes-256-cbc", "-md", md, "-k", key)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl enc: %v", err)
	}
	return out
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

// TestResyncEncryptedProfileEndToEnd is the provisioning issue's acceptance scenario:
// Profile_Rule=[--key $SA] http://…/$PN/spa$MA.cfg with GPP_SA set fetches the right path with
// the device's User-Agent, decrypts an openssl-made gzip profile, applies it, and resyncs
// again when Resync_Periodic says.
func TestResyncEncryptedProfileEndToEnd(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	prof := []byte(`<flat-profile><Station_Name>Provisioned</Station_Name><GPP_B>$MA</GPP_B><Resync_Periodic>7200</Resync_Periodic></flat-profile>`)
	ng.WriteFile(t, "SPA942/spa000e08aabbcc.cfg", opensslEncrypt(t, gzipBytes(t, prof), "Sec ret", "md5"))
	rule := fmt.Sprintf("[--key $SA] http://127.0.0.1:%d/$PN/spa$MA.cfg", ng.HTTPPort)
	u, clock, events := realUnit(t, t.TempDir(), Options{},
		config.ProfileRule, rule, "GPP_SA", "Sec ret", config.ResyncRandomDelay, "0")

	res := waitEvent(t, events, EventResyncResult)
	if res.Data["result"] != "success" {
		t.Fatalf("resync: %v", res.Data)
	}
	st := u.Status()
	hit := ng.WaitAccess(t, func(e provtest.AccessEntry) bool { return e.URI == "/SPA942/spa000e08aabbcc.cfg" })
	if want := "Linksys/SPA-942-5.1.10 (" + st.Serial + ")"; hit.UserAgent != want || hit.Status != 200 || hit.RemoteAddr != "127.0.0.1" {
		t.Errorf("request: UA %q status %d from %s; want UA %q", hit.UserAgent, hit.Status, hit.RemoteAddr, want)
	}
	if st.Config.Get("Station_Name") != "Provisioned" || st.Config.Get("GPP_B") != "$MA" {
		t.Errorf("profile not applied: %q %q", st.Config.Get("Station_Name"), st.Config.Get("GPP_B"))
	}
	if st.Provisioning.NextResync == nil || st.Provisioning.NextResync.Sub(clock.Now()) != 7200*time.Second {
		t.Fatalf("next resync %v, want in 7200 s (the profile's Resync_Periodic)", st.Provisioning.NextResync)
	}
	clock.Advance(7199 * time.Second)
	clock.Advance(time.Second)
	if res := waitEvent(t, events, EventResyncResult); res.Data["prvst"] != prvstPeriodic || res.Data["result"] != "success" {
		t.Fatalf("periodic resync: %v", res.Data)
	}
	// nginx logs a request after answering it: wait for the second line.
	if n := waitAccessCount(t, ng, "/SPA942/spa000e08aabbcc.cfg", 2); n != 2 {
		t.Errorf("%d requests, want 2 (boot and periodic)", n)
	}
}

// TestResyncFailuresKeepFlash runs each failure path against real servers: the resync fails
// (or, for FNF with Resync_Fails_On_FNF=No, counts as success), the flash is unchanged and the
// retry comes after Resync_Error_Retry_Delay.
func TestResyncFailuresKeepFlash(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	good := []byte(`<flat-profile><Station_Name>Changed</Station_Name></flat-profile>`)
	// openssl salts at random, and a wrong key gives valid padding about once in 256 salts:
	// the file is one for which the key "wrong" is proven wrong.
	wrongKey := opensslEncrypt(t, good, "right", "md5")
	for i := 0; ; i++ {
		if _, err := provisioning.Decrypt(wrongKey, "wrong"); errors.Is(err, provisioning.ErrWrongKey) {
			break
		} else if i == 20 {
			t.Fatalf("the key \"wrong\" gives valid padding for 20 salts: %v", err)
		}
		wrongKey = opensslEncrypt(t, good, "right", "md5")
	}
	ng.WriteFile(t, "wrongkey.cfg", wrongKey)
	ng.WriteFile(t, "malformed.cfg", []byte(`<flat-profile><Station_Name>Changed</Station_Nam></flat-profile>`))
	gz := gzipBytes(t, bytes.Repeat(good, 50))
	ng.WriteFile(t, "truncated.cfg", gz[:len(gz)/2])
	ng.WriteFile(t, "spc.cfg", []byte(`Station_Name "Changed" ;`))
	closed := provtest.FreeTCPPort(t)
	tftpRoot := t.TempDir()
	tftpd := provtest.StartTFTPD(t, tftpRoot)

	http := func(p string) string { return ng.HTTPURL(p) }
	tests := []struct {
		name    string
		rule    string
		extra   []string
		opts    Options
		result  string
		errText string
	}{
		{name: "404 fails", rule: http("/missing.cfg"), result: "failure", errText: "not found"},
		{name: "404 with FNF No", rule: http("/missing.cfg"), extra: []string{config.ResyncFailsOnFNF, "No"}, result: "success"},
		{name: "tftp file not found", rule: "tftp://" + tftpd.Addr() + "/missing.cfg", result: "failure", errText: "not found"},
		{name: "403", rule: http(provtest.PathForbidden), result: "failure", errText: "403"},
		{name: "500", rule: http(provtest.PathServerError), result: "failure", errText: "500"},
		{name: "wrong key", rule: "[--key wrong] " + http("/wrongkey.cfg"), result: "failure", errText: "corrupt file (wrong key)"},
		{name: "no key", rule: http("/wrongkey.cfg"), result: "failure", errText: "corrupt file (encrypted profile and no --key)"},
		{name: "malformed xml", rule: http("/malformed.cfg"), result: "failure", errText: "corrupt file"},
		{name: "truncated gzip", rule: http("/truncated.cfg"), result: "failure", errText: "corrupt file"},
		{name: "spc source", rule: http("/spc.cfg"), result: "failure", errText: "corrupt file"},
		{name: "truncated body", rule: http(provtest.PathTruncated + "/x.cfg"), result: "failure"},
		{name: "server down", rule: "http://127.0.0.1:" + strconv.Itoa(closed) + "/p.cfg", result: "failure"},
		{name: "tls verify failure", rule: ng.HTTPSOptionalURL("/x.cfg"), result: "failure"},
		{name: "missing client cert", rule: ng.HTTPSURL("/x.cfg"), opts: Options{Provisioning: ProvisioningOptions{CAFile: ng.PKI.CAFile}}, result: "failure"},
		{name: "bad rule", rule: "(( $A eq", result: "failure", errText: "Profile_Rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			sets := append([]string{config.ProfileRule, tt.rule, config.ResyncRandomDelay, "0", config.ResyncErrorRetryDelay, "77"}, tt.extra...)
			u, clock, events := realUnit(t, dir, tt.opts, sets...)
			before, err := os.ReadFile(filepath.Join(dir, "flash.json"))
			if err != nil {
				t.Fatal(err)
			}
			res := waitEvent(t, events, EventResyncResult)
			if res.Data["result"] != tt.result {
				t.Fatalf("result %v, want %s", res.Data, tt.result)
			}
			errText, _ := res.Data["err"].(string)
			if !strings.Contains(errText, tt.errText) {
				t.Errorf("$ERR %q, want it to contain %q", errText, tt.errText)
			}
			after, _ := os.ReadFile(filepath.Join(dir, "flash.json"))
			if !bytes.Equal(before, after) || u.Status().Config.Get("Station_Name") != "" {
				t.Errorf("the failed resync changed the configuration")
			}
			st := u.Status().Provisioning
			if tt.result == "failure" {
				if st.NextResync == nil || st.NextResync.Sub(clock.Now()) != 77*time.Second || st.NextReason != "retry" {
					t.Errorf("next resync %v (%s), want a retry in 77 s", st.NextResync, st.NextReason)
				}
				if st.LastError == "" {
					t.Error("status lacks $ERR")
				}
			}
		})
	}
}

// TestResyncHTTPSClientCertificate fetches from a server that requires the phone's client
// certificate and serves per-MAC files only to the matching certificate.
func TestResyncHTTPSClientCertificate(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	ng.WriteFile(t, "prov/spa001122aabbcc.xml", []byte(`<flat-profile><GPP_C>mtls</GPP_C></flat-profile>`))
	u, _, events := realUnit(t, t.TempDir(), Options{MAC: "001122aabbcc", Provisioning: ProvisioningOptions{
		CAFile: ng.PKI.CAFile, ClientCert: ng.PKI.ClientCertFile, ClientKey: ng.PKI.ClientKeyFile,
	}}, config.ProfileRule, `("$CCERT" eq "Installed")? `+ng.HTTPSURL("/prov/spa$MA.xml")+` | http://127.0.0.1:1/none`, config.ResyncRandomDelay, "0")
	if res := waitEvent(t, events, EventResyncResult); res.Data["result"] != "success" {
		t.Fatalf("resync: %v", res.Data)
	}
	if got := u.Status().Config.Get("GPP_C"); got != "mtls" {
		t.Errorf("GPP_C = %q", got)
	}
	e := ng.WaitAccess(t, func(e provtest.AccessEntry) bool { return e.URI == "/prov/spa001122aabbcc.xml" })
	if e.ClientVerify != "SUCCESS" || !strings.Contains(e.ClientDN, "CN=001122aabbcc") {
		t.Errorf("client certificate: verify %s, DN %s", e.ClientVerify, e.ClientDN)
	}
}

// TestReportToServer sends the configuration report by HTTP POST, encrypted with --key, and
// reads it back with the openssl command line.
func TestReportToServer(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	u, _, events := realUnit(t, t.TempDir(), Options{}, config.ResyncOnReset, "No",
		config.ReportRule, "[--key rep0rt] "+ng.HTTPURL(provtest.PrefixUpload+"$MA.xml"), "GPP_D", "reported")
	if err := mustPhone(t, u).RequestReport(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, events, EventReport); ev.Data["result"] != "success" {
		t.Fatalf("report: %v", ev.Data)
	}
	up := ng.WaitUpload(t, func(provtest.Upload) bool { return true })
	cmd := exec.Command(provtest.RequirePeer(t, "openssl", "openssl"), "enc", "-d", "-aes-256-cbc", "-md", "md5", "-k", "rep0rt")
	cmd.Stdin = bytes.NewReader(up.Body)
	plain, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl could not decrypt the report: %v", err)
	}
	if !bytes.HasPrefix(plain, []byte("<flat-profile>\n")) || !bytes.Contains(plain, []byte(">reported</GPP_D>")) {
		t.Errorf("report body: %.200s", plain)
	}
}

// TestResyncSyslog checks the Log_Resync_* messages: expanded and sent as RFC 3164 over UDP
// to Syslog_Server (DECISIONS 22).
func TestResyncSyslog(t *testing.T) {
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ng := provtest.StartNginx(t, provtest.Options{})
	ng.WriteFile(t, "ok.cfg", []byte(`<flat-profile><GPP_E>x</GPP_E></flat-profile>`))
	_, _, events := realUnit(t, t.TempDir(), Options{}, config.ProfileRule, ng.HTTPURL("/ok.cfg"),
		config.ResyncRandomDelay, "0", config.SyslogServer, ln.LocalAddr().String())
	waitEvent(t, events, EventResyncResult)
	url := fmt.Sprintf("http://127.0.0.1:%d/ok.cfg", ng.HTTPPort)
	want := []string{
		"SPA942 00:0e:08:aa:bb:cc -- Requesting resync " + url,
		"SPA942 00:0e:08:aa:bb:cc -- Successful resync " + url,
	}
	buf := make([]byte, 2048)
	for _, w := range want {
		ln.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := ln.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no syslog message %q: %v", w, err)
		}
		msg := string(buf[:n])
		if !strings.HasPrefix(msg, "<133>") || !strings.HasSuffix(msg, " "+w) {
			t.Errorf("syslog message %q, want <133>… %q", msg, w)
		}
		if ip := from.(*net.UDPAddr).IP.String(); ip != "127.0.0.1" {
			t.Errorf("sent from %s, want the phone's own address", ip)
		}
	}
}

// waitAccessCount waits until nginx has logged want requests of uri (it logs after answering)
// and returns how many it logged, at most a few seconds later.
func waitAccessCount(t *testing.T, ng *provtest.Nginx, uri string, want int) int {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for {
		n := 0
		for _, e := range ng.AccessLog(t) {
			if e.URI == uri {
				n++
			}
		}
		if n >= want {
			return n
		}
		select {
		case <-tick.C:
		case <-deadline:
			return n
		}
	}
}
