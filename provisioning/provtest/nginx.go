package provtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"text/template"
	"time"
)

// Locations every nginx server block of [StartNginx] has, besides the docroot at "/".
const (
	// PathNotFound answers 404 (a missing file does too).
	PathNotFound = "/status/404"
	// PathForbidden answers 403.
	PathForbidden = "/status/403"
	// PathServerError answers 500.
	PathServerError = "/status/500"
	// PrefixRedirect redirects (302) /redirect/X to /X.
	PrefixRedirect = "/redirect/"
	// PrefixSlow serves the docroot at [Options.SlowRate] bytes per second: /slow/X is
	// docroot/X sent slowly (nginx limit_rate).
	PrefixSlow = "/slow/"
	// PrefixAuth serves the docroot behind HTTP Basic authentication with
	// [Options.BasicUser] and [Options.BasicPassword]: /auth/X is docroot/X.
	PrefixAuth = "/auth/"
	// PathTruncated announces [TruncatedLength] bytes, sends [TruncatedSent] and closes
	// (a Go backend behind nginx with proxy_buffering off). Any name below it works too:
	// /backend/truncated/spa942.cfg.
	PathTruncated = "/backend/truncated"
	// PathStall announces [TruncatedLength] bytes, sends 10 and then nothing. Any name below
	// it works too.
	PathStall = "/backend/stall"
	// PrefixUpload accepts POST and PUT of any size up to 64 MiB and records them (see
	// [Nginx.Uploads]); the access log has the body as well when it is under 1 MiB.
	PrefixUpload = "/upload/"
	// PrefixPerMAC is, on the HTTPS servers only, where /prov/spa<mac>.xml (12 lower-case
	// hex digits) is served only to the client certificate whose CN is that MAC (403
	// otherwise), as the peers' provisioning configuration does. Other files below /prov/
	// are served to everyone.
	PrefixPerMAC = "/prov/"
)

// Options configures [StartNginx]. The zero value works.
type Options struct {
	// BasicUser and BasicPassword guard [PrefixAuth]; empty means "phone" and "secret".
	BasicUser, BasicPassword string
	// ClientSubject is the subject of the phone certificate the PKI issues; the zero value
	// means O=Linksys, CN=[DefaultClientCN].
	ClientSubject pkix.Name
	// SlowRate is the rate of [PrefixSlow] in bytes per second; 0 means 256.
	SlowRate int
	// ExtraLocations are nginx directives added to every server block, e.g.
	// `location = /moved { return 301 /spa942.cfg; }`.
	ExtraLocations string
	// WorkerConnections is nginx's worker_connections; 0 means 256, plenty for a test of a
	// few phones. A storm of thousands of phones connecting at once needs more (the open
	// file limit of the workers is raised to twice this).
	WorkerConnections int
}

// Nginx is a running nginx with three servers on 127.0.0.1, all serving Docroot with the
// same locations (see the Path and Prefix constants):
//
//   - HTTPPort: plain HTTP;
//   - HTTPSPort: HTTPS that requires a client certificate signed by PKI.CA
//     (ssl_verify_client on: without one nginx answers 400 "No required SSL certificate was
//     sent"), TLS 1.2 and 1.3;
//   - HTTPSOptionalPort: HTTPS where the client certificate is optional.
//
// Its access log records, as JSON lines, what a provisioning test asserts on: the
// User-Agent, method, URI, status, client certificate DN and the POST body ([AccessEntry]).
type Nginx struct {
	// PKI holds the CA, the server certificate (for 127.0.0.1 and localhost) and the phone
	// client certificate, as files and as Go values.
	PKI *PKI
	// Prefix is nginx's working directory (configuration, logs, temporary files).
	Prefix string
	// Docroot is the served directory; fill it with [Nginx.WriteFile] or directly.
	Docroot string
	// HTTPPort, HTTPSPort and HTTPSOptionalPort are the listening TCP ports.
	HTTPPort, HTTPSPort, HTTPSOptionalPort int
	// AccessLogFile and ErrorLogFile are nginx's logs.
	AccessLogFile, ErrorLogFile string
	// PID is the process id of the nginx master.
	PID int

	backend *backend
}

// nginxStartTimeout bounds how long StartNginx waits for nginx to accept connections.
const nginxStartTimeout = 10 * time.Second

// StartNginx starts nginx with a configuration generated in t.TempDir() (see [Nginx]) and a
// PKI made for it, waits until every port accepts connections, and stops it when the test
// ends. Without nginx the test is skipped, or failed under CI=true.
func StartNginx(t testing.TB, opts Options) *Nginx {
	t.Helper()
	bin := RequirePeer(t, "nginx", "nginx-light")
	if opts.BasicUser == "" {
		opts.BasicUser = "phone"
	}
	if opts.BasicPassword == "" {
		opts.BasicPassword = "secret"
	}
	if opts.SlowRate <= 0 {
		opts.SlowRate = 256
	}
	if opts.WorkerConnections <= 0 {
		opts.WorkerConnections = 256
	}
	prefix := t.TempDir()
	// Workers may run as another user than the test: let them reach the tree.
	if err := os.Chmod(prefix, 0o755); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	n := &Nginx{
		Prefix:        prefix,
		Docroot:       filepath.Join(prefix, "www"),
		AccessLogFile: filepath.Join(prefix, "access.log"),
		ErrorLogFile:  filepath.Join(prefix, "error.log"),
		backend:       startBackend(t),
	}
	for _, d := range []string{n.Docroot, filepath.Join(prefix, "pki"), filepath.Join(prefix, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("nginx: %v", err)
		}
	}
	n.PKI = NewPKI(t, filepath.Join(prefix, "pki"), opts.ClientSubject)
	// nginx's {PLAIN} scheme keeps the test password readable; fine for a throw-away server.
	htpasswd := fmt.Sprintf("%s:{PLAIN}%s\n", opts.BasicUser, opts.BasicPassword)
	if err := os.WriteFile(filepath.Join(prefix, "htpasswd"), []byte(htpasswd), 0o644); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		n.HTTPPort, n.HTTPSPort, n.HTTPSOptionalPort = FreeTCPPort(t), FreeTCPPort(t), FreeTCPPort(t)
		if err := n.writeConfig(opts); err != nil {
			t.Fatalf("nginx: %v", err)
		}
		proc, err := StartProcess(bin, []string{"-p", prefix, "-c", filepath.Join(prefix, "nginx.conf"),
			"-e", n.ErrorLogFile, "-g", "daemon off;"}, filepath.Join(prefix, fmt.Sprintf("nginx-%d.out", attempt)))
		if err != nil {
			t.Fatalf("nginx: start: %v", err)
		}
		if err = n.waitReady(proc); err != nil {
			proc.Stop()
			errLog, _ := os.ReadFile(n.ErrorLogFile)
			lastErr = fmt.Errorf("%w\noutput: %s\nerror log: %s", err, proc.Output(), errLog)
			continue // most likely a port was taken meanwhile
		}
		n.PID = proc.cmd.Process.Pid
		t.Cleanup(proc.Stop)
		return n
	}
	t.Fatalf("nginx: not ready: %v", lastErr)
	return nil
}

// waitReady polls every port with a connect until all accept, nginx exits or the start
// timeout passes.
func (n *Nginx) waitReady(proc *Process) error {
	ctx, cancel := context.WithTimeout(context.Background(), nginxStartTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for _, port := range []int{n.HTTPPort, n.HTTPSPort, n.HTTPSOptionalPort} {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		for {
			if proc.Exited() {
				return fmt.Errorf("nginx exited: %v", proc.err)
			}
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				_ = c.Close()
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not accepting within %s: %w", addr, nginxStartTimeout, err)
			case <-proc.Done():
			case <-tick.C:
			}
		}
	}
	return nil
}

// HTTPURL returns the plain-HTTP URL of path ("/spa942.cfg").
func (n *Nginx) HTTPURL(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(n.HTTPPort) + path
}

// HTTPSURL returns the URL of path on the server that requires a client certificate.
func (n *Nginx) HTTPSURL(path string) string {
	return "https://127.0.0.1:" + strconv.Itoa(n.HTTPSPort) + path
}

// HTTPSOptionalURL returns the URL of path on the server where the client certificate is
// optional.
func (n *Nginx) HTTPSOptionalURL(path string) string {
	return "https://127.0.0.1:" + strconv.Itoa(n.HTTPSOptionalPort) + path
}

// WriteFile writes a file under Docroot, world-readable, creating directories as needed.
func (n *Nginx) WriteFile(t testing.TB, name string, data []byte) {
	t.Helper()
	p := filepath.Join(n.Docroot, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatalf("nginx: %v", err)
	}
}

// AccessEntry is one line of the access log.
type AccessEntry struct {
	RemoteAddr   string `json:"remote_addr"`   // the client's IP: the phone's own address
	Scheme       string `json:"scheme"`        // "http" or "https"
	ServerPort   int    `json:"server_port"`   // which of the three servers
	Method       string `json:"method"`        // "GET", "POST"…
	URI          string `json:"uri"`           // path and query as requested
	Status       int    `json:"status"`        // the answer's status code
	BytesSent    int64  `json:"bytes_sent"`    // body bytes sent
	UserAgent    string `json:"user_agent"`    // the User-Agent header
	RemoteUser   string `json:"remote_user"`   // the Basic user, if any
	ContentType  string `json:"content_type"`  // the request's Content-Type
	RequestBody  string `json:"request_body"`  // the POST body, on proxied locations
	SSLProtocol  string `json:"ssl_protocol"`  // "TLSv1.3"…, empty for plain HTTP
	ClientDN     string `json:"client_dn"`     // the client certificate's subject, RFC 2253
	ClientVerify string `json:"client_verify"` // "SUCCESS", "NONE", "FAILED:…"
}

// AccessLog returns the access log so far. nginx writes a line after it has answered, so a
// test that just got its answer should use [Nginx.WaitAccess].
func (n *Nginx) AccessLog(t testing.TB) []AccessEntry {
	t.Helper()
	b, err := os.ReadFile(n.AccessLogFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("nginx: %v", err)
	}
	var entries []AccessEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var e AccessEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("nginx: access log line %q: %v", line, err)
		}
		entries = append(entries, e)
	}
	return entries
}

// WaitAccess waits until the access log has a line that match accepts and returns it, or
// fails the test after 5 s.
func (n *Nginx) WaitAccess(t testing.TB, match func(AccessEntry) bool) AccessEntry {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		for _, e := range n.AccessLog(t) {
			if match(e) {
				return e
			}
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("nginx: no matching access log line; log: %+v", n.AccessLog(t))
			return AccessEntry{}
		}
	}
}

// Uploads returns what the upload sink ([PrefixUpload]) has received so far.
func (n *Nginx) Uploads() []Upload {
	ups, _ := n.backend.snapshot()
	return ups
}

// WaitUpload waits until the upload sink has received a request that match accepts and
// returns it, or fails the test after 5 s.
func (n *Nginx) WaitUpload(t testing.TB, match func(Upload) bool) Upload {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		ups, changed := n.backend.snapshot()
		for _, u := range ups {
			if match(u) {
				return u
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("nginx: no matching upload; got %d", len(ups))
			return Upload{}
		}
	}
}

// writeConfig writes nginx.conf, tls.conf and locations.conf for the current ports.
func (n *Nginx) writeConfig(opts Options) error {
	tmpl, err := template.New("nginx.conf").Parse(nginxConf)
	if err != nil {
		return err
	}
	data := map[string]any{
		"Prefix":         n.Prefix,
		"Docroot":        n.Docroot,
		"PKI":            n.PKI,
		"HTTPPort":       n.HTTPPort,
		"HTTPSPort":      n.HTTPSPort,
		"HTTPSOptPort":   n.HTTPSOptionalPort,
		"BackendPort":    n.backend.port(),
		"SlowRate":       opts.SlowRate,
		"ExtraLocations": opts.ExtraLocations,
		"Connections":    opts.WorkerConnections,
		"OpenFiles":      2 * opts.WorkerConnections,
		"Root":           os.Geteuid() == 0,
	}
	for _, name := range []string{"nginx.conf", "tls.conf", "locations.conf"} {
		var b bytes.Buffer
		if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(n.Prefix, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// nginxConf is the configuration template. The locations are the same in every server; the
// per-MAC rule needs a client certificate and exists on the HTTPS servers only.
const nginxConf = `# generated by provtest for one test; see the Nginx type
worker_processes 1;
{{if .Root}}user root root;{{end}}
pid {{.Prefix}}/nginx.pid;
error_log {{.Prefix}}/error.log info;
worker_rlimit_nofile {{.OpenFiles}};
events { worker_connections {{.Connections}}; }
http {
    types { text/xml xml; text/plain cfg txt; application/octet-stream bin; }
    default_type application/octet-stream;
    client_body_temp_path {{.Prefix}}/tmp/body;
    proxy_temp_path {{.Prefix}}/tmp/proxy;
    fastcgi_temp_path {{.Prefix}}/tmp/fastcgi;
    uwsgi_temp_path {{.Prefix}}/tmp/uwsgi;
    scgi_temp_path {{.Prefix}}/tmp/scgi;
    client_max_body_size 64m;
    client_body_buffer_size 1m;
    log_format prov escape=json '{"remote_addr":"$remote_addr","scheme":"$scheme",'
        '"server_port":$server_port,"method":"$request_method","uri":"$request_uri",'
        '"status":$status,"bytes_sent":$body_bytes_sent,"user_agent":"$http_user_agent",'
        '"remote_user":"$remote_user","content_type":"$content_type",'
        '"request_body":"$request_body","ssl_protocol":"$ssl_protocol",'
        '"client_dn":"$ssl_client_s_dn","client_verify":"$ssl_client_verify"}';
    access_log {{.Prefix}}/access.log prov;
    map "$mac|$ssl_client_s_dn" $cert_matches_mac {
        "~^(?<m>[0-9a-f]{12})\|(.*,)?CN=\k<m>(,.*)?$" 1;
        default 0;
    }
    server {
        listen 127.0.0.1:{{.HTTPPort}} backlog=4096;
        include {{.Prefix}}/locations.conf;
    }
    server {
        listen 127.0.0.1:{{.HTTPSPort}} ssl;
        ssl_verify_client on;
        include {{.Prefix}}/tls.conf;
    }
    server {
        listen 127.0.0.1:{{.HTTPSOptPort}} ssl;
        ssl_verify_client optional;
        include {{.Prefix}}/tls.conf;
    }
}
{{define "tls.conf"}}
ssl_certificate        {{.PKI.ServerCertFile}};
ssl_certificate_key    {{.PKI.ServerKeyFile}};
ssl_client_certificate {{.PKI.CAFile}};
ssl_verify_depth       2;
ssl_protocols          TLSv1.2 TLSv1.3;
location ~ "^/prov/spa([0-9a-f]{12})\.xml$" {
    set $mac $1;
    if ($cert_matches_mac = 0) { return 403; }
    try_files $uri =404;
}
include {{.Prefix}}/locations.conf;
{{end}}
{{define "locations.conf"}}
root {{.Docroot}};
set $mac "";
location / { try_files $uri =404; }
location = /status/404 { return 404; }
location = /status/403 { return 403; }
location = /status/500 { return 500; }
location ~ ^/redirect(/.*)$ { return 302 $1; }
location /slow/ { alias {{.Docroot}}/; limit_rate {{.SlowRate}}; }
location /auth/ {
    auth_basic "spa900";
    auth_basic_user_file {{.Prefix}}/htpasswd;
    alias {{.Docroot}}/;
}
location /backend/ {
    proxy_pass http://127.0.0.1:{{.BackendPort}};
    proxy_buffering off;
    proxy_http_version 1.1;
}
location /upload/ {
    proxy_pass http://127.0.0.1:{{.BackendPort}};
    proxy_http_version 1.1;
}
{{.ExtraLocations}}
{{end}}
`
