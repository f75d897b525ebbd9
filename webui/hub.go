package webui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Hub is what the web servers of a fleet's phones share (issue 13): one listening socket per
// port instead of one per phone, and one route table instead of one per phone.
//
// A phone's web server still behaves as its own: it listens when its phone has booted and
// stops when it shuts down, on its own address and Web_Server_Port (SPA-BEHAVIOUR §5.1,
// DECISIONS 21), with its own limits, credentials and Host check. What it shares is the
// socket: the hub listens once per port on the wildcard address of the phones' family
// (0.0.0.0, or [::] for IPv6 phones) and hands every accepted connection to the phone whose
// address is the connection's local address, the address the client connected to. A
// connection to an address that is no phone's (a phone that is off or rebooting, one whose
// web server is disabled, an address of the machine that is no phone's) is reset at once: the
// client reads "connection reset" where a phone of its own would have refused the
// connection; it never reaches another phone's pages.
//
// Why the wildcard address: Linux has no bind to a range of addresses, and a fleet's phones
// are a range (127.x.y.z on loopback, container or pod addresses), so the wildcard is the
// one socket that receives them all; the kernel's own routing says which address each
// connection was for. Its price: nothing else on the machine may listen on that port on any
// address while the fleet does. When the port is already taken on some address (another
// fleet on the same port, a single phone), the wildcard cannot be bound, and the phones of
// that port listen each on its own address as before (logged once): a fleet that worked
// without the hub works with it.
//
// A phone whose address is a host name or a wildcard address listens on its own socket, as
// a single phone does.
//
// The phones' web servers serve plain HTTP only (the device's HTTPS is not emulated), so
// there is no TLS to share.
type Hub struct {
	log    *zap.Logger
	routes *routeTable                                                           // built once, served for every phone of the hub
	bind   func(ctx context.Context, network, addr string) (net.Listener, error) // binds a shared listener; tests fail it

	mu      sync.Mutex
	ports   map[portKey]*portListener // guarded by mu: the shared listeners in use
	failing map[portKey]string        // guarded by mu: ports whose bind failure was logged, until one binds
	unique  map[portKey]bool          // guarded by mu: ports logged as not shareable
}

// portKey names a shared listener: the family of its phones' addresses and its port.
type portKey struct {
	v6   bool
	port uint16
}

func (k portKey) String() string {
	if k.v6 {
		return "[::]:" + strconv.Itoa(int(k.port))
	}
	return "0.0.0.0:" + strconv.Itoa(int(k.port))
}

// NewHub returns a hub for the web servers of one fleet ([Options.Hub]). log receives what
// concerns the shared listeners (a port that cannot be bound, connections to no phone), one
// line per decision; nil discards.
func NewHub(log *zap.Logger) *Hub {
	if log == nil {
		log = zap.NewNop()
	}
	return &Hub{log: log.Named("webui"), routes: newRouteTable(), bind: (&net.ListenConfig{}).Listen,
		ports: map[portKey]*portListener{}, failing: map[portKey]string{}, unique: map[portKey]bool{}}
}

// Listeners returns how many listening sockets the web servers of phones at addrs (host:port)
// hold with a hub: one per port their IP addresses share (one for IPv4, one for IPv6), one for
// each phone that listens on its own (a host name, a wildcard address, port 0). What a fleet
// budgets against its open file limit; a port the hub finds taken costs one per phone.
func Listeners(addrs []string) int {
	n := 0
	ports := map[portKey]bool{}
	for _, addr := range addrs {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || ap.Addr().IsUnspecified() || ap.Addr().Zone() != "" || ap.Port() == 0 {
			n++
			continue
		}
		ports[portKey{v6: ap.Addr().Unmap().Is6(), port: ap.Port()}] = true
	}
	return n + len(ports)
}

// sharedListenError is a shared listener that could not be bound: every phone of its port
// gets it, and the hub has logged it once for all of them.
type sharedListenError struct {
	addr string // the shared listener's address
	err  error
}

func (e *sharedListenError) Error() string {
	return "shared web listener " + e.addr + ": " + e.err.Error()
}

func (e *sharedListenError) Unwrap() error { return e.err }

// listen returns the listener of the phone at addr (host:port): its share of the port's
// shared listener, made now when the port has none; or a listener of its own when addr is
// not an IP address, is a wildcard, or its port cannot be shared.
func (hb *Hub) listen(ctx context.Context, addr string) (net.Listener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Addr().IsUnspecified() || ap.Addr().Zone() != "" {
		return (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	}
	ip := ap.Addr().Unmap()
	key := portKey{v6: ip.Is6(), port: ap.Port()}
	hb.mu.Lock()
	defer hb.mu.Unlock()
	pl := hb.ports[key]
	if pl == nil || key.port == 0 {
		pl, err = hb.bindLocked(ctx, key)
		if errors.Is(err, syscall.EADDRINUSE) && key.port != 0 {
			// Taken on some address by someone else: this phone listens on its own.
			if !hb.unique[key] {
				hb.unique[key] = true
				hb.log.Warn("web listener not shared", zap.String("addr", key.String()), zap.Error(err),
					zap.String("reason", "the port is in use on another address: each phone of the port listens on its own address"))
			}
			return (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		}
		if err != nil {
			err = &sharedListenError{addr: key.String(), err: err}
			if hb.failing[key] != err.Error() {
				hb.failing[key] = err.Error()
				hb.log.Error("web listener failed", zap.String("addr", key.String()), zap.Error(err),
					zap.String("reason", "every phone on this port fails to serve its pages"))
			}
			return nil, err
		}
		delete(hb.failing, key)
	}
	l, err := pl.attachLocked(ip)
	if err != nil && len(pl.phones) == 0 {
		pl.closeLocked()
	}
	return l, err
}

// bindLocked binds the shared listener of key and starts accepting on it. Port 0 lets the
// system choose; the listener is kept under the port chosen.
func (hb *Hub) bindLocked(ctx context.Context, key portKey) (*portListener, error) {
	network, host := "tcp4", "0.0.0.0"
	if key.v6 {
		network, host = "tcp6", "::"
	}
	ln, err := hb.bind(ctx, network, net.JoinHostPort(host, strconv.Itoa(int(key.port))))
	if err != nil {
		return nil, err
	}
	key.port = uint16(ln.Addr().(*net.TCPAddr).Port)
	pl := &portListener{hub: hb, key: key, ln: ln, phones: map[netip.Addr]*phoneListener{},
		stray: newRateLog(hb.log, "connection reset", logEvery), failed: newRateLog(hb.log, "accept failed", logEvery)}
	hb.ports[key] = pl
	hb.log.Info("web listener shared", zap.String("addr", ln.Addr().String()))
	go pl.serve()
	return pl, nil
}

// portListener is one shared listener and the phones listening on it.
type portListener struct {
	hub    *Hub
	key    portKey
	ln     net.Listener
	phones map[netip.Addr]*phoneListener // guarded by hub.mu; by local address
	stray  *rateLog                      // connections to no phone's address
	failed *rateLog                      // accept errors (too many open files)
}

// attachLocked adds the phone at ip; an address already served is in use.
func (pl *portListener) attachLocked(ip netip.Addr) (*phoneListener, error) {
	if _, taken := pl.phones[ip]; taken {
		return nil, fmt.Errorf("listen tcp %s: %w", netip.AddrPortFrom(ip, pl.key.port), syscall.EADDRINUSE)
	}
	l := &phoneListener{pl: pl, ip: ip, addr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, pl.key.port)),
		ready: make(chan struct{}, 1), done: make(chan struct{})}
	pl.phones[ip] = l
	return l, nil
}

// closeLocked closes the shared listener: its last phone has gone.
func (pl *portListener) closeLocked() {
	if pl.hub.ports[pl.key] == pl {
		delete(pl.hub.ports, pl.key)
	}
	pl.ln.Close()
	pl.hub.log.Info("web listener closed", zap.String("addr", pl.ln.Addr().String()), zap.String("reason", "no phone listens on it"))
}

// serve accepts the listener's connections and hands each to its phone until the listener
// is closed. Accept errors that pass (too many open files) are retried after a pause, as
// net/http does, and logged at most once per logEvery.
func (pl *portListener) serve() {
	var pause time.Duration
	for {
		c, err := pl.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				pl.stray.flush()
				pl.failed.flush()
				return
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			pl.failed.note(zap.String("addr", pl.key.String()), zap.Error(err), zap.Duration("retry_in", pause))
			time.Sleep(pause)
			continue
		}
		pause = 0
		pl.dispatch(c)
	}
}

// dispatch hands c to the phone whose address c was made to, or resets it.
func (pl *portListener) dispatch(c net.Conn) {
	var local netip.Addr
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		local = a.AddrPort().Addr().Unmap()
	}
	pl.hub.mu.Lock()
	l := pl.phones[local]
	ok, serve := false, (func(net.Conn))(nil)
	if l != nil {
		ok, serve = l.deliver(c)
	}
	pl.hub.mu.Unlock()
	if serve != nil {
		serve(c) // the phone's server takes it here, without an accepting goroutine of its own
		return
	}
	if ok {
		return
	}
	reason := "no phone serves this address"
	if l != nil {
		reason = "the phone's queue of new connections is full"
	}
	reset(c)
	pl.stray.note(zap.String("local", c.LocalAddr().String()), zap.String("remote", c.RemoteAddr().String()),
		zap.String("reason", reason))
}

// reset closes c with a reset, not an orderly close: the client learns at once that nothing
// serves it, as from a refused connection.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// phoneBacklog bounds the connections a phone's share holds that its server has not taken
// yet (the kernel's backlog of a listener of its own): its server takes them as fast as it
// starts a goroutine each, and its limits (Limits.MaxConns) refuse what is beyond.
const phoneBacklog = DefaultMaxConns

// phoneListener is one phone's share of a shared listener: a net.Listener whose Accept
// returns the connections made to the phone's address, or, once its server has handed it a
// function ([phoneListener.handTo]), one that gives each connection to that function on
// the shared listener's goroutine: a phone of a fleet then keeps no goroutine waiting in
// Accept (3,000 of a fleet's 9,000 goroutines). Closing it leaves the shared listener, which
// closes when its last phone has left.
type phoneListener struct {
	pl    *portListener
	ip    netip.Addr
	addr  *net.TCPAddr
	ready chan struct{} // a connection was queued; capacity 1
	done  chan struct{} // closed by Close

	mu      sync.Mutex
	pending []net.Conn     // guarded by mu: delivered, not accepted yet
	serve   func(net.Conn) // guarded by mu: takes each connection instead of Accept
	closed  bool           // guarded by mu
}

// deliver queues c for the phone's server, or returns the function that serves it (to be
// called without the hub's lock); false and nil when the listener is closed or its queue is
// full.
func (l *phoneListener) deliver(c net.Conn) (bool, func(net.Conn)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false, nil
	}
	if l.serve != nil {
		return true, l.serve
	}
	if len(l.pending) >= phoneBacklog {
		return false, nil
	}
	l.pending = append(l.pending, c)
	select {
	case l.ready <- struct{}{}:
	default: // a wake-up is pending already
	}
	return true, nil
}

// handTo makes serve take every connection from now on, and those queued already; Accept
// is not to be called after. serve runs on the shared listener's goroutine: it must not
// wait.
func (l *phoneListener) handTo(serve func(net.Conn)) {
	l.mu.Lock()
	pending := l.pending
	l.pending, l.serve = nil, serve
	l.mu.Unlock()
	for _, c := range pending {
		serve(c)
	}
}

// Accept returns the next connection made to the phone's address, or net.ErrClosed once the
// listener is closed.
func (l *phoneListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, net.ErrClosed
		}
		if len(l.pending) > 0 {
			c := l.pending[0]
			l.pending[0] = nil
			l.pending = l.pending[1:]
			if len(l.pending) == 0 {
				l.pending = nil // an idle phone holds no queue
			}
			l.mu.Unlock()
			return c, nil
		}
		l.mu.Unlock()
		select {
		case <-l.ready:
		case <-l.done:
		}
	}
}

// Close leaves the shared listener (closing it when no phone is left on it) and resets the
// connections not accepted yet. Connections accepted before stay with their server.
func (l *phoneListener) Close() error {
	hb := l.pl.hub
	hb.mu.Lock()
	if l.pl.phones[l.ip] == l {
		delete(l.pl.phones, l.ip)
		if len(l.pl.phones) == 0 {
			l.pl.closeLocked()
		}
	}
	hb.mu.Unlock()
	l.mu.Lock()
	was := l.closed
	l.closed = true
	pending := l.pending
	l.pending = nil
	l.mu.Unlock()
	if was {
		return nil
	}
	close(l.done)
	for _, c := range pending {
		reset(c)
	}
	return nil
}

// Addr returns the phone's address and the shared port.
func (l *phoneListener) Addr() net.Addr { return l.addr }
