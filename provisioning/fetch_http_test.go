package provisioning

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icholy/digest"

	"github.com/spa900/spa900/provisioning/provtest"
)

const testUA = "Linksys/SPA-942-5.1.10 (88012BA01234)"

// seen is what a test server saw of one request.
type seen struct {
	Method, Path, UA, ContentType, Authorization, Remote string
	Body                                                 []byte
}

// recorder keeps the requests a test server saw.
type recorder struct {
	mu   sync.Mutex
	reqs []seen // guarded by mu
}

func (rc *recorder) record(r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs = append(rc.reqs, seen{Method: r.Method, Path: r.URL.RequestURI(), UA: r.UserAgent(),
		ContentType: r.Header.Get("Content-Type"), Authorization: r.Header.Get("Authorization"),
		Remote: r.RemoteAddr, Body: body})
}

func (rc *recorder) all() []seen {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]seen(nil), rc.reqs...)
}

// httpTarget turns a test server URL plus a path into a Target.
func httpTarget(t testing.TB, serverURL, path string) Target {
	t.Helper()
	scheme, hostport, _ := strings.Cut(serverURL, "://")
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return Target{Scheme: scheme, Host: host, Port: p, Path: path}
}

// hijackClose answers with a header that announces n bytes, sends sent bytes and closes.
func hijackClose(w http.ResponseWriter, header string, sent int) {
	conn, rw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = rw.WriteString("HTTP/1.1 200 OK\r\n" + header + "\r\n\r\n" + strings.Repeat("x", sent))
	_ = rw.Flush()
}

func TestFetchHTTP(t *testing.T) {
	rec := &recorder{}
	gz := func() []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte("<flat-profile/>"))
		_ = zw.Close()
		return b.Bytes()
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("/spa942.cfg", func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, "<flat-profile/>")
	})
	mux.HandleFunc("/cgi", func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		_, _ = io.WriteString(w, "query="+r.URL.RawQuery)
	})
	mux.HandleFunc("/post", func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		_, _ = io.WriteString(w, "posted")
	})
	mux.HandleFunc("/gz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gz)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("b"), 3000)) // Content-Length set by net/http
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			_, _ = w.Write(bytes.Repeat([]byte("b"), 1000))
			w.(http.Flusher).Flush() // chunked: no Content-Length up front
		}
	})
	mux.HandleFunc("/truncated", func(w http.ResponseWriter, r *http.Request) {
		hijackClose(w, "Content-Length: 1000", 100)
	})
	mux.HandleFunc("/truncated-chunked", func(w http.ResponseWriter, r *http.Request) {
		conn, rw, _ := w.(http.Hijacker).Hijack()
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		_ = rw.Flush()
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/redirect/", func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/redirect/"))
		if n == 0 {
			_, _ = io.WriteString(w, "arrived")
			return
		}
		http.Redirect(w, r, "/redirect/"+strconv.Itoa(n-1), http.StatusFound)
	})
	mux.HandleFunc("/redirect-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://127.0.0.1/x", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	f := newTestFetcher(t, FetcherConfig{UserAgent: testUA, MaxSize: 2048})
	tests := []struct {
		name     string
		req      Request
		want     string
		wantType string
		wantErr  error
		wantCode int
		wantText string
	}{
		{name: "get", req: Request{Target: httpTarget(t, srv.URL, "/spa942.cfg")}, want: "<flat-profile/>", wantType: "text/xml"},
		{name: "query string kept", req: Request{Target: httpTarget(t, srv.URL, "/cgi?Linksys000E08AABBCC")}, want: "query=Linksys000E08AABBCC"},
		{name: "post", req: Request{Target: httpTarget(t, srv.URL, "/post"), Method: "POST", Body: []byte(`Product = "SPA942";`)}, want: "posted"},
		{name: "gzip body kept as sent", req: Request{Target: httpTarget(t, srv.URL, "/gz")}, want: string(gz)},
		{name: "limit by content-length", req: Request{Target: httpTarget(t, srv.URL, "/big")}, wantErr: ErrTooLarge, wantText: "http_get failed (too large)"},
		{name: "limit while reading", req: Request{Target: httpTarget(t, srv.URL, "/big-chunked")}, wantErr: ErrTooLarge},
		{name: "limit raised per request", req: Request{Target: httpTarget(t, srv.URL, "/big"), MaxSize: 3000}, want: strings.Repeat("b", 3000)},
		{name: "truncated", req: Request{Target: httpTarget(t, srv.URL, "/truncated")}, wantErr: ErrTruncated, wantText: "http_get failed (truncated)"},
		{name: "truncated chunked", req: Request{Target: httpTarget(t, srv.URL, "/truncated-chunked")}, wantErr: ErrTruncated},
		{name: "404 is not found", req: Request{Target: httpTarget(t, srv.URL, "/status/404")}, wantErr: ErrNotFound, wantCode: 404, wantText: "file not found"},
		{name: "403", req: Request{Target: httpTarget(t, srv.URL, "/status/403")}, wantCode: 403, wantText: "http_get failed (403 Forbidden)"},
		{name: "500", req: Request{Target: httpTarget(t, srv.URL, "/status/500")}, wantCode: 500, wantText: "http_get failed (500 Internal Server Error)"},
		{name: "post 403", req: Request{Target: httpTarget(t, srv.URL, "/status/403"), Method: "POST"}, wantCode: 403, wantText: "http_post failed (403 Forbidden)"},
		{name: "redirects followed", req: Request{Target: httpTarget(t, srv.URL, "/redirect/3")}, want: "arrived"},
		{name: "too many redirects", req: Request{Target: httpTarget(t, srv.URL, "/redirect/4")}, wantCode: 302},
		{name: "redirect to ftp refused", req: Request{Target: httpTarget(t, srv.URL, "/redirect-ftp")}, wantCode: 302},
		{name: "unknown scheme", req: Request{Target: Target{Scheme: "ftp", Host: "127.0.0.1", Path: "/x"}}, wantErr: ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.Fetch(t.Context(), tt.req)
			if tt.wantErr != nil || tt.wantCode != 0 {
				checkFetchError(t, err, tt.wantErr, tt.wantCode, tt.wantText)
				return
			}
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			if string(resp.Body) != tt.want {
				t.Errorf("Body = %q, want %q", resp.Body, tt.want)
			}
			if resp.ContentType != tt.wantType && tt.wantType != "" {
				t.Errorf("ContentType = %q, want %q", resp.ContentType, tt.wantType)
			}
		})
	}

	for _, s := range rec.all() {
		if s.UA != testUA {
			t.Errorf("%s %s: User-Agent = %q, want %q", s.Method, s.Path, s.UA, testUA)
		}
		if s.Path == "/post" {
			if s.Method != "POST" || string(s.Body) != `Product = "SPA942";` || !strings.HasPrefix(s.ContentType, "text/plain") {
				t.Errorf("post seen as %+v", s)
			}
		}
	}
}

func TestFetchHTTPResponseAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.RemoteAddr)
	}))
	t.Cleanup(srv.Close)
	f := newTestFetcher(t, FetcherConfig{LocalAddr: netip.MustParseAddr("127.0.0.2")})
	tg := httpTarget(t, srv.URL, "/x")
	resp, err := f.Fetch(t.Context(), Request{Target: tg})
	if err != nil {
		t.Fatalf("Fetch() error = %v", err)
	}
	if host, _, _ := net.SplitHostPort(string(resp.Body)); host != "127.0.0.2" {
		t.Errorf("server saw the request from %s, want 127.0.0.2", resp.Body)
	}
	if resp.ServerIP != netip.MustParseAddr("127.0.0.1") || resp.Port != tg.Port {
		t.Errorf("ServerIP, Port = %v, %d, want 127.0.0.1, %d", resp.ServerIP, resp.Port, tg.Port)
	}
	if want := srv.URL + "/x"; resp.URL != want {
		t.Errorf("URL = %q, want %q", resp.URL, want)
	}
}

func TestFetchHTTPAuth(t *testing.T) {
	const user, password = "phone1", "s3cret-pw"
	rec := &recorder{}
	mux := http.NewServeMux()
	mux.HandleFunc("/basic/", func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="prov"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "basic ok")
	})
	mux.HandleFunc("/digest/", func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		chal := &digest.Challenge{Realm: "prov", Nonce: "n0nce", Algorithm: "MD5", QOP: []string{"auth"}}
		if cred, err := digest.ParseCredentials(r.Header.Get("Authorization")); err == nil {
			want, err := digest.Digest(chal, digest.Options{Method: r.Method, URI: r.URL.RequestURI(),
				Cnonce: cred.Cnonce, Count: cred.Nc, Username: user, Password: password})
			if err == nil && cred.Response == want.Response && cred.Username == user {
				_, _ = io.WriteString(w, "digest ok")
				return
			}
		}
		w.Header().Add("WWW-Authenticate", `Basic realm="prov"`)
		w.Header().Add("WWW-Authenticate", chal.String())
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f := newTestFetcher(t, FetcherConfig{UserAgent: testUA})

	tests := []struct {
		name       string
		path       string
		method     string
		user, pass string
		want       string
		wantCode   int
		wantScheme string // of the second request's Authorization
	}{
		{name: "basic", path: "/basic/a.cfg", user: user, pass: password, want: "basic ok", wantScheme: "Basic"},
		{name: "basic post", path: "/basic/b.cfg", method: "POST", user: user, pass: password, want: "basic ok", wantScheme: "Basic"},
		{name: "digest preferred", path: "/digest/c.cfg", user: user, pass: password, want: "digest ok", wantScheme: "Digest"},
		{name: "digest post", path: "/digest/d.cfg?x=1", method: "POST", user: user, pass: password, want: "digest ok", wantScheme: "Digest"},
		{name: "wrong password", path: "/digest/e.cfg", user: user, pass: "nope", wantCode: 401},
		{name: "no credentials", path: "/basic/f.cfg", wantCode: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.Fetch(t.Context(), Request{Target: httpTarget(t, srv.URL, tt.path), Method: tt.method,
				Body: []byte("body"), User: tt.user, Password: tt.pass})
			if tt.wantCode != 0 {
				var se *StatusError
				if !errors.As(err, &se) || se.Code != tt.wantCode {
					t.Fatalf("Fetch() error = %v, want status %d", err, tt.wantCode)
				}
				if strings.Contains(err.Error(), tt.pass) && tt.pass != "" || strings.Contains(ErrText(err), "nope") {
					t.Errorf("error %q holds the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			if string(resp.Body) != tt.want {
				t.Errorf("Body = %q, want %q", resp.Body, tt.want)
			}
			var first, second *seen
			for _, s := range rec.all() {
				if strings.HasPrefix(tt.path, s.Path) || s.Path == tt.path {
					s := s
					if first == nil {
						first = &s
					} else {
						second = &s
					}
				}
			}
			if first == nil || second == nil {
				t.Fatalf("server saw %+v, want two requests for %s", rec.all(), tt.path)
			}
			if first.Authorization != "" {
				t.Errorf("first request sent Authorization %q before any challenge", first.Authorization)
			}
			if !strings.HasPrefix(second.Authorization, tt.wantScheme+" ") {
				t.Errorf("second request Authorization = %q, want %s", second.Authorization, tt.wantScheme)
			}
			if second.UA != testUA || (tt.method == "POST" && string(second.Body) != "body") {
				t.Errorf("second request = %+v, want the UA and the body again", second)
			}
		})
	}
}

func TestFetchHTTPSlowServerIsBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/trickle": // a byte every 20 ms, forever
			w.Header().Set("Content-Type", "text/xml")
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-tick.C:
				case <-r.Context().Done():
					return
				case <-release:
					return
				}
			}
		case "/no-headers": // accepts and never answers
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	for _, path := range []string{"/trickle", "/no-headers"} {
		t.Run(path, func(t *testing.T) {
			f := newTestFetcher(t, FetcherConfig{Timeout: 200 * time.Millisecond})
			start := time.Now()
			_, err := f.Fetch(t.Context(), Request{Target: httpTarget(t, srv.URL, path)})
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("Fetch() error = %v, want ErrTimeout", err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Fetch() took %v, want about 200ms", took)
			}
			if got, want := ErrText(err), "http_get failed (timeout)"; got != want {
				t.Errorf("ErrText() = %q, want %q", got, want)
			}
		})
	}
	t.Run("context deadline first", func(t *testing.T) {
		f := newTestFetcher(t, FetcherConfig{Timeout: time.Minute})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := f.Fetch(ctx, Request{Target: httpTarget(t, srv.URL, "/no-headers")})
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Fetch() error = %v, want ErrTimeout", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		f := newTestFetcher(t, FetcherConfig{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := f.Fetch(ctx, Request{Target: httpTarget(t, srv.URL, "/no-headers")})
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
			t.Fatalf("Fetch() error = %v, want context.Canceled", err)
		}
		if got, want := ErrText(err), "http_get failed (canceled)"; got != want {
			t.Errorf("ErrText() = %q, want %q", got, want)
		}
	})
}

func TestFetchHTTPConnectionRefused(t *testing.T) {
	port := provtest.FreeTCPPort(t) // nothing listens there, and no other test will
	f := newTestFetcher(t, FetcherConfig{})
	_, err := f.Fetch(t.Context(), Request{Target: Target{Scheme: "http", Host: "127.0.0.1", Port: port, Path: "/x"}})
	if got, want := ErrText(err), "http_get failed (connection refused)"; got != want {
		t.Errorf("ErrText() = %q, want %q (error %v)", got, want, err)
	}
}

func TestFetchHTTPS(t *testing.T) {
	pki := provtest.NewPKI(t, "", pkix.Name{})
	other := provtest.NewPKI(t, "", pkix.Name{}) // an authority nobody trusts
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		_, _ = fmt.Fprintf(w, "cn=%s tls=%x", cn, r.TLS.Version)
	})
	start := func(clientAuth tls.ClientAuthType, serverCert tls.Certificate, maxVersion uint16) *httptest.Server {
		srv := httptest.NewUnstartedServer(handler)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: clientAuth,
			ClientCAs: pki.CAPool, MaxVersion: maxVersion}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	required := start(tls.RequireAndVerifyClientCert, pki.ServerCert, 0)
	required12 := start(tls.RequireAndVerifyClientCert, pki.ServerCert, tls.VersionTLS12)
	optional := start(tls.VerifyClientCertIfGiven, pki.ServerCert, 0)
	untrusted := start(tls.NoClientCert, other.ServerCert, 0)
	tls11 := start(tls.NoClientCert, pki.ServerCert, tls.VersionTLS11)

	tests := []struct {
		name     string
		cfg      FetcherConfig
		srv      *httptest.Server
		want     string
		wantErr  error
		wantText string
	}{
		{name: "client cert presented", cfg: FetcherConfig{RootCAs: pki.CAPool, ClientCert: &other.ClientCert}, srv: optional, wantErr: ErrTLS},
		{name: "client cert required and sent", cfg: FetcherConfig{RootCAs: pki.CAPool, ClientCert: &pki.ClientCert}, srv: required, want: "cn=001122aabbcc tls=304"},
		{name: "tls 1.2 server", cfg: FetcherConfig{RootCAs: pki.CAPool, ClientCert: &pki.ClientCert}, srv: required12, want: "cn=001122aabbcc tls=303"},
		{name: "no client cert", cfg: FetcherConfig{RootCAs: pki.CAPool}, srv: required, wantErr: ErrTLS, wantText: "https_get failed (tls: server sent alert: certificate required)"},
		{name: "no client cert tls 1.2", cfg: FetcherConfig{RootCAs: pki.CAPool}, srv: required12, wantErr: ErrTLS},
		{name: "optional without cert", cfg: FetcherConfig{RootCAs: pki.CAPool}, srv: optional, want: "cn= tls=304"},
		{name: "untrusted server", cfg: FetcherConfig{RootCAs: pki.CAPool}, srv: untrusted, wantErr: ErrTLS, wantText: "https_get failed (tls: server certificate not trusted)"},
		{name: "system pool does not know the test CA", cfg: FetcherConfig{}, srv: optional, wantErr: ErrTLS},
		{name: "insecure switch", cfg: FetcherConfig{InsecureSkipVerify: true}, srv: untrusted, want: "cn= tls=304"},
		{name: "tls 1.1 refused", cfg: FetcherConfig{RootCAs: pki.CAPool}, srv: tls11, wantErr: ErrTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFetcher(t, tt.cfg)
			resp, err := f.Fetch(t.Context(), Request{Target: httpTarget(t, tt.srv.URL, "/spa942.xml")})
			t.Logf("error: %v; $ERR: %s", err, ErrText(err))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Fetch() error = %v, want %v", err, tt.wantErr)
				}
				if tt.wantText != "" && ErrText(err) != tt.wantText {
					t.Errorf("ErrText() = %q, want %q", ErrText(err), tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			if string(resp.Body) != tt.want {
				t.Errorf("Body = %q, want %q", resp.Body, tt.want)
			}
		})
	}
}

func TestUploadHTTP(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		switch r.URL.Path {
		case "/rep/ok.xml":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(bytes.Repeat([]byte("ignored "), 10000))
		default:
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	t.Cleanup(srv.Close)
	f := newTestFetcher(t, FetcherConfig{UserAgent: testUA})
	body := []byte(`<?xml version="1.0"?><flat-profile><GPP_A>1</GPP_A></flat-profile>`)
	if err := f.Upload(t.Context(), UploadRequest{Target: httpTarget(t, srv.URL, "/rep/ok.xml"), Body: body}); err != nil {
		t.Fatalf("Upload() error = %v", err)
	}
	err := f.Upload(t.Context(), UploadRequest{Target: httpTarget(t, srv.URL, "/rep/no.xml"), Body: body})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 403 || ErrText(err) != "http_post failed (403 Forbidden)" {
		t.Fatalf("Upload() error = %v (%q), want 403 http_post", err, ErrText(err))
	}
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("server saw %d requests, want 2 (one attempt each, no retry)", len(reqs))
	}
	s := reqs[0]
	if s.Method != "POST" || !bytes.Equal(s.Body, body) || s.UA != testUA || !strings.HasPrefix(s.ContentType, "text/xml") {
		t.Errorf("upload seen as %+v", s)
	}
}

func TestNewFetcherRejectsNegative(t *testing.T) {
	tests := []struct {
		name string
		cfg  FetcherConfig
	}{
		{"timeout", FetcherConfig{Timeout: -1}},
		{"size", FetcherConfig{MaxSize: -1}},
		{"tftp timeout", FetcherConfig{TFTPTimeout: -1}},
		{"tftp retries", FetcherConfig{TFTPRetries: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewFetcher(tt.cfg); err == nil {
				t.Errorf("NewFetcher(%+v) = nil error", tt.cfg)
			}
		})
	}
}

// checkFetchError checks a failed fetch: its sentinel, HTTP status and $ERR text, each when
// wanted.
func checkFetchError(t *testing.T, err, wantErr error, wantCode int, wantText string) {
	t.Helper()
	if wantErr != nil && !errors.Is(err, wantErr) {
		t.Fatalf("Fetch() error = %v, want %v", err, wantErr)
	}
	var se *StatusError
	if wantCode != 0 && (!errors.As(err, &se) || se.Code != wantCode) {
		t.Fatalf("Fetch() error = %v, want status %d", err, wantCode)
	}
	if wantText != "" && ErrText(err) != wantText {
		t.Errorf("ErrText() = %q, want %q", ErrText(err), wantText)
	}
}

// Issue 9 item 4: --uid/--pwd were answered to whatever server a redirect led to, as Basic
// if that server offered only Basic. The credentials go to the rule's server only; the error
// and the response name the URL the fetch ended at.
func TestFetchHTTPCredentialsStayWithTheRuleServer(t *testing.T) {
	const user, password = "phone1", "s3cret-pw"
	other := &recorder{}
	otherMux := http.NewServeMux()
	otherMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		other.record(r)
		if r.Header.Get("Authorization") != "" {
			_, _ = io.WriteString(w, "got your credentials")
			return
		}
		if strings.HasPrefix(r.URL.Path, "/digest") {
			w.Header().Add("WWW-Authenticate", (&digest.Challenge{Realm: "evil", Nonce: "n", Algorithm: "MD5", QOP: []string{"auth"}}).String())
		}
		w.Header().Add("WWW-Authenticate", `Basic realm="evil"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	otherSrv := httptest.NewServer(otherMux)
	t.Cleanup(otherSrv.Close)
	_, otherPort, _ := net.SplitHostPort(strings.TrimPrefix(otherSrv.URL, "http://"))

	rule := &recorder{}
	ruleMux := http.NewServeMux()
	ruleMux.HandleFunc("/away/", func(w http.ResponseWriter, r *http.Request) { // another port
		rule.record(r)
		http.Redirect(w, r, otherSrv.URL+strings.TrimPrefix(r.URL.Path, "/away"), http.StatusFound)
	})
	ruleMux.HandleFunc("/byname/", func(w http.ResponseWriter, r *http.Request) { // another host name
		rule.record(r)
		http.Redirect(w, r, "http://localhost:"+otherPort+strings.TrimPrefix(r.URL.Path, "/byname"), http.StatusFound)
	})
	ruleMux.HandleFunc("/here/", func(w http.ResponseWriter, r *http.Request) { // the same server
		rule.record(r)
		http.Redirect(w, r, "/basic"+strings.TrimPrefix(r.URL.Path, "/here"), http.StatusFound)
	})
	ruleMux.HandleFunc("/basic/", func(w http.ResponseWriter, r *http.Request) {
		rule.record(r)
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="prov"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "profile")
	})
	ruleMux.HandleFunc("/authed-away/", func(w http.ResponseWriter, r *http.Request) { // after the challenge
		rule.record(r)
		if _, _, ok := r.BasicAuth(); !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="prov"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, otherSrv.URL+"/open", http.StatusFound)
	})
	ruleSrv := httptest.NewServer(ruleMux)
	t.Cleanup(ruleSrv.Close)
	f := newTestFetcher(t, FetcherConfig{UserAgent: testUA})

	tests := []struct {
		name      string
		path      string
		final     string // the URL the fetch ends at
		wantBody  string
		wantCode  int
		otherSees int // requests the other server sees, none with credentials
	}{
		{name: "basic challenge on another port", path: "/away/basic.cfg", final: otherSrv.URL + "/basic.cfg", wantCode: 401, otherSees: 1},
		{name: "digest challenge on another port", path: "/away/digest.cfg", final: otherSrv.URL + "/digest.cfg", wantCode: 401, otherSees: 1},
		{name: "challenge on another host name", path: "/byname/basic.cfg", final: "http://localhost:" + otherPort + "/basic.cfg", wantCode: 401, otherSees: 1},
		{name: "same server", path: "/here/p.cfg", final: ruleSrv.URL + "/basic/p.cfg", wantBody: "profile"},
		{name: "redirect after the answer", path: "/authed-away/p.cfg", final: otherSrv.URL + "/open", wantCode: 401, otherSees: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(other.all())
			resp, err := f.Fetch(t.Context(), Request{Target: httpTarget(t, ruleSrv.URL, tt.path), User: user, Password: password})
			for _, s := range other.all()[before:] {
				if s.Authorization != "" {
					t.Fatalf("the other server received Authorization %q", s.Authorization)
				}
			}
			if n := len(other.all()) - before; n != tt.otherSees {
				t.Errorf("the other server saw %d requests, want %d", n, tt.otherSees)
			}
			if tt.wantCode != 0 {
				var se *StatusError
				var fe *FetchError
				if !errors.As(err, &se) || se.Code != tt.wantCode || !errors.As(err, &fe) {
					t.Fatalf("Fetch() error = %v, want status %d", err, tt.wantCode)
				}
				if fe.FetchedURL() != tt.final || !strings.Contains(err.Error(), "redirected to "+tt.final) {
					t.Errorf("error %q names %q, want the URL fetched %q", err, fe.FetchedURL(), tt.final)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			if string(resp.Body) != tt.wantBody || resp.URL != tt.final || !resp.Redirected {
				t.Errorf("Fetch() = %q from %s (redirected %v), want %q from %s", resp.Body, resp.URL, resp.Redirected, tt.wantBody, tt.final)
			}
		})
	}
}

// The redirect check strips Authorization wherever the credentials may not go: net/http
// itself forwards it to another port of the same host and to subdomains.
func TestCheckRedirectStripsCredentials(t *testing.T) {
	f := newTestFetcher(t, FetcherConfig{})
	tests := []struct {
		from, to string
		keep     bool
	}{
		{"http://prov.example/a", "http://prov.example/b", true},
		{"http://prov.example/a", "http://prov.example:80/b", true},
		{"http://PROV.example/a", "http://prov.example/b", true},
		{"http://prov.example/a", "https://prov.example/b", true},
		{"http://prov.example:8080/a", "https://prov.example/b", true},
		{"https://prov.example/a", "https://prov.example:8443/b", false},
		{"http://prov.example/a", "http://prov.example:8080/b", false},
		{"http://prov.example/a", "http://evil.prov.example/b", false},
		{"http://prov.example/a", "http://prov.example.evil/b", false},
		{"http://10.0.0.1/a", "http://10.0.0.2/a", false},
	}
	for _, tt := range tests {
		from, _ := http.NewRequest(http.MethodGet, tt.from, nil)
		to, _ := http.NewRequest(http.MethodGet, tt.to, nil)
		to.Header.Set("Authorization", "Basic cGhvbmU6cHc=")
		if err := f.checkRedirect(to, []*http.Request{from}); err != nil {
			t.Errorf("%s → %s: %v", tt.from, tt.to, err)
		}
		if kept := to.Header.Get("Authorization") != ""; kept != tt.keep {
			t.Errorf("%s → %s: Authorization kept %v, want %v", tt.from, tt.to, kept, tt.keep)
		}
	}
}
