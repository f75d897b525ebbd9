package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

func TestBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // the flag the one-line error names
	}{
		{"model", []string{"--model", "SPA999"}, "--model"},
		{"mac", []string{"--mac", "zz"}, "--mac"},
		{"ip", []string{"--ip", "nope"}, "--ip"},
		{"http", []string{"--http", "8080"}, "--http"},
		{"set syntax", []string{"--set", "GPP_A"}, "--set"},
		{"set unknown", []string{"--set", "Nope=1"}, "--set"},
		{"set value", []string{"--set", "Line_Enable_1_=maybe"}, "--set"},
		{"clock", []string{"--clock-speed", "0"}, "--clock-speed"},
		{"log level", []string{"--log-level", "loud"}, "--log-level"},
		{"log format", []string{"--log-format", "xml"}, "--log-format"},
		{"profile", []string{"--profile", "/nonexistent.xml"}, "--profile"},
		{"unknown flag", []string{"--frobnicate"}, "frobnicate"},
		{"client cert alone", []string{"--client-cert", "x.pem"}, "--client-cert"},
		{"audio source", []string{"--audio-source", "noise"}, "--audio-source"},
		{"audio file", []string{"--audio-source", "file:/nonexistent.wav"}, "--audio-source"},
		{"impairment", []string{"--impair", "loss=2"}, "--impair"},
		{"record dir", []string{"--record-dir", "/nonexistent/dir"}, "--record-dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data", t.TempDir()}, tt.args...)
			err := run(t.Context(), args, io.Discard, io.Discard)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a usage error (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line naming %s", err, tt.want)
			}
		})
	}
}

// freeAddr returns a loopback address with a TCP port free right now, held from other
// tests' choices until the test ends (provtest.FreeTCPPort).
func freeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(provtest.FreeTCPPort(t)))
}

// startPhone runs the program and returns once its web server listens.
func startPhone(t testing.TB, args ...string) (addr string, stop func()) {
	t.Helper()
	addr, stop, _ = startPhoneLogs(t, args...)
	return addr, stop
}

// logLines collects the program's log lines and lets a test wait for one.
type logLines struct {
	mu   sync.Mutex
	buf  strings.Builder
	wake chan struct{} // closed and replaced at each line
}

func (l *logLines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.WriteString(line + "\n")
	close(l.wake)
	l.wake = make(chan struct{})
}

// String returns every line so far.
func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits until a line contains s, at most d.
func (l *logLines) waitFor(t testing.TB, s string, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		found, wake := strings.Contains(l.buf.String(), s), l.wake
		l.mu.Unlock()
		if found {
			return
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("no log line with %s in %v:\n%s", s, d, l.String())
		}
	}
}

// freeSIPPortArgs are --set flags that put every extension of the phone that args describe
// (its --model, SPA942 by default) on a free port: the factory 5060, 5061, … may be
// anybody's (a SIP server on a CI host, another package's test). They go first, so that a
// test's own --set SIP_Port_n_ wins.
func freeSIPPortArgs(t testing.TB, args []string) []string {
	t.Helper()
	model := config.DefaultModel
	for i, a := range args {
		if a == "--model" && i+1 < len(args) {
			model = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--model="); ok {
			model = v
		}
	}
	m, err := config.LookupModel(model)
	if err != nil {
		return nil // the test is about a bad --model
	}
	var out []string
	for n := 1; n <= m.Extensions; n++ {
		out = append(out, "--set", config.ExtName(config.SIPPort, n)+"="+strconv.Itoa(provtest.FreeUDPPort(t)))
	}
	return out
}

// runLogged runs the command line args until ctx ends, with its standard output to stdout
// (closed once run has returned, when it is an io.Closer), and keeps its log (JSON lines on
// standard error) in logs; done has run's result once it returned.
func runLogged(ctx context.Context, args []string, stdout io.Writer) (logs *logLines, done <-chan error) {
	logs = &logLines{wake: make(chan struct{})}
	lr, lw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(lr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			logs.add(sc.Text())
		}
		_, _ = io.Copy(io.Discard, lr) // a line too long for the scanner must not block run
	}()
	ch := make(chan error, 1)
	go func() {
		ch <- run(ctx, args, stdout, lw)
		if c, ok := stdout.(io.Closer); ok {
			c.Close()
		}
		lw.Close()
	}()
	return logs, ch
}

// startPhoneLogs is startPhone, keeping the log lines.
func startPhoneLogs(t testing.TB, args ...string) (addr string, stop func(), logs *logLines) {
	t.Helper()
	args = append(freeSIPPortArgs(t, args), args...)
	addr = freeAddr(t)
	logs = &logLines{wake: make(chan struct{})}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--http", addr, "--log-format", "json"}, args...), io.Discard, pw)
		pw.Close()
	}()
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := false
		for sc.Scan() {
			logs.add(sc.Text())
			if !once && strings.Contains(sc.Text(), "web server listening") {
				once = true
				close(listening)
			}
		}
	}()
	select {
	case <-listening:
	case err := <-done:
		cancel()
		t.Fatalf("run ended: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("web server never listened")
	}
	return addr, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}, logs
}

func TestRunServesExport(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startPhone(t, "--data", dir, "--boot-time", "0", "--set", "Station_Name=Front desk", "--model", "SPA962")
	defer stop()
	resp, err := http.Get("http://" + addr + "/admin/spacfg.xml")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("<flat-profile>\n")) {
		t.Fatalf("export: %d %.80q", resp.StatusCode, body)
	}
	for _, want := range []string{"<Product_Name group=\"Info/Product_Information\">SPA962</Product_Name>", "<Station_Name group=\"Phone/General\">Front desk</Station_Name>"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("export lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "flash.json")); err != nil {
		t.Errorf("no flash written: %v", err)
	}
}

func TestProfileAndFirmwareTools(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "p.txt")
	os.WriteFile(src, []byte("GPP_A ! \"hello\" ;\nStation_Name \"Desk\" ;\n"), 0o644)
	xml := filepath.Join(dir, "p.xml")
	if err := run(t.Context(), []string{"profile", "compile", "-o", xml, src}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(dir, "p.cfg")
	if err := run(t.Context(), []string{"profile", "encrypt", "-k", "s3cret", "-in", xml, "-out", enc}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"profile", "check", "-k", "s3cret", enc}, &out, io.Discard); err != nil {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "2 elements: 2 applied") || !strings.Contains(out.String(), `applied    GPP_A = "hello" [ua=rw]`) ||
		!strings.Contains(out.String(), "key derived with MD5") {
		t.Errorf("check output:\n%s", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"profile", "check", "-k", "wrong", enc}, &out, io.Discard); err == nil {
		t.Error("check with a wrong key succeeded")
	}
	bad := filepath.Join(dir, "bad.xml")
	os.WriteFile(bad, []byte("<flat-profile><Line_Enable_1_>perhaps</Line_Enable_1_><Foo>1</Foo></flat-profile>"), 0o644)
	out.Reset()
	if err := run(t.Context(), []string{"profile", "check", bad}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "unknown    Foo: not a 5.1 parameter") ||
		!strings.Contains(out.String(), `skipped    Line_Enable_1_ "perhaps": want Yes or No`) {
		t.Errorf("check of a profile with a bad value (skipped, not refused): err %v\n%s", err, out.String())
	}
	fw := filepath.Join(dir, "fw.bin")
	if err := run(t.Context(), []string{"firmware", "build", "--model", "SPA942", "--version", "5.1.18", "--size", "1M", "-o", fw}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(fw); st == nil || st.Size() != 1<<20 {
		t.Errorf("image size %v, want 1 MiB", st)
	}
	out.Reset()
	if err := run(t.Context(), []string{"firmware", "inspect", fw}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "5.1.18") {
		t.Errorf("inspect: %v\n%s", err, out.String())
	}
}

// BenchmarkBootToServing measures process-level boot: from run() to the web server serving
// the export, with no emulated boot time.
func BenchmarkBootToServing(b *testing.B) {
	for b.Loop() {
		_, stop := startPhone(b, "--data", b.TempDir(), "--boot-time", "0", "--log-level", "info")
		b.StopTimer()
		stop()
		b.StartTimer()
	}
}

// TestProfileCryptMatchesOpenSSL: `spa900 profile encrypt|decrypt` and the openssl command
// line read each other's files (SPA-BEHAVIOUR §1.4).
func TestProfileCryptMatchesOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl missing (CI=true)")
		}
		t.Skip("openssl not found: install it with `sudo apt-get install openssl`")
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "p.xml")
	os.WriteFile(plain, []byte("<flat-profile><GPP_A>interop</GPP_A></flat-profile>\n"), 0o644)

	ours := filepath.Join(dir, "ours.cfg")
	if err := run(t.Context(), []string{"profile", "encrypt", "-k", "pass phrase", "-in", plain, "-out", ours}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(bin, "enc", "-d", "-aes-256-cbc", "-md", "md5", "-k", "pass phrase", "-in", ours).Output()
	if err != nil {
		t.Fatalf("openssl could not decrypt spa900's file: %v", err)
	}
	want, _ := os.ReadFile(plain)
	if !bytes.Equal(got, want) {
		t.Fatalf("openssl decrypted %q", got)
	}
	for _, md := range []string{"md5", "sha256"} {
		theirs := filepath.Join(dir, "theirs-"+md+".cfg")
		if out, err := exec.Command(bin, "enc", "-e", "-aes-256-cbc", "-md", md, "-k", "pass phrase", "-in", plain, "-out", theirs).CombinedOutput(); err != nil {
			t.Fatalf("openssl enc: %v\n%s", err, out)
		}
		var dec bytes.Buffer
		if err := run(t.Context(), []string{"profile", "decrypt", "-k", "pass phrase", "-in", theirs}, &dec, io.Discard); err != nil {
			t.Fatalf("%s: %v", md, err)
		}
		if !bytes.Equal(dec.Bytes(), want) {
			t.Errorf("%s: decrypted %q", md, dec.Bytes())
		}
	}
}

// TestFleet runs three phones, each on its own loopback address with its own MAC, flash and
// web server, with each flash layout.
func TestFleet(t *testing.T) {
	for _, layout := range []string{flashDB, flashFiles} {
		t.Run(layout, func(t *testing.T) { testFleet(t, layout) })
	}
}

func testFleet(t *testing.T, layout string) {
	port := strconv.Itoa(fleetWebPort(t))
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"fleet", "--count", "3", "--ip", "127.0.0.2", "--mac", "00:0e:08:00:00:fe",
			"--http-port", port, "--data", dir, "--boot-time", "0", "--log-format", "json", "--flash", layout,
			"--set", "Resync_On_Reset=No"}, freeSIPPortArgs(t, nil)...), io.Discard, pw)
		pw.Close()
	}()
	listening, report := 0, ""
	_, restored := os.LookupEnv("GOGC") // set: the fleet keeps the collector's goal
	sc := bufio.NewScanner(pr)
	for (listening < 3 || report == "" || !restored) && sc.Scan() {
		listening += webServerLine(t, sc.Text())
		if strings.Contains(sc.Text(), `"msg":"storm done"`) {
			report = sc.Text()
		}
		// The collector's goal, raised while the fleet boots, comes back after the report.
		if strings.Contains(sc.Text(), `"msg":"collector goal restored"`) {
			if report == "" {
				t.Errorf("collector goal restored before the storm report: %s", sc.Text())
			}
			restored = true
		}
	}
	// The storm report: three phones booted, no boot resync to wait for, no web server
	// failed.
	if !strings.Contains(report, `"booted":3,`) || !strings.Contains(report, `"resynced":0,`) || !strings.Contains(report, `"web_failed":0,`) {
		t.Errorf("storm report %s: want 3 phones booted, none resynced, no web server failed", report)
	}
	go io.Copy(io.Discard, pr)
	want := map[string]string{"127.0.0.2": "000E080000FE", "127.0.0.3": "000E080000FF", "127.0.0.4": "000E08000100"}
	for ip, mac := range want {
		resp, err := http.Get("http://" + net.JoinHostPort(ip, port) + "/admin/spacfg.xml")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(body, []byte(">"+mac+"</MAC_Address>")) || !bytes.Contains(body, []byte(">"+ip+"</Current_IP>")) {
			t.Errorf("%s: export lacks MAC %s or its IP", ip, mac)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if layout == flashFiles {
		if flashes, _ := filepath.Glob(filepath.Join(dir, "phone-*", "flash.json")); len(flashes) != 3 {
			t.Errorf("flashes: %v", flashes)
		}
		return
	}
	db, err := config.OpenFlashDB(config.FlashDBPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if keys, err := db.Keys(); err != nil || !slices.Equal(keys, []string{"phone-0001", "phone-0002", "phone-0003"}) {
		t.Errorf("flashes in the database: %v, %v", keys, err)
	}
	if fl, err := db.Flash("phone-0002").Load(); err != nil || fl.MAC != "000E080000FF" || fl.BootCount != 1 {
		t.Errorf("phone-0002: %+v, %v", fl, err)
	}
}

// TestSIPTrace: --sip-trace logs every SIP message whole; the phone registers to a real
// Kamailio from the --set values.
func TestSIPTrace(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	port := provtest.FreeUDPPort(t)
	_, stop, logs := startPhoneLogs(t, "--data", t.TempDir(), "--boot-time", "0", "--sip-trace",
		"--set", "Proxy_1_="+k.Addr, "--set", "User_ID_1_=1001", "--set", "Password_1_=secret1001",
		"--set", "SIP_Port_1_="+strconv.Itoa(port), "--set", "Line_Enable_2_=No", "--set", "Line_Enable_3_=No",
		"--set", "Line_Enable_4_=No", "--set", "Resync_On_Reset=No")
	defer stop()
	logs.waitFor(t, `"msg":"registered"`, 10*time.Second)
	out := logs.String()
	if !strings.Contains(out, `"msg":"sip sent"`) || !strings.Contains(out, `REGISTER sip:`+k.Addr) ||
		!strings.Contains(out, `"msg":"sip received"`) || !strings.Contains(out, `SIP/2.0 200 OK`) {
		t.Errorf("log lacks the traced REGISTER and its 200:\n%s", out)
	}
	if bs := k.Bindings(t); len(bs) != 1 {
		t.Errorf("bindings = %+v, want the phone's", bs)
	}
}
