package provisioning

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// oneShot is the fetcher's HTTP round tripper: every request goes out on a connection of its
// own, dialled from the phone's address and closed with the response's body, as the device
// does (SPA-BEHAVIOUR §7.1). net/http's Transport does the same when told DisableKeepAlives,
// but runs a connection pool's machinery for every request: a goroutine that dials, a reader
// and a writer goroutine, their channels and two 4 KiB buffers. In a storm of ten thousand
// phones those were about a tenth of the fleet's CPU and an eighth of its allocations, for
// connections that are never reused. The request is still written and the response read by
// net/http itself ([http.Request.Write], [http.ReadResponse]); the fetcher follows the
// redirects itself, as net/http's Client did (Fetcher.send).
//
// What it keeps of the Transport the fetcher had: HTTP/1.1 only, no proxy, no
// Accept-Encoding (a gzip profile reaches the decoder as the server sent it), "Connection:
// close", TLS with the fetcher's configuration and the URL's host as server name, a bound on
// the handshake and on the response's header (maxHeader bytes), informational (1xx) answers
// skipped, the context's end closing the connection, the address the request reached
// ($SERVIP).
type oneShot struct {
	dial             func(ctx context.Context, network, addr string) (net.Conn, error)
	network          string
	tls              *tls.Config
	handshakeTimeout time.Duration
	maxHeader        int64
}

// errHeaderTooLarge is the answer to a response whose header passes maxHeader, worded as
// net/http's Transport words it.
var errHeaderTooLarge = errors.New("server response headers exceeded the limit")

// roundTrip sends req on a new connection bounded by ctx, and returns the response and the
// address the connection reached ($SERVIP); its body closes the connection. It never
// changes req, and always closes req.Body.
func (o *oneShot) roundTrip(ctx context.Context, req *http.Request) (*http.Response, netip.AddrPort, error) {
	resp, addr, err := o.exchange(ctx, req)
	if req.Body != nil {
		req.Body.Close() // written whole, or never to be
	}
	return resp, addr, err
}

func (o *oneShot) exchange(ctx context.Context, req *http.Request) (*http.Response, netip.AddrPort, error) {
	var addr netip.AddrPort
	u := req.URL
	if u == nil || u.Host == "" {
		return nil, addr, errors.New("http: request without a host")
	}
	port := u.Port()
	switch {
	case port != "":
	case u.Scheme == "https":
		port = "443"
	case u.Scheme == "http":
		port = "80"
	default:
		return nil, addr, fmt.Errorf("unsupported protocol scheme %q", u.Scheme)
	}
	conn, err := o.dial(ctx, o.network, net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, addr, err
	}
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	// The context's end (the fetch's deadline, the phone going down) closes the connection,
	// which ends whatever waits on it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*http.Response, netip.AddrPort, error) {
		stop()
		conn.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, addr, cerr // not the closed connection's error: why it was closed
		}
		return nil, addr, err
	}
	var state *tls.ConnectionState
	if u.Scheme == "https" {
		cfg := o.tls.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(conn, cfg)
		hctx, cancel := ctx, context.CancelFunc(func() {})
		if o.handshakeTimeout > 0 {
			hctx, cancel = context.WithTimeout(ctx, o.handshakeTimeout)
		}
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return fail(err)
		}
		cs := tc.ConnectionState()
		state, conn = &cs, tc
	}
	// The request in one write: net/http buffers it itself when the writer cannot take bytes
	// one at a time.
	out := req
	if !out.Close {
		out = new(http.Request)
		*out = *req
		out.Close = true // "Connection: close"
	}
	// Room for a request's head: a GET's is about 200 bytes.
	head := bytes.NewBuffer(make([]byte, 0, 512))
	if err := out.Write(head); err != nil {
		return fail(err)
	}
	if _, err := conn.Write(head.Bytes()); err != nil {
		return fail(err)
	}
	lr := &headerLimit{r: conn, n: o.maxHeader}
	// Small: it holds the header; a body read in large pieces (readBody) bypasses it.
	br := bufio.NewReaderSize(lr, 1<<10)
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(br, req)
		if err != nil {
			if lr.n <= 0 {
				err = fmt.Errorf("%w (%d bytes)", errHeaderTooLarge, o.maxHeader)
			}
			return fail(err)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		resp.Body.Close() // 1xx: informational, the answer follows
	}
	lr.n = math.MaxInt64 // the body is bounded by the fetch's size limit
	resp.TLS = state
	resp.Body = &connBody{body: resp.Body, conn: conn, stop: stop, ctx: ctx}
	return resp, addr, nil
}

// headerLimit reads from r until n bytes have come: the bound of a response's header, lifted
// for its body.
type headerLimit struct {
	r io.Reader
	n int64
}

func (l *headerLimit) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// connBody is a response's body; closing it closes the connection.
type connBody struct {
	body io.ReadCloser
	conn net.Conn
	stop func() bool
	ctx  context.Context

	once sync.Once
}

func (b *connBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err != nil && err != io.EOF {
		if cerr := b.ctx.Err(); cerr != nil {
			err = cerr // the connection was closed because the context ended
		}
	}
	return n, err
}

// Close closes the connection before the body: net/http's body reads what is left of an
// announced length on Close unless the response said "Connection: close", and a server that
// announces more than the limit and sends nothing would hold that read for as long as it
// keeps the connection open (the fetch's deadline no longer watches once Close begins).
func (b *connBody) Close() error {
	b.once.Do(func() {
		b.stop()
		b.conn.Close()
		b.body.Close()
	})
	return nil
}
