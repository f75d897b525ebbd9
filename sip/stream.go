package sip

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"go.uber.org/zap"
)

// SIP over TCP and TLS (SPA-BEHAVIOUR §8.5 SIP_Transport_n_; RFC 3261 §18).
//
// An extension on TCP or TLS listens on IP:SIP_Port_n_ for the connections others open to it
// (a proxy that does not reuse the phone's connection opens one to the Contact), and opens its
// own connections to where its requests go, from a source port in SIP_TCP_Port_Min..Max
// (SPA-BEHAVIOUR §8.2), one per destination, reused by every later request to it: the
// registration's refreshes, the calls' requests, the keep-alives (RFC 3261 §18.1.1, RFC 5923
// §4). Requests that arrive on a connection the phone opened are served as those that arrive
// on the listener: sipgo reads both alike, because both reach it through [streams], one
// net.Listener of the agent's that yields the accepted connections and the agent's own.
// Every connection is wrapped so that the counters and the trace see what crosses it, and so
// that the agent learns when the far end drops one: when it is the connection of the
// registration, the agent reports [ConnectionLost] and the phone registers again at once
// (which opens a new connection), so that the proxy can reach the phone again.

// ConnectionLost says the far end closed (or broke) the TCP or TLS connection the extension's
// registration went over: until the phone registers again a proxy that reuses connections
// cannot reach it.
type ConnectionLost struct {
	// Remote is the far end of the connection; Err why reading it ended.
	Remote netip.AddrPort
	Err    error
}

func (*ConnectionLost) sipEvent() {}

// streams is the TCP or TLS side of an agent: the listener on IP:Port, the connections the
// agent opens, and the one net.Listener through which sipgo takes both.
type streams struct {
	a      *Agent
	tls    bool
	ln     net.Listener // the TCP listener on IP:Port
	srvTLS *tls.Config  // accepted TLS connections: the phone's certificate
	cliTLS *tls.Config  // TLS connections the phone opens: trust and server name

	handoff chan handoff  // connections the agent opened, for sipgo to take
	prev    chan struct{} // the last one taken; only ownListener.Accept uses it
	done    chan struct{}
	once    sync.Once

	mu      sync.Mutex
	live    map[netip.AddrPort]*streamConn // by remote address
	dialing map[netip.AddrPort]*dialing
	next    int // the next source port to try, as an offset in the range
}

// handoff is a connection on its way to sipgo; taken is closed once sipgo has it in its pool.
type handoff struct {
	c     *streamConn
	taken chan struct{}
}

// dialing is a connection being opened; waiters wait for done.
type dialing struct {
	done chan struct{}
	err  error
}

// newStreams binds the TCP listener on IP:port (port 0: any, and the UDP one's port when the
// agent has one).
func newStreams(a *Agent, ip netip.Addr, port int) (*streams, error) {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
	if err != nil {
		return nil, err
	}
	s := &streams{a: a, tls: a.cfg.Transport == TransportTLS, ln: ln,
		handoff: make(chan handoff), done: make(chan struct{}),
		live: map[netip.AddrPort]*streamConn{}, dialing: map[netip.AddrPort]*dialing{}}
	if s.tls {
		if s.srvTLS, err = serverTLS(a.cfg, ip); err != nil {
			ln.Close()
			return nil, err
		}
		s.cliTLS = clientTLS(a.cfg)
	}
	return s, nil
}

// clientTLS is the configuration of the TLS connections the phone opens. The SPA942 5.1
// sources say nothing of SIP over TLS trust (SPA-BEHAVIOUR §7.4 covers HTTPS provisioning:
// the unit trusts its vendor's CA only and checks the name). Decision: the proxy's certificate
// must chain to the phone's trust anchors (Config.TLS.RootCAs: the CA bundle the phone is
// given for HTTPS, else the host's) and name the proxy's domain, as a modern client does and
// as the device does for HTTPS; Config.TLSInsecure accepts any certificate, for labs with a
// self-signed PBX. TLS 1.2 at least (§7.4: "a modern emulator will simply use TLS 1.2").
func clientTLS(cfg Config) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		c = cfg.TLS.Clone()
		if c.MinVersion == 0 {
			c.MinVersion = tls.VersionTLS12
		}
	}
	if cfg.TLSInsecure {
		c.InsecureSkipVerify = true //nolint:gosec // the lab switch, off by default
	}
	return c
}

// serverTLS is the configuration of the TLS connections others open to the phone: its
// certificate is Config.TLSCertificate (the phone passes its device certificate when it has
// one), else a self-signed one made now for the phone's address. The phone asks no
// certificate of the peer: a proxy that connects to it is checked at the SIP layer (digest on
// the requests that need it), as the device checks a NOTIFY's sender.
func serverTLS(cfg Config, ip netip.Addr) (*tls.Config, error) {
	if cfg.TLSCertificate != nil {
		return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cfg.TLSCertificate}}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: ip.String()},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{ip.AsSlice()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, nil
}

// serve hands both kinds of connection to sipgo until the agent closes; it returns the
// listener's error.
func (s *streams) serve(srv *sipgo.Server) error {
	serve := srv.ServeTCP
	if s.tls {
		serve = srv.ServeTLS
	}
	own := make(chan error, 1)
	go func() { own <- serve(ownListener{s}) }()
	err := serve(acceptListener{s})
	s.close()
	<-own
	return err
}

// close stops both listeners and closes every connection.
func (s *streams) close() {
	s.once.Do(func() {
		close(s.done)
		s.ln.Close()
		s.mu.Lock()
		live := s.live
		s.live = map[netip.AddrPort]*streamConn{}
		s.mu.Unlock()
		for _, c := range live {
			c.shut()
		}
		// sipgo's read loops end on the closed connections and drop them from its pool; its
		// transport layer's close, after this, must find them gone: its close of a connection
		// whose read loop has yet to end zeroes its reference count, and the loop's own
		// release then drives it below zero ("TCP ref went negative"). Bounded: a loop that
		// never gets to it does not hold the agent's Close.
		t := time.NewTimer(closeGrace)
		defer t.Stop()
		for _, c := range live {
			if !c.served.Load() {
				continue
			}
			select {
			case <-c.released:
			case <-t.C:
				return
			}
		}
	})
}

// acceptListener is the TCP listener as sipgo sees it: every connection wrapped (and, for
// TLS, its server side started).
type acceptListener struct{ s *streams }

func (l acceptListener) Accept() (net.Conn, error) {
	c, err := l.s.ln.Accept()
	if err != nil {
		return nil, err
	}
	var nc net.Conn = c
	if l.s.tls {
		nc = tls.Server(c, l.s.srvTLS)
	}
	sc := l.s.track(nc, false)
	sc.served.Store(true)
	return sc, nil
}

func (l acceptListener) Close() error   { return l.s.ln.Close() }
func (l acceptListener) Addr() net.Addr { return l.s.ln.Addr() }

// ownListener yields the connections the agent opened. sipgo takes one per Accept and puts
// it in its pool before it calls Accept again: the next call is the signal that the
// previous connection is ready for requests.
type ownListener struct{ s *streams }

func (l ownListener) Accept() (net.Conn, error) {
	if l.s.prev != nil {
		close(l.s.prev) // sipgo came back: the previous connection is in its pool
		l.s.prev = nil
	}
	select {
	case h := <-l.s.handoff:
		l.s.prev = h.taken
		h.c.served.Store(true)
		return h.c, nil
	case <-l.s.done:
		return nil, net.ErrClosed
	}
}

func (l ownListener) Close() error   { return nil }
func (l ownListener) Addr() net.Addr { return l.s.ln.Addr() }

func (s *streams) network() string {
	if s.tls {
		return "tls"
	}
	return "tcp"
}

// track wraps a connection and keeps it as the live one to its remote address.
func (s *streams) track(c net.Conn, own bool) *streamConn {
	sc := &streamConn{Conn: c, w: s.a.wire, s: s, own: own, released: make(chan struct{})}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		sc.remote = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		s.mu.Lock()
		s.live[sc.remote] = sc
		s.mu.Unlock()
	}
	return sc
}

// lost is called once when reading c ends.
func (s *streams) lost(c *streamConn, err error) {
	s.mu.Lock()
	if s.live[c.remote] == c {
		delete(s.live, c.remote)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return // the agent is closing its connections
	default:
	}
	if errors.Is(err, net.ErrClosed) {
		return // closed on this side (sipgo's idle close)
	}
	if s.a.regServer() == c.remote {
		s.a.emit(&ConnectionLost{Remote: c.remote, Err: err})
	}
}

// connect makes sure a connection to dest is open and in sipgo's pool, opening one when
// there is none; concurrent callers for the same destination share one attempt.
func (s *streams) connect(ctx context.Context, dest netip.AddrPort, serverName string) error {
	dest = netip.AddrPortFrom(dest.Addr().Unmap(), dest.Port())
	for {
		s.mu.Lock()
		if c := s.live[dest]; c != nil && !c.dead() {
			s.mu.Unlock()
			return nil
		}
		if d := s.dialing[dest]; d != nil {
			s.mu.Unlock()
			select {
			case <-d.done:
				if d.err != nil {
					return d.err
				}
				continue
			case <-ctx.Done():
				return ctx.Err()
			case <-s.done:
				return ErrClosed
			}
		}
		d := &dialing{done: make(chan struct{})}
		s.dialing[dest] = d
		s.mu.Unlock()
		d.err = s.dial(ctx, dest, serverName)
		s.mu.Lock()
		delete(s.dialing, dest)
		s.mu.Unlock()
		close(d.done)
		return d.err
	}
}

// dial opens a connection to dest (TLS: and completes the handshake) and hands it to sipgo.
func (s *streams) dial(ctx context.Context, dest netip.AddrPort, serverName string) error {
	raw, err := s.dialFromRange(ctx, dest)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", dest, err)
	}
	var c net.Conn = raw
	if s.tls {
		conf := s.cliTLS
		if conf.ServerName == "" {
			conf = conf.Clone()
			conf.ServerName = serverName
		}
		tc := tls.Client(raw, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return fmt.Errorf("TLS to %s: %w", dest, err)
		}
		c = tc
	}
	sc := s.track(c, true)
	h := handoff{c: sc, taken: make(chan struct{})}
	select {
	case s.handoff <- h:
	case <-s.done:
		c.Close()
		return ErrClosed
	}
	select {
	case <-h.taken:
		return nil
	case <-s.done:
		return ErrClosed
	}
}

// dialFromRange connects from a source port of SIP_TCP_Port_Min..Max (SPA-BEHAVIOUR §8.2),
// the next free one in turn (reuseAddr: a port is shared by connections to different
// destinations). When every port of the range is taken (by listeners: the phone's own
// extensions are in it with the factory values) it lets the system choose, and says so at debug level: a phone that
// cannot reach its proxy at all would be worse than one on another port.
func (s *streams) dialFromRange(ctx context.Context, dest netip.AddrPort) (net.Conn, error) {
	lo, hi := s.a.cfg.TCPPortMin, s.a.cfg.TCPPortMax
	ip := s.a.cfg.IP
	if lo > 0 && hi >= lo && hi <= 65535 {
		n := hi - lo + 1
		s.mu.Lock()
		start := s.next
		s.next = (s.next + 1) % n
		s.mu.Unlock()
		for i := range n {
			port := lo + (start+i)%n
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))), Control: reuseAddr}
			c, err := d.DialContext(ctx, "tcp", dest.String())
			if err == nil {
				s.mu.Lock()
				s.next = (start + i + 1) % n
				s.mu.Unlock()
				return c, nil
			}
			if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EADDRNOTAVAIL) {
				return nil, err
			}
		}
		s.a.log.Debug("TCP source port range in use, the system chooses", zap.Int("min", lo), zap.Int("max", hi))
	}
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))}
	return d.DialContext(ctx, "tcp", dest.String())
}

// write sends raw bytes (a keep-alive that is not a request) on the connection to dest.
func (s *streams) write(ctx context.Context, dest netip.AddrPort, serverName string, b []byte) error {
	if err := s.connect(ctx, dest, serverName); err != nil {
		return err
	}
	s.mu.Lock()
	c := s.live[netip.AddrPortFrom(dest.Addr().Unmap(), dest.Port())]
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("connection to %s: %w", dest, io.ErrClosedPipe)
	}
	_, err := c.Write(b)
	return err
}

// conns returns how many connections are live (for tests).
func (s *streams) conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}
