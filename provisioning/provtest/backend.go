package provtest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Upload is a request the upload sink behind nginx received (see [PrefixUpload]).
type Upload struct {
	// Method is "POST" or "PUT".
	Method string
	// Path is the request path, e.g. "/upload/report.xml".
	Path string
	// Header is the request header as nginx forwarded it.
	Header http.Header
	// Body is the whole body.
	Body []byte
}

// backend is the Go server nginx proxies some locations to: answers nginx cannot give by
// itself (a body shorter than its Content-Length, a stalled body) and the upload sink.
type backend struct {
	srv  *http.Server
	ln   net.Listener
	quit chan struct{} // closed on close: releases stalled handlers

	mu       sync.Mutex
	uploads  []Upload      // guarded by mu
	changed  chan struct{} // guarded by mu: closed and replaced on every new upload
	hijacked map[net.Conn]struct{}
}

// startBackend serves the backend on 127.0.0.1:0 until the test ends.
func startBackend(t testing.TB) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("backend: %v", err)
	}
	b := &backend{ln: ln, quit: make(chan struct{}), changed: make(chan struct{}), hijacked: map[net.Conn]struct{}{}}
	mux := http.NewServeMux()
	for _, prefix := range []string{"/backend/truncated", "/backend/stall"} {
		h := b.truncated
		if prefix == "/backend/stall" {
			h = b.stall
		}
		mux.HandleFunc(prefix, h)
		mux.HandleFunc(prefix+"/", h) // any file name below, e.g. /backend/stall/spa942.cfg
	}
	mux.HandleFunc("/upload/", b.upload)
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(b.close)
	return b
}

func (b *backend) port() int { return b.ln.Addr().(*net.TCPAddr).Port }

func (b *backend) close() {
	close(b.quit)
	_ = b.srv.Close()
	b.mu.Lock()
	for c := range b.hijacked {
		_ = c.Close()
	}
	b.mu.Unlock()
}

// TruncatedLength and TruncatedSent are what [PathTruncated] announces and what it sends
// before it closes the connection.
const (
	TruncatedLength = 1000
	TruncatedSent   = 100
)

// truncated announces TruncatedLength bytes, sends TruncatedSent and closes the connection.
func (b *backend) truncated(w http.ResponseWriter, _ *http.Request) {
	conn, rw, ok := b.hijack(w)
	if !ok {
		return
	}
	defer b.release(conn)
	_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n")
	_, _ = rw.WriteString(strings.Repeat("x", TruncatedSent))
	_ = rw.Flush()
}

// stall announces TruncatedLength bytes, sends 10 and then nothing until the client goes away
// or the test ends.
func (b *backend) stall(w http.ResponseWriter, _ *http.Request) {
	conn, rw, ok := b.hijack(w)
	if !ok {
		return
	}
	defer b.release(conn)
	_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<flat-prof")
	_ = rw.Flush()
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the peer closes or close() does
		close(gone)
	}()
	select {
	case <-gone:
	case <-b.quit:
	}
}

// upload records a POST or PUT and answers 200.
func (b *backend) upload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		http.Error(w, "POST or PUT only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "incomplete body", http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	b.uploads = append(b.uploads, Upload{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
	_, _ = io.WriteString(w, "stored\n")
}

func (b *backend) hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, bool) {
	h, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "no hijacking", http.StatusInternalServerError)
		return nil, nil, false
	}
	conn, rw, err := h.Hijack()
	if err != nil {
		return nil, nil, false
	}
	b.mu.Lock()
	b.hijacked[conn] = struct{}{}
	b.mu.Unlock()
	return conn, rw, true
}

func (b *backend) release(conn net.Conn) {
	b.mu.Lock()
	delete(b.hijacked, conn)
	b.mu.Unlock()
	_ = conn.Close()
}

// snapshot returns the uploads so far and a channel closed at the next one.
func (b *backend) snapshot() ([]Upload, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Upload(nil), b.uploads...), b.changed
}
