package siptest

import (
	"bytes"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
)

//go:embed kamailio.cfg.tmpl
var kamailioTemplate string

// User is an account of the test registrar.
type User struct{ Name, Password string }

// KamailioOptions configures [StartKamailio]. The zero value works: users 1001, 1002 and 1003
// with passwords secret1001…, realm "spa900.test", MD5, expiry bounds 1..3600 s, UDP only.
type KamailioOptions struct {
	Users []User
	// Realm is the digest realm and the domain Kamailio takes as its own.
	Realm string
	// Algorithm is the digest algorithm of the challenges: "MD5" or "SHA-256".
	Algorithm string
	// QOP asks for qop=auth in the challenges.
	QOP bool
	// OneTimeNonce takes each nonce once (the auth module's one_time_nonce): a REGISTER that
	// answers an old challenge is challenged again.
	OneTimeNonce bool
	// MinExpires and MaxExpires bound the expiry it grants, in seconds.
	MinExpires, MaxExpires int
	// TCP listens on TCP too, on the same port.
	TCP bool
	// TLSCert and TLSKey, when set (PEM), make it listen on TLS too, on a port of its own
	// (Kamailio.TLSAddr), with that certificate (the tls module, kamailio-tls-modules).
	TLSCert, TLSKey []byte
	// Debug is Kamailio's log level (default 1).
	Debug int
	// PkgMemoryMB is each process's private memory (-M; default 8): a configuration that
	// lists thousands of users needs more (about 4 KB a user).
	PkgMemoryMB int
	// Children is its UDP worker processes (default 2). ReceiveBuffer, when set, is the
	// largest UDP receive buffer Kamailio's probing may set (-b; its default is 256 KiB, the
	// kernel's net.core.rmem_max bounds it): a registrar that thousands of phones register
	// with at once drops from a full buffer what its workers are not scheduled to read on a
	// loaded machine, and the REGISTERs time out.
	Children, ReceiveBuffer int
	// Config, when not empty, is a whole configuration of the caller's (deploy/compose's)
	// instead of the template: it must name no listen address (the instance is given -l
	// udp:127.0.0.1:PORT) and load no ctl module of its own, and Bindings is not available.
	// Users, Realm and the rest are then the config's business.
	Config string
}

// Kamailio is a running Kamailio on 127.0.0.1.
type Kamailio struct {
	// Addr is where it listens (UDP, and TCP when asked): "127.0.0.1:port".
	Addr string
	// Port is the port of Addr.
	Port int
	// TLSAddr is where it listens on TLS, when asked.
	TLSAddr string
	// Realm is its digest realm.
	Realm string
	dir   string
	proc  *provtest.Process
	ctl   string
}

// DefaultUsers are the accounts of a zero KamailioOptions.
func DefaultUsers() []User {
	return []User{{"1001", "secret1001"}, {"1002", "secret1002"}, {"1003", "secret1003"}}
}

// StartKamailio starts a Kamailio registrar and proxy, or skips the test (fails under CI) when
// kamailio is not installed.
func StartKamailio(t testing.TB, opts KamailioOptions) *Kamailio {
	t.Helper()
	bin := provtest.RequirePeer(t, "kamailio", "kamailio")
	if opts.Users == nil {
		opts.Users = DefaultUsers()
	}
	if opts.Realm == "" {
		opts.Realm = "spa900.test"
	}
	if opts.Algorithm == "" {
		opts.Algorithm = "MD5"
	}
	if opts.MinExpires == 0 {
		opts.MinExpires = 1
	}
	if opts.MaxExpires == 0 {
		opts.MaxExpires = 3600
	}
	if opts.Debug == 0 {
		opts.Debug = 1
	}
	pkgMem := opts.PkgMemoryMB
	if pkgMem <= 0 {
		pkgMem = 8
	}
	if opts.Children <= 0 {
		opts.Children = 2
	}
	tmpl := template.Must(template.New("kamailio").Parse(kamailioTemplate))
	dir := t.TempDir()
	if opts.TLSCert != nil {
		requireTLSModule(t)
		if err := os.WriteFile(filepath.Join(dir, "tls-cert.pem"), opts.TLSCert, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tls-key.pem"), opts.TLSKey, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := provtest.FreeUDPPort(t)
		tlsPort := 0
		if opts.TLSCert != nil {
			tlsPort = provtest.FreeTCPPort(t)
		}
		qop := "0"
		if opts.QOP {
			qop = "1"
		}
		var cfg bytes.Buffer
		extra := []string{}
		if opts.Config != "" {
			cfg.WriteString(opts.Config)
			extra = append(extra, "-l", "udp:127.0.0.1:"+strconv.Itoa(port))
		} else if err := tmpl.Execute(&cfg, map[string]any{
			"Port": port, "Realm": opts.Realm, "Algorithm": opts.Algorithm, "QOP": qop,
			"MinExpires": opts.MinExpires, "MaxExpires": opts.MaxExpires, "TCP": opts.TCP,
			"Users": opts.Users, "Dir": dir, "Debug": opts.Debug, "TLSPort": tlsPort,
			"OneTimeNonce": opts.OneTimeNonce, "Children": opts.Children,
		}); err != nil {
			t.Fatalf("kamailio config: %v", err)
		}
		cfgFile := filepath.Join(dir, "kamailio.cfg")
		if err := os.WriteFile(cfgFile, cfg.Bytes(), 0o644); err != nil {
			t.Fatalf("kamailio config: %v", err)
		}
		if opts.ReceiveBuffer > 0 {
			extra = append(extra, "-b", strconv.Itoa(opts.ReceiveBuffer))
		}
		proc, err := provtest.StartProcess(bin, append([]string{"-f", cfgFile, "-DD", "-E", "-Y", dir,
			"-P", filepath.Join(dir, "kamailio.pid"), "-m", "64", "-M", strconv.Itoa(pkgMem)}, extra...), filepath.Join(dir, "kamailio.log"))
		if err != nil {
			t.Fatalf("kamailio: %v", err)
		}
		k := &Kamailio{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, Realm: opts.Realm,
			dir: dir, proc: proc, ctl: "unix:" + filepath.Join(dir, "kamailio.ctl")}
		if tlsPort != 0 {
			k.TLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))
		}
		if err := k.waitReady(); err != nil {
			proc.Stop()
			lastErr = fmt.Errorf("%w\n%s", err, proc.Output())
			continue // most likely the port was taken meanwhile
		}
		t.Cleanup(proc.Stop)
		return k
	}
	t.Fatalf("kamailio: not ready: %v", lastErr)
	return nil
}

// requireTLSModule skips the test (fails it under CI) when Kamailio's tls module is not
// installed.
func requireTLSModule(t testing.TB) {
	t.Helper()
	for _, pattern := range []string{"/usr/lib/*/kamailio/modules/tls.so", "/usr/lib/kamailio/modules/tls.so", "/usr/local/lib*/kamailio/modules/tls.so"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return
		}
	}
	const msg = "kamailio's tls module is not installed (apt-get install kamailio-tls-modules)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// waitReady sends OPTIONS until Kamailio answers (or exits).
func (k *Kamailio) waitReady() error {
	deadline := time.Now().Add(15 * time.Second)
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer c.Close()
	dst, _ := net.ResolveUDPAddr("udp", k.Addr)
	local := c.LocalAddr().String()
	buf := make([]byte, 4096)
	for i := 0; time.Now().Before(deadline); i++ {
		if k.proc.Exited() {
			return fmt.Errorf("kamailio exited")
		}
		msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ready%d\r\n"+
			"From: <sip:ready@127.0.0.1>;tag=r%d\r\nTo: <sip:%s>\r\nCall-ID: ready-%d@127.0.0.1\r\n"+
			"CSeq: %d OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", k.Addr, local, i, i, k.Addr, i, i+1)
		c.WriteTo([]byte(msg), dst)
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, _, err := c.ReadFrom(buf)
		if err == nil && bytes.HasPrefix(buf[:n], []byte("SIP/2.0 ")) {
			return nil
		}
	}
	return fmt.Errorf("no answer to OPTIONS within 15 s")
}

// Binding is one registered contact, as Kamailio's location table shows it.
type Binding struct {
	AOR       string
	Contact   string
	Expires   int // seconds left
	UserAgent string
	CallID    string
	CSeq      int
}

// Bindings returns the registered contacts (kamcmd ul.dump). The dump is one RPC reply,
// which ctl bounds (binrpc_max_body_size, 32 KB by default, far below the dump of thousands of contacts): a table
// larger than that fails the test with Kamailio's error rather than reading as empty; count a
// large table with [Kamailio.Stat] ("usrloc:registered_users", "usrloc:location_contacts").
func (k *Kamailio) Bindings(t testing.TB) (bs []Binding) {
	t.Helper()
	out := k.kamcmd(t, "ul.dump")
	records := 0
	defer func() {
		// A reply that is not a dump, or one that counts records and lists none, is not
		// an empty table.
		if !strings.Contains(out, "Domains") || (records > 0 && len(bs) == 0) {
			t.Fatalf("kamcmd ul.dump: %d records, %d contacts read (a reply too big for ctl?): %.300q", records, len(bs), out)
		}
	}()
	var aor string
	var cur *Binding
	for _, line := range strings.Split(out, "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "AoR":
			aor = val
		case "Address":
			bs = append(bs, Binding{AOR: aor, Contact: val})
			cur = &bs[len(bs)-1]
		case "Expires":
			if cur != nil {
				cur.Expires, _ = strconv.Atoi(val)
			}
		case "User-Agent":
			if cur != nil {
				cur.UserAgent = val
			}
		case "Call-ID":
			if cur != nil {
				cur.CallID = val
			}
		case "CSeq":
			if cur != nil {
				cur.CSeq, _ = strconv.Atoi(val)
			}
		case "Records":
			n, _ := strconv.Atoi(val)
			records += n
		}
	}
	return bs
}

// CloseAfterNextRegister makes Kamailio close the TCP or TLS connection the next accepted
// REGISTER came over, once its 200 is sent (set_reply_close), as a proxy that restarts or
// sheds connections does.
func (k *Kamailio) CloseAfterNextRegister(t testing.TB) {
	t.Helper()
	k.kamcmd(t, "htable.seti", "ctl", "s:close", "1")
}

// KeepAlives returns how many NAT keep-alives (NOTIFY with Event: keep-alive) Kamailio has
// received, and where the last came from ("udp:127.0.0.1:5070"; "" before the first).
func (k *Kamailio) KeepAlives(t testing.TB) (int, string) {
	t.Helper()
	n, _ := strconv.Atoi(k.htable(t, "keepalives"))
	return n, k.htable(t, "keepalive_src")
}

// htable returns an item of the ctl table, "" when it has none.
func (k *Kamailio) htable(t testing.TB, key string) string {
	t.Helper()
	bin := provtest.RequirePeer(t, "kamcmd", "kamailio")
	out, err := exec.Command(bin, "-s", k.ctl, "htable.get", "ctl", key).CombinedOutput()
	if err != nil {
		return "" // kamcmd fails for a key not set
	}
	for _, line := range strings.Split(string(out), "\n") {
		if name, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && name == "value" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// SetPassword changes (or adds) an account's password while Kamailio runs.
func (k *Kamailio) SetPassword(t testing.TB, user, password string) {
	t.Helper()
	k.kamcmd(t, "htable.sets", "users", "s:"+user, password)
}

func (k *Kamailio) kamcmd(t testing.TB, args ...string) string {
	t.Helper()
	bin := provtest.RequirePeer(t, "kamcmd", "kamailio")
	out, err := exec.Command(bin, append([]string{"-s", k.ctl}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kamcmd %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Stat returns one of Kamailio's statistics by its full name ("registrar:accepted_regs",
// "usrloc:registered_users"), -1 when it has none of that name.
func (k *Kamailio) Stat(t testing.TB, name string) int64 {
	t.Helper()
	_, short, _ := strings.Cut(name, ":") // kamcmd takes the name without its group
	if short == "" {
		short = name
	}
	out := k.kamcmd(t, "stats.get_statistics", short)
	for _, line := range strings.Split(out, "\n") {
		if n, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(n) == name {
			x, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return x
			}
		}
	}
	return -1
}

// Log returns what Kamailio logged, for failure messages.
func (k *Kamailio) Log() string { return k.proc.Output() }

// Stop stops Kamailio before the test ends (its connections close with it).
func (k *Kamailio) Stop() { k.proc.Stop() }
