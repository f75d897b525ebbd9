package webui

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Limits bound what the clients of one phone's web server may hold of it (issue 9: a request
// that announced a body and sent it slowly was never closed; 1,100 of them under a 1,024-fd
// limit made the phone unreachable). The zero value of each field takes its default.
//
// A phone of a fleet has its own server and so its own limits; the connection bounds are per
// phone, the client bound per client address of that phone.
type Limits struct {
	// MaxConns bounds the connections a phone's server holds (default 128). Over it, a new
	// connection is accepted only if its client holds fewer than the client holding most, and
	// then that client's oldest connection is closed for it (fair share: many clients cannot
	// be locked out by one, and a new client always gets in while another holds more than
	// its share); otherwise it is refused.
	MaxConns int
	// MaxConnsPerClient bounds the connections of one client address (an IPv4 address, or
	// the /64 of an IPv6 one, which one host can fill with addresses); default 16. A browser
	// opens six.
	MaxConnsPerClient int
	// ReadTimeout bounds the reading of a whole request, headers and body (default 30 s):
	// a 1 MiB profile at 35 KB/s.
	ReadTimeout time.Duration
	// WriteTimeout bounds the writing of a response (default 30 s), and each write of the
	// event stream, whose heartbeat keeps it short: a subscriber that stops reading is
	// dropped once the kernel buffers are full and a write waits that long.
	WriteTimeout time.Duration
	// MaxUploads bounds the requests that read a large body at once (a profile, a form
	// post of up to 1 MiB each); default 4. Others wait for a slot, at most ReadTimeout.
	MaxUploads int
}

// Defaults of [Limits].
const (
	DefaultMaxConns          = 128
	DefaultMaxConnsPerClient = 16
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultMaxUploads        = 4
	// readHeaderTimeout bounds the request line and headers.
	readHeaderTimeout = 10 * time.Second
	// idleTimeout closes a kept-alive connection that sends nothing more.
	idleTimeout = 60 * time.Second
	// maxHeaderBytes bounds the request headers (net/http's default is 1 MiB).
	maxHeaderBytes = 32 << 10
	// logEvery is how often a refusal that repeats (a connection over the bounds, a wrong
	// password) is logged: the first at once, then one line per interval with the count.
	logEvery = 10 * time.Second
)

// withDefaults fills in the zero fields.
func (l Limits) withDefaults() Limits {
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.MaxConnsPerClient <= 0 {
		l.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	l.MaxConnsPerClient = min(l.MaxConnsPerClient, l.MaxConns)
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.MaxUploads <= 0 {
		l.MaxUploads = DefaultMaxUploads
	}
	return l
}

// clientKey is what the limits count a client by: its IPv4 address, or the /64 of its IPv6
// address. A remote address that does not parse counts as one unknown client.
func clientKey(addr string) netip.Prefix {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// connLimiter is a listener that enforces [Limits.MaxConns] and
// [Limits.MaxConnsPerClient]: it refuses a connection over the bounds at once with a short
// 503 and closes it, and logs refusals at most once per logEvery.
type connLimiter struct {
	net.Listener
	max, perClient int
	log            *zap.Logger
	refused        atomic.Pointer[rateLog] // made at the first refusal (refusedLog)

	mu      sync.Mutex
	total   int                             // guarded by mu
	clients map[netip.Prefix][]*limitedConn // guarded by mu; oldest first
	admits  uint64                          // guarded by mu: connections admitted so far
}

func newConnLimiter(ln net.Listener, l Limits, log *zap.Logger) *connLimiter {
	// The rate log and the clients' map are made when first needed: a phone of a fleet that
	// nobody browses needs neither (some 190 bytes a phone and boot).
	return &connLimiter{Listener: ln, max: l.MaxConns, perClient: l.MaxConnsPerClient, log: log}
}

// refusedLog returns the rate log of the refused connections, made at the first.
func (l *connLimiter) refusedLog() *rateLog {
	if r := l.refused.Load(); r != nil {
		return r
	}
	l.refused.CompareAndSwap(nil, newRateLog(l.log, "connection refused", logEvery))
	return l.refused.Load()
}

// refusal is the whole answer to a connection over the bounds: a client that speaks HTTP
// reads why, and when to try again.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\nRetry-After: 5\r\nContent-Length: 21\r\n\r\ntoo many connections\n"

// Accept returns the next connection within the bounds.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := l.take(c); lc != nil {
			return lc, nil
		}
	}
}

// take returns c counted, when it is within the bounds, or refuses and closes it and
// returns nil.
func (l *connLimiter) take(c net.Conn) *limitedConn {
	key := clientKey(c.RemoteAddr().String())
	lc, victim, reason := l.admit(c, key)
	if victim != nil {
		victim.Conn.Close() // its server goroutine sees the close and ends
		l.refusedLog().note(zap.String("remote", victim.RemoteAddr().String()),
			zap.String("reason", "connection closed for a client with fewer: the phone is at its limit of "+strconv.Itoa(l.max)))
	}
	if lc != nil {
		return lc
	}
	// A fresh socket's send buffer is empty: the write does not wait; the deadline is there
	// in case.
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write([]byte(refusal))
	c.Close()
	l.refusedLog().note(zap.String("remote", c.RemoteAddr().String()), zap.String("reason", reason))
	return nil
}

// admit decides on a new connection of client key: it returns the connection to serve, or
// the reason to refuse it; victim is a connection to close to make room (fair share).
func (l *connLimiter) admit(c net.Conn, key netip.Prefix) (lc, victim *limitedConn, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	own := len(l.clients[key])
	if own >= l.perClient {
		return nil, nil, "the client holds " + strconv.Itoa(own) + " connections, the limit per client"
	}
	if l.total >= l.max {
		// The victim is the oldest connection of a busiest client: of the oldest among
		// them when several hold as many (not the map's order).
		most := 0
		for _, cs := range l.clients {
			if len(cs) > most || (len(cs) == most && cs[0].seq < victim.seq) {
				victim, most = cs[0], len(cs)
			}
		}
		if most <= own+1 {
			return nil, nil, "the phone holds " + strconv.Itoa(l.total) + " connections, its limit"
		}
		l.removeLocked(victim)
	}
	l.admits++
	lc = &limitedConn{Conn: c, l: l, key: key, seq: l.admits}
	if l.clients == nil {
		l.clients = map[netip.Prefix][]*limitedConn{}
	}
	l.clients[key] = append(l.clients[key], lc)
	l.total++
	return lc, victim, ""
}

// removeLocked stops counting c; false if it was not counted any more.
func (l *connLimiter) removeLocked(c *limitedConn) bool {
	cs := l.clients[c.key]
	for i, x := range cs {
		if x == c {
			cs = append(cs[:i], cs[i+1:]...)
			if len(cs) == 0 {
				delete(l.clients, c.key)
			} else {
				l.clients[c.key] = cs
			}
			l.total--
			return true
		}
	}
	return false
}

// conns returns how many connections are held, in all and by the busiest client.
func (l *connLimiter) conns() (total, most int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, cs := range l.clients {
		most = max(most, len(cs))
	}
	return l.total, most
}

// limitedConn is a connection counted by its limiter until it is closed.
type limitedConn struct {
	net.Conn
	l   *connLimiter
	key netip.Prefix
	seq uint64 // its place in the order of admission
}

// Close closes the connection and frees its place.
func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	c.l.removeLocked(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// rateLog logs a refusal that may repeat without end (a connection over the bounds, a wrong
// password) as a rate: the first at once with its details, then at most one line per
// interval, with the details of the latest and the count since the line before.
type rateLog struct {
	log   *zap.Logger
	msg   string
	every time.Duration
	now   func() time.Time

	mu     sync.Mutex
	last   time.Time // guarded by mu: when the last line was written
	missed int       // guarded by mu: refusals since, not logged
}

func newRateLog(log *zap.Logger, msg string, every time.Duration) *rateLog {
	return &rateLog{log: log, msg: msg, every: every, now: time.Now}
}

// note counts one refusal and logs it when the interval has passed.
func (r *rateLog) note(fields ...zap.Field) {
	r.mu.Lock()
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		r.missed++
		r.mu.Unlock()
		return
	}
	missed, since := r.missed, now.Sub(r.last)
	first := r.last.IsZero()
	r.last, r.missed = now, 0
	r.mu.Unlock()
	if !first {
		fields = append(fields, zap.Int("more", missed), zap.Duration("in", since.Round(time.Second)))
	}
	r.log.Warn(r.msg, fields...)
}

// flush logs the count of the refusals not logged yet, if any.
func (r *rateLog) flush() {
	r.mu.Lock()
	missed, since := r.missed, r.now().Sub(r.last)
	r.missed = 0
	r.mu.Unlock()
	if missed > 0 {
		r.log.Warn(r.msg, zap.Int("more", missed), zap.Duration("in", since.Round(time.Second)))
	}
}

// CloseWrite half-closes the connection when it can, as net/http does after an error answer
// so that the client reads it before the close.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
