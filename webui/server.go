package webui

import (
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

// serverQueue is the server's queue of phone events: it acts on boots and shutdowns only, and
// a server that falls behind catches up from the bus's history; a fleet has one per phone.
const serverQueue = 8

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
	stopped bool          // Run has returned
	ln      *connLimiter  // the listener of the latest boot
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
	log := opts.Logger.Named("webui")
	return &Server{
		unit: unit, addr: addr, log: log, handler: newHandler(unit, opts),
		hub: opts.Hub, changed: make(chan struct{}), errLog: zap.NewStdLog(log.Named("http")),
	}
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
// failures are logged and the server stays down until the next boot.
func (s *Server) Run(ctx context.Context) error {
	defer func() {
		s.mu.Lock()
		s.stopped = true
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}()
	bus := s.unit.Bus()
	// Subscribe before reading where the phone stands, so that no boot or shutdown falls in
	// between; one seen twice is harmless.
	events := bus.SubscribeQueue(ctx, 0, serverQueue)
	var g *generation
	defer func() {
		if g != nil {
			g.stop(s.log, "server stopped")
		}
	}()
	first := true
	up := func(boot int) error {
		if g != nil {
			if g.boot == boot {
				return nil
			}
			g.stop(s.log, "phone rebooted")
			g = nil
		}
		var err error
		g, err = s.listen(ctx, boot)
		if err != nil && first {
			return err
		}
		first = false
		return nil
	}
	down := func(boot int, reason string) {
		if g != nil {
			g.stop(s.log, reason)
			g = nil
		}
		s.setState(listenState{boot: boot})
	}

	// settle brings the server to where the phone stands: at the start, and whenever the
	// server fell behind the bus. Catching up from the ring instead lost a boot: one that
	// came before the first event the server read (a resubscription after nothing replays
	// nothing), or one the ring had already let go of (a fleet keeps a short history), and
	// the phone never served its pages.
	settle := func() error {
		if boot, running := phoneUp(s.unit, bus); running {
			return up(boot)
		}
		if g != nil {
			down(s.unit.Progress().BootCount, "phone not running")
		}
		return nil
	}
	if err := settle(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				// Fell behind the bus: subscribe again, then read where the phone
				// stands, in that order, as at the start.
				events = bus.SubscribeQueue(ctx, 0, serverQueue)
				if err := settle(); err != nil {
					return err
				}
				continue
			}
			switch e.Kind {
			case phone.EventBoot:
				if err := up(bootCount(e, s.unit)); err != nil {
					return err
				}
			case phone.EventShutdown:
				reason, _ := e.Data["reason"].(string)
				down(s.unit.Progress().BootCount, "phone shut down: "+reason)
			}
		}
	}
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
	st := u.Status()
	return st.BootCount, st.State != phone.StateBooting && st.State != phone.StateStopped
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
	done   chan struct{}      // Serve returned
}

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
	go func() {
		defer close(g.done)
		if err := g.srv.Serve(g.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("web server ended", zap.Error(err))
		}
	}()
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
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := g.srv.Shutdown(ctx); err != nil {
		g.srv.Close()
	}
	<-g.done
	g.ln.refused.flush()
	g.h.flushLogs()
	log.Info("web server stopped", zap.Int("boot_count", g.boot), zap.String("reason", reason))
}
