package sip

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// wire is where the agent's sockets report what crosses them: the counters and the trace.
type wire struct {
	counters *Counters
	totals   *Totals
	trace    bool
	log      *zap.Logger
}

func (w *wire) sent(local, remote net.Addr, b []byte) {
	w.counters.sent(len(b))
	w.totals.count(0, b)
	if w.trace && !isKeepAlive(b) {
		w.log.Info("sip sent", zap.String("local", addrString(local)), zap.String("remote", addrString(remote)),
			zap.Int("bytes", len(b)), zap.ByteString("message", b))
	}
}

func (w *wire) recv(local, remote net.Addr, b []byte) {
	w.counters.recv(len(b))
	w.totals.count(1, b)
	if w.trace && !isKeepAlive(b) {
		w.log.Info("sip received", zap.String("local", addrString(local)), zap.String("remote", addrString(remote)),
			zap.Int("bytes", len(b)), zap.ByteString("message", b))
	}
}

// isKeepAlive reports a CRLF keep-alive (RFC 5626 §3.5.1), which the trace leaves out.
func isKeepAlive(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// packetConn is the extension's UDP socket as sipgo sees it: every datagram is counted (and
// traced) here, so the counters are exact, retransmissions included.
type packetConn struct {
	net.PacketConn
	w *wire
}

// ReadFrom reads one datagram.
func (c *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if err == nil && n > 0 {
		c.w.recv(c.LocalAddr(), addr, b[:n])
	}
	return n, addr, err
}

// WriteTo sends one datagram.
func (c *packetConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(b, addr)
	if err == nil {
		c.w.sent(c.LocalAddr(), addr, b[:n])
	}
	return n, err
}

// streamConn is a TCP or TLS connection as sipgo sees it. Stream reads are not messages; the
// counters count bytes exactly and messages by the reads and writes that carry them (sipgo
// writes one message per Write). When reading it ends, its streams learns why, once.
type streamConn struct {
	net.Conn
	w      *wire
	s      *streams
	own    bool           // the agent opened it
	remote netip.AddrPort // the far end, unmapped
	ended  atomic.Bool
	once   sync.Once
	// served says sipgo reads it; released is closed when sipgo has closed it (its read
	// loop's end), relOnce guards that.
	served   atomic.Bool
	released chan struct{}
	relOnce  sync.Once
}

// Read reads from the stream.
func (c *streamConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.w.recv(c.LocalAddr(), c.RemoteAddr(), b[:n])
	}
	if err != nil {
		c.end(err)
	}
	return n, err
}

// Write writes to the stream.
func (c *streamConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.w.sent(c.LocalAddr(), c.RemoteAddr(), b[:n])
	}
	if err != nil {
		c.ended.Store(true) // the next request opens a new connection
	}
	return n, err
}

// Close closes the connection: sipgo's call, when its read loop ends or its pool is cleared.
func (c *streamConn) Close() error {
	c.relOnce.Do(func() { close(c.released) })
	return c.shut()
}

// shut closes the connection on the agent's side (streams.close), which sipgo's read loop
// then sees.
func (c *streamConn) shut() error {
	c.ended.Store(true)
	return c.Conn.Close()
}

func (c *streamConn) end(err error) {
	c.ended.Store(true)
	c.once.Do(func() {
		if c.s != nil {
			c.s.lost(c, err)
		}
	})
}

func (c *streamConn) dead() bool { return c.ended.Load() }
