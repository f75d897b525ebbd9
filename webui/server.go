package webui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// shutdownGrace is how long the server lets requests in flight finish when the phone goes
// down, before it closes their connections.
const shutdownGrace = 2 * time.Second

// Server is the embedded web server of one phone unit. Like the device's, it exists only
// while the phone runs: it listens when the phone has booted and closes when the phone
// shuts down, so that a rebooting phone answers nothing (DECISIONS 21). It honours
// Enable_Web_Server and Web_Server_Port at every boot (SPA-BEHAVIOUR §5.1).
type Server struct {
	// Immutable after NewServer.
	unit    *phone.Unit
	addr    string
	log     *zap.Logger
	handler *handler
	hub     *Hub           // nil: the server listens on a socket of its own
	errLog  *stdlog.Logger // net/http's errors, the same for every boot

	// Guarded by mu.
	mu      sync.Mutex
	port    string        // the port the system chose when addr asked for port 0; reused after
	last    string        // the address of the latest listener
	state   listenState   // what the server did for the latest boot
	changed chan struct{} // closed and replaced when state changes
	stopped bool          // serving has ended
	ln      *connLimiter  // the listener of the latest boot

	w *watch // set by Start
}

// listenState is what the server decided for one boot of the phone.
type listenState struct {
	boot    int    // the phone's boot_count
	settled bool   // the server decided: listening (addr) or not (reason)
	addr    string // "" when not listening
	reason  string // why not listening
}

// NewServer returns the web server of unit on addr (host:port; port 0 lets the system choose
// once, and the same port is used after every reboot). Nothing listens until [Server.Run].
//
// The server enforces opts.Limits (connections per phone and per client, read and write
// times, limits.go), and answers to the host of addr when it is a name, besides the names of
// guard.go.
func NewServer(unit *phone.Unit, addr string, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		opts.AllowHosts = append(slices.Clip(opts.AllowHosts), host)
	}
	h := newHandler(unit, opts)
	log := h.log // the handler's "webui" logger: one Named copy a phone, not two
	return &Server{
		unit: unit, addr: addr, log: log, handler: h,
		hub: opts.Hub, changed: make(chan struct{}), errLog: stdlog.New(httpErrors{log}, "", 0),
	}
}

// httpErrors writes net/http's error lines to the server's log as zap.NewStdLog's logger
// would ("webui.http", info, the line trimmed), but names that logger only when a line
// comes: made at NewServer, its two copies of the logger were some 250 bytes a phone of a
// fleet, and most phones never write one.
type httpErrors struct{ log *zap.Logger }

func (w httpErrors) Write(p []byte) (int, error) {
	// The caller skipped: Write, the log package's output and Printf, as zap.NewStdLog's.
	w.log.Named("http").WithOptions(zap.AddCallerSkip(3)).Info(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// Addr returns the address the server listens on, or listened on last; "" before it first
// listened.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// WaitListening waits until the server has settled for the phone's boot number boot or a
// later one, and returns the address it listens on. It returns an error wrapping
// [ErrNotListening] when the server does not listen on that boot (Enable_Web_Server is No),
// [ErrServerStopped] when Run has returned, or ctx's error.
func (s *Server) WaitListening(ctx context.Context, boot int) (string, error) {
	for {
		s.mu.Lock()
		st, ch, stopped := s.state, s.changed, s.stopped
		s.mu.Unlock()
		switch {
		case stopped:
			return "", ErrServerStopped
		case st.settled && st.boot >= boot && st.addr != "":
			return st.addr, nil
		case st.settled && st.boot >= boot:
			return "", fmt.Errorf("%w on boot %d: %s", ErrNotListening, st.boot, st.reason)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// conns returns how many connections the latest listener holds, in all and by its busiest
// client.
func (s *Server) conns() (total, most int) {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return 0, 0
	}
	return ln.conns()
}

// setState records what the server did and wakes the waiters.
func (s *Server) setState(st listenState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
	if st.addr != "" {
		s.last = st.addr
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Run serves the unit's web pages across its reboots until ctx ends: it listens when the
// phone has booted and stops listening when it shuts down. It returns nil when ctx ends, or
// an error when the very first listen fails (the address is taken or invalid); later
// failures are logged and the server stays down until the next boot. It is [Server.Start],
// waited for.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	s.Start(ctx, func(err error) { errc <- err })
	return <-errc
}

// Start serves as [Server.Run] does, without waiting: it returns at once, and calls ended
// once serving has ended, with what Run would return. Between a phone's boots and shutdowns
// it keeps no goroutine of its own: it watches the phone's bus ([phone.Bus.Watch]) and runs
// a goroutine only to act on a boot or a shutdown (on a hub, each connection is handed to
// the server, see [phoneListener]): a phone of a fleet held three goroutines idle, its loop,
// this watch and its accept, 9,000 of a fleet of 3,000.
func (s *Server) Start(ctx context.Context, ended func(error)) {
	wctx, stop := context.WithCancel(ctx)
	s.w = &watch{ctx: wctx, stop: stop, ended: ended, first: true, start: true}
	// Watch before reading where the phone stands (the first turn settles), so that no boot
	// or shutdown falls in between; one seen twice is harmless.
	unwatch := s.unit.Bus().Watch(func(e phone.Event) {
		if e.Kind == phone.EventBoot || e.Kind == phone.EventShutdown {
			kept := e // copied here: &e would move every event the phone publishes to the heap
			s.kick(&kept)
		}
	})
	context.AfterFunc(wctx, func() {
		unwatch()
		s.kick(nil)
	})
	s.kick(nil)
}

// watch is what Start keeps: the latest boot or shutdown not acted on yet, and whether a
// goroutine acts on it.
type watch struct {
	ctx   context.Context
	stop  context.CancelFunc
	ended func(error)

	mu      sync.Mutex
	latest  *phone.Event // guarded by mu: the newest boot or shutdown not acted on; nil: none
	start   bool         // guarded by mu: the first turn, which reads where the phone stands
	dirty   bool         // guarded by mu: something to act on
	working bool         // guarded by mu: a goroutine is acting
	done    bool         // guarded by mu: serving has ended

	// Only the acting goroutine reads and writes these (one at a time: working).
	g     *generation
	first bool // no listen has been tried yet: its failure ends serving
}

// kick notes e (a boot or a shutdown; nil: the context ended, or the start) and starts a
// goroutine to act on it unless one is acting: it runs inside the bus's Publish and must not
// wait. Boots and shutdowns that come faster than they are acted on are coalesced to the
// newest, which says where the phone stands.
func (s *Server) kick(e *phone.Event) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if e != nil {
		w.latest = e
	}
	w.dirty = true
	if !w.working {
		w.working = true
		go s.act()
	}
}

// act brings the server to where the phone stands, until nothing new is left to act on.
func (s *Server) act() {
	w := s.w
	for {
		w.mu.Lock()
		if !w.dirty {
			w.working = false
			w.mu.Unlock()
			return
		}
		e, start := w.latest, w.start
		w.latest, w.start, w.dirty = nil, false, false
		w.mu.Unlock()
		var err error
		switch {
		case w.ctx.Err() != nil:
		case start:
			err = s.settle()
		case e != nil && e.Kind == phone.EventBoot:
			err = s.up(bootCount(*e, s.unit))
		case e != nil:
			reason, _ := e.Data["reason"].(string)
			s.down(s.unit.Progress().BootCount, "phone shut down: "+reason)
		}
		if err != nil || w.ctx.Err() != nil {
			s.end(err)
			return
		}
	}
}

// end stops serving: the generation stops, Run's waiters and WaitListening learn it, and
// ended is called.
func (s *Server) end(err error) {
	w := s.w
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	w.stop()
	if w.g != nil {
		w.g.stop(s.log, "server stopped")
		w.g = nil
	}
	s.mu.Lock()
	s.stopped = true
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	w.ended(err)
}

// up listens for boot number boot, unless the server does already; an error only when the
// very first listen fails.
func (s *Server) up(boot int) error {
	w := s.w
	if w.g != nil {
		if w.g.boot == boot {
			return nil
		}
		w.g.stop(s.log, "phone rebooted")
		w.g = nil
	}
	var err error
	w.g, err = s.listen(w.ctx, boot)
	if err != nil && w.first {
		return err
	}
	w.first = false
	return nil
}

// down stops listening: the phone shut down.
func (s *Server) down(boot int, reason string) {
	w := s.w
	if w.g != nil {
		w.g.stop(s.log, reason)
		w.g = nil
	}
	s.setState(listenState{boot: boot})
}

// settle brings the server to where the phone stands, at the start.
func (s *Server) settle() error {
	if boot, running := phoneUp(s.unit, s.unit.Bus()); running {
		return s.up(boot)
	}
	if s.w.g != nil {
		s.down(s.unit.Progress().BootCount, "phone not running")
	}
	return nil
}

// phoneUp says whether the phone runs now, and its boot number: the latest boot or
// shutdown event kept on the bus, or else the status.
func phoneUp(u *phone.Unit, bus *phone.Bus) (boot int, running bool) {
	hist := bus.Since(0)
	for i := len(hist) - 1; i >= 0; i-- {
		switch e := hist[i]; e.Kind {
		case phone.EventBoot:
			return bootCount(e, u), true
		case phone.EventShutdown:
			return 0, false
		}
	}
	// Its Progress, not its Status: a fleet's web servers start beside phones that have not
	// booted, and the status of each (its booting view, 1.5 KB) was built for this alone.
	pr := u.Progress()
	return pr.BootCount, pr.State != phone.StateBooting && pr.State != phone.StateStopped
}

func bootCount(e phone.Event, u *phone.Unit) int {
	if n, ok := e.Data["boot_count"].(int); ok {
		return n
	}
	return u.Status().BootCount
}

// generation is the server of one boot: a listener and an http.Server.
type generation struct {
	boot   int
	srv    *http.Server
	ln     *connLimiter
	h      *handler
	cancel context.CancelFunc // ends the requests of this generation (event streams)
	done   chan struct{}      // Serve returned (closed at once when pushed)
	// pushed: the listener is a share of a hub's, which hands each connection to
	// serveConn; no Serve runs on it.
	pushed bool
}

// serveConn serves one connection the hub handed over, within the phone's limits, on the
// generation's http.Server: Serve on a listener of that one connection starts the
// connection's own goroutine, as Serve on the phone's listener would, and returns at once.
// A server shutting down refuses it, and it is reset.
func (g *generation) serveConn(c net.Conn) {
	lc := g.ln.take(c)
	if lc == nil {
		return
	}
	one := &oneConnListener{c: lc, addr: g.ln.Addr()}
	g.srv.Serve(one) // always an error: errServedOne once the connection is taken
	if !one.taken {
		if tc, ok := lc.Conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // reset, as a connection to no phone is
		}
		lc.Close()
	}
}

// oneConnListener is a listener of one connection: Accept returns it, then errServedOne.
type oneConnListener struct {
	c     net.Conn
	addr  net.Addr
	taken bool // Accept returned c; only Serve's goroutine reads and writes it
}

// errServedOne ends an http.Server's Serve on a oneConnListener: the connection is served.
var errServedOne = errors.New("webui: the one connection was accepted")

func (l *oneConnListener) Accept() (net.Conn, error) {
	if l.taken {
		return nil, errServedOne
	}
	l.taken = true
	return l.c, nil
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.addr }

// listen starts the server for boot number boot, as the configuration of that boot says.
func (s *Server) listen(ctx context.Context, boot int) (*generation, error) {
	snap := s.unit.Config() // the status's Config, without building a status (10,000 phones boot at once)
	if snap != nil && !snap.Bool(config.EnableWebServer) {
		reason := "Enable_Web_Server is No"
		s.log.Info("web server disabled", zap.Int("boot_count", boot), zap.String("reason", reason))
		s.setState(listenState{boot: boot, settled: true, reason: reason})
		return nil, nil
	}
	addr, fromFlag, err := s.listenAddr(snap)
	if err == nil {
		var ln net.Listener
		if s.hub != nil {
			ln, err = s.hub.listen(ctx, addr)
		} else {
			ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		}
		if err == nil {
			return s.serve(ln, boot, fromFlag), nil
		}
	}
	var shared *sharedListenError
	err = fmt.Errorf("web server listen %s: %w", addr, err)
	if !errors.As(err, &shared) { // the hub logs a shared listener's failure once for all its phones
		s.log.Error("web server not listening", zap.Int("boot_count", boot), zap.Error(err))
	}
	s.setState(listenState{boot: boot, settled: true, reason: err.Error()})
	return nil, err
}

// listenAddr is where this boot listens: the host and port of the server's address, unless
// Web_Server_Port was changed from its default, then that port on the same host
// (SPA-BEHAVIOUR §5.1). fromFlag says whether the port is the address's own.
func (s *Server) listenAddr(snap *config.Snapshot) (addr string, fromFlag bool, err error) {
	host, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		return s.addr, true, err
	}
	if snap != nil {
		if p, ok := snap.Catalog().Lookup(config.WebServerPort); ok {
			if v := snap.Get(config.WebServerPort); v != p.Default {
				if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
					return net.JoinHostPort(host, v), false, nil
				}
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if port == "0" && s.port != "" {
		port = s.port
	}
	return net.JoinHostPort(host, port), true, nil
}

// serve runs an http.Server on ln for one boot.
func (s *Server) serve(ln net.Listener, boot int, fromFlag bool) *generation {
	addr := ln.Addr().String()
	if fromFlag {
		if _, port, err := net.SplitHostPort(addr); err == nil {
			s.mu.Lock()
			if s.port == "" {
				s.port = port
			}
			s.mu.Unlock()
		}
	}
	gctx, cancel := context.WithCancel(context.Background())
	lim := s.handler.limits
	g := &generation{boot: boot, cancel: cancel, done: make(chan struct{}), h: s.handler,
		ln: newConnLimiter(ln, lim, s.log)}
	g.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return gctx },
		ErrorLog:          s.errLog,
		Protocols:         http1Only(),
	}
	s.mu.Lock()
	s.ln = g.ln
	s.mu.Unlock()
	if pl, ok := ln.(*phoneListener); ok {
		// A share of a hub's listener: each connection is served as the hub hands it over,
		// with no goroutine of this phone's waiting for the next.
		g.pushed = true
		close(g.done)
		pl.handTo(g.serveConn)
	} else {
		go func() {
			defer close(g.done)
			if err := g.srv.Serve(g.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("web server ended", zap.Error(err))
			}
		}()
	}
	s.log.Info("web server listening", zap.String("addr", addr), zap.Int("boot_count", boot))
	s.setState(listenState{boot: boot, settled: true, addr: addr})
	return g
}

// http1Only is the protocols of a phone's web server: HTTP/1.x, as the device's (there is no
// TLS to negotiate HTTP/2 on); net/http then skips setting its HTTP/2 server up at every boot's
// first Serve (a tenth of what a boot's web server start allocated).
func http1Only() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	return &p
}

// stop closes the listener, ends the event streams, lets other requests finish for a
// moment, then closes what is left.
func (g *generation) stop(log *zap.Logger, reason string) {
	g.cancel()
	if g.pushed {
		g.ln.Close() // no Serve holds it for Shutdown to close: no connection comes after
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := g.srv.Shutdown(ctx); err != nil {
		g.srv.Close()
	}
	<-g.done
	if r := g.ln.refused.Load(); r != nil {
		r.flush()
	}
	g.h.flushLogs()
	log.Info("web server stopped", zap.Int("boot_count", g.boot), zap.String("reason", reason))
}
