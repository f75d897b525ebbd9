package phone

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spa900/spa900/provisioning/config"
)

// unknownProfile is a flat-profile of n unknown elements, names unique to round.
func unknownProfile(round, n int) []byte {
	var b strings.Builder
	b.WriteString("<flat-profile>")
	for i := range n {
		fmt.Fprintf(&b, "<Unknown_%d_%d>v</Unknown_%d_%d>", round, i, round, i)
	}
	b.WriteString("<GPP_A>" + fmt.Sprint(round) + "</GPP_A></flat-profile>")
	return []byte(b.String())
}

// Issue 9 item 1: every unknown element name went into the config_applied event (kept on the
// bus) and into one log line; 500 posts of 1 MiB profiles took the process from 12 MB to
// 2.26 GB. Now the event and the log line carry the count and the first 20 names, the bus
// stays within its bound, and the heap does not grow with the posts.
func TestUnknownProfileNamesAreBounded(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	u, events := startUnit(t, Options{Logger: zap.New(core)}, nil)
	p := mustPhone(t, u)
	const names = 5000 // about 170 KB of profile
	body := unknownProfile(0, names)
	if _, err := p.ApplyProfile(t.Context(), "api", body); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, events, EventConfigApplied)
	if got := e.Data["unknown"].([]string); len(got) != maxNamesShown || got[0] != "Unknown_0_0" {
		t.Fatalf("event carries %d unknown names (%v…), want the first %d", len(got), got[:min(len(got), 3)], maxNamesShown)
	}
	if e.Data["unknown_count"] != names {
		t.Fatalf("unknown_count = %v, want %d", e.Data["unknown_count"], names)
	}
	line := logs.FilterMessage("profile names ignored").All()
	if len(line) != 1 {
		t.Fatalf("%d 'profile names ignored' lines, want 1", len(line))
	}
	fields := line[0].ContextMap()
	if got := fields["param"].([]any); len(got) != maxNamesShown || fields["count"] != int64(names) {
		t.Fatalf("log line carries %d names and count %v", len(got), fields["count"])
	}

	// The attack: many such posts. The heap after them is what it was after the first.
	before := heapInUse()
	for round := 1; round <= 10; round++ {
		if _, err := p.ApplyProfile(t.Context(), "api", unknownProfile(round, names)); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(heapInUse()) - int64(before)
	kept, count := u.Bus().KeptBytes()
	t.Logf("after 10 posts of %d KB: heap grew %d KB; bus keeps %d events, %d KB", len(body)>>10, grown>>10, count, kept>>10)
	if kept > u.Bus().MaxBytes() {
		t.Errorf("bus keeps %d bytes, bound %d", kept, u.Bus().MaxBytes())
	}
	if grown > 1<<20 {
		t.Errorf("heap grew by %d KB over 10 posts, want it flat (< 1 MB)", grown>>10)
	}
}

// Issue 9 item 4, the phone's side: a profile behind a redirect is reported as fetched from
// where it came: the resync_result event, last_url and the Log_* messages name the URL after
// redirects.
func TestResyncNamesTheURLFetched(t *testing.T) {
	final := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<flat-profile><GPP_A>moved</GPP_A></flat-profile>")
	}))
	t.Cleanup(final.Close)
	rule := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, final.URL+"/moved.cfg", http.StatusFound)
	}))
	t.Cleanup(rule.Close)
	syslog := syslogListener(t)
	u, _, events := realUnit(t, t.TempDir(), Options{}, config.ProfileRule, rule.URL+"/p.cfg",
		config.ResyncRandomDelay, "0", config.SyslogServer, syslog.addr)
	res := waitEvent(t, events, EventResyncResult)
	want := final.URL + "/moved.cfg"
	if res.Data["result"] != "success" || res.Data["url"] != want {
		t.Fatalf("resync_result %v, want success from %s", res.Data, want)
	}
	if got := u.Status().Provisioning.LastURL; got != want {
		t.Errorf("last_url = %q, want %q", got, want)
	}
	syslog.next(t) // the request, sent before the fetch
	if msg := syslog.next(t); !strings.HasSuffix(msg, "Successful resync "+want) {
		t.Errorf("syslog %q, want the URL fetched %s", msg, want)
	}
}

// syslogServer receives the phone's syslog datagrams.
type syslogServer struct {
	addr string
	conn net.PacketConn
}

func syslogListener(t *testing.T) *syslogServer {
	t.Helper()
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &syslogServer{addr: ln.LocalAddr().String(), conn: ln}
}

func (s *syslogServer) next(t *testing.T) string {
	t.Helper()
	buf := make([]byte, 4096)
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := s.conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no syslog message: %v", err)
	}
	return string(buf[:n])
}

// tftpErrorServer answers every read request with a TFTP ERROR packet of code and text, from
// a new port as a server's transfer does (RFC 1350 §4).
func tftpErrorServer(t *testing.T, code uint16, text string) int {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1024)
		for {
			_, client, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			pkt := binary.BigEndian.AppendUint16(nil, 5) // ERROR
			pkt = binary.BigEndian.AppendUint16(pkt, code)
			pkt = append(append(pkt, text...), 0)
			if data, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err == nil {
				data.WriteToUDP(pkt, client)
				data.Close()
			}
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr).Port
}

// printable reports whether s holds no control character.
func printable(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) < 0
}

// Issue 9 items 5 and 6: a TFTP server's error text was copied raw into $ERR and the syslog
// datagram, CR LF included, so a server could forge syslog lines; and HostName, which the
// user account may write (spaces included), went raw into the syslog header. Now every datagram is one line
// whose header names the phone's address, and $ERR, the status and the event carry the text
// without its control characters.
func TestServerTextCannotForgeSyslogLines(t *testing.T) {
	const forged = "Access violation\r\n<13>Jan  1 00:00:00 pbx sshd[1]: Accepted password for root\x1b[2K"
	port := tftpErrorServer(t, 2, strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\x1b`, "\x1b").Replace(forged))
	syslog := syslogListener(t)
	u, _, events := realUnit(t, t.TempDir(), Options{}, config.ProfileRule, fmt.Sprintf("tftp://127.0.0.1:%d/spa.cfg", port),
		config.ResyncRandomDelay, "0", config.SyslogServer, syslog.addr,
		config.HostName, "pbx sshd[1]: Accepted password for root;") // a fake HOSTNAME and TAG
	res := waitEvent(t, events, EventResyncResult)
	errText, _ := res.Data["err"].(string)
	if res.Data["result"] != "failure" || !strings.Contains(errText, "Access violation <13>Jan  1") || !printable(errText) {
		t.Fatalf("resync_result err = %q, want the server's text without its controls", errText)
	}
	if st := u.Status().Provisioning.LastError; st != errText {
		t.Errorf("status last_error = %q, want %q", st, errText)
	}
	for _, want := range []string{"Requesting resync", "Resync failed: tftp_get failed (tftp error 2: Access violation <13>"} {
		msg := syslog.next(t)
		if !printable(msg) || !strings.Contains(msg, want) {
			t.Errorf("syslog datagram %q: want one line with %q", msg, want)
		}
		if _, rest, _ := strings.Cut(msg, ">"); !strings.HasPrefix(rest[len(time.Stamp):], " 127.0.0.1 SPA942 ") {
			t.Errorf("syslog header of %q: want the phone's address as HOSTNAME, not its HostName", msg)
		}
	}
}

// Issue 9 item 9: a corrupt flash.json stopped the phone, even with --factory-reset. Now the
// damaged file is moved aside as it was, one line says so, and the phone boots from its
// factory defaults, keeping the identity it can read.
func TestCorruptFlashIsMovedAside(t *testing.T) {
	good := func(t *testing.T, dir string) []byte {
		t.Helper()
		f := config.NewFileFlash(filepath.Join(dir, "flash.json"))
		err := f.Save(&config.Flash{Model: "SPA962", MAC: "000E08AABBCC", Serial: "88012BA01234", Software: "5.1.10",
			Hardware: "1.0.5(0617)", BootCount: 7, Values: map[string]string{"GPP_A": "mine", "Station_Name": "Desk 12"}})
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(f.Path())
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	tests := []struct {
		name         string
		damage       func(whole []byte) []byte
		opts         Options
		wantMAC      string // "" : a new one
		wantModel    string
		wantIdentity string
	}{
		{name: "truncated", damage: func(b []byte) []byte { return b[:bytes.Index(b, []byte(`"values"`))+12] },
			wantMAC: "000E08AABBCC", wantModel: "SPA962", wantIdentity: "recovered"},
		{name: "garbage", damage: func([]byte) []byte { return []byte("\x00\x00\x00\x00 power cut") },
			wantModel: "SPA942", wantIdentity: "new"},
		{name: "garbage with --mac", damage: func([]byte) []byte { return []byte("{{{") }, opts: Options{MAC: "000e08112233"},
			wantMAC: "000E08112233", wantModel: "SPA942", wantIdentity: "from --mac"},
		{name: "garbage with --factory-reset", damage: func([]byte) []byte { return []byte("nope") }, opts: Options{FactoryReset: true},
			wantModel: "SPA942", wantIdentity: "new"},
		{name: "unknown model", damage: func(b []byte) []byte { return bytes.Replace(b, []byte(`"SPA962"`), []byte(`"SPA999"`), 1) },
			wantMAC: "000E08AABBCC", wantModel: "SPA942", wantIdentity: "recovered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			damaged := tt.damage(good(t, dir))
			path := filepath.Join(dir, "flash.json")
			if err := os.WriteFile(path, damaged, 0o644); err != nil {
				t.Fatal(err)
			}
			core, logs := observer.New(zapcore.InfoLevel)
			opts := tt.opts
			opts.Flash, opts.Logger = config.NewFileFlash(path), zap.New(core)
			u, _ := startUnit(t, opts, nil)
			st := u.Status()
			if tt.wantMAC != "" && st.MAC != tt.wantMAC || st.Model != tt.wantModel {
				t.Errorf("booted as %s %s, want %s %s", st.Model, st.MAC, tt.wantModel, tt.wantMAC)
			}
			if tt.wantIdentity == "recovered" && (st.BootCount != 8 || st.Serial != "88012BA01234") {
				t.Errorf("boot count %d, serial %q: want the damaged flash's 7 (+1) and its serial", st.BootCount, st.Serial)
			}
			if got := st.Config.Get("GPP_A"); got != "" {
				t.Errorf("GPP_A = %q: the damaged configuration was used", got)
			}
			lines := logs.FilterMessage("flash corrupt, moved aside; starting from factory defaults").All()
			if len(lines) != 1 {
				t.Fatalf("%d lines about the corrupt flash, want 1", len(lines))
			}
			f := lines[0].ContextMap()
			if id, _ := f["identity"].(string); !strings.HasPrefix(id, tt.wantIdentity) {
				t.Errorf("identity %q, want %q", id, tt.wantIdentity)
			}
			moved, _ := f["moved_to"].(string)
			if kept, err := os.ReadFile(moved); err != nil || !bytes.Equal(kept, damaged) {
				t.Errorf("the damaged flash is not kept at %q: %v", moved, err)
			}
			if _, err := config.NewFileFlash(path).Load(); err != nil {
				t.Errorf("the new flash does not load: %v", err)
			}
		})
	}
}

// A flash that breaks between two boots (a disk fault; the phone writes atomically) does not
// stop the unit at its next boot: it keeps the identity it runs with.
func TestFlashCorruptAtRebootKeepsIdentity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flash.json")
	u, events := startUnit(t, Options{Flash: config.NewFileFlash(path), MAC: "000e08445566", Model: "SPA922"}, nil)
	if err := os.WriteFile(path, []byte("\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := mustPhone(t, u).RequestReboot(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, events, EventBoot)
	if e.Data["mac"] != "000E08445566" || e.Data["model"] != "SPA922" {
		t.Fatalf("booted as %v %v after the flash broke, want the unit's identity", e.Data["model"], e.Data["mac"])
	}
}

// A provisioning server's profile full of unknown names (issue 9 item 1, the remote form of
// the attack: one profile and Resync_Periodic=2) is bounded the same way.
func TestResyncUnknownNamesAreBounded(t *testing.T) {
	net := newFakeNet()
	net.set("tftp://192.0.2.66:69/spa942.cfg", string(unknownProfile(1, 5000)))
	_, _, events := provUnit(t, net, config.ResyncRandomDelay, "0")
	e := waitEvent(t, events, EventConfigApplied)
	if got := e.Data["unknown"].([]string); len(got) != maxNamesShown || e.Data["unknown_count"] != 5000 || e.Data["source"] != "resync" {
		t.Fatalf("config_applied from the resync: %d names, count %v, source %v", len(got), e.Data["unknown_count"], e.Data["source"])
	}
}
