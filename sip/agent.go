package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// Agent is the SIP user agent of one extension: its socket on IP:SIP_Port_n_, its
// registration dialog, and the request handlers that answer the network. Build it with
// [NewAgent], serve with [Agent.Run], stop with [Agent.Close].
type Agent struct {
	// Immutable after NewAgent.
	cfg      Config
	log      *zap.Logger
	conn     *packetConn // UDP; nil on TCP and TLS
	streams  *streams    // TCP and TLS; nil on UDP
	wire     *wire
	laddr    sipmsg.Addr    // the bound address, as sipgo names connections
	local    netip.AddrPort // the same, as the phone sees it
	proxy    proxySpec      // Proxy_n_
	proxyErr error          // why Proxy_n_ cannot be read
	hasProxy bool
	outbound *proxySpec // Outbound_Proxy_n_, when used; nil: none
	res      resolver
	// nonceKey signs the nonces of the agent's own challenges, made at the first (key): most
	// extensions never challenge.
	nonceKey atomic.Pointer[[32]byte]

	// stk is the agent's sipgo stack, built at the first message in or out (stack): until
	// then an idle extension holds its socket and one parked goroutine, no more.
	stkMu sync.Mutex
	stk   *sipStack
	// With Start and Config.Idle: parked says the socket waits in the watch (by idleTok),
	// served by no goroutine; onEnd is what Start was told to call when serving ends.
	parked  bool
	idleTok uint64
	onEnd   func(error)

	mu     sync.Mutex // guards reg, regSrv, proxyAddrs, calls, mwi and shared
	reg    regDialog
	regSrv netip.AddrPort // the registrar that last accepted the binding
	// proxyAddrs are the addresses the proxy resolved to, with its domain (TLS names).
	proxyAddrs map[netip.AddrPort]string
	calls      map[string]*call // by Call-ID
	mwi        *subDialog       // the message-summary subscription; nil until the first SubscribeMWI (512 bytes an extension that never subscribes need not hold)
	// shared is the dialog NOTIFYs' Call-ID, tag and CSeq (shared.go; sipsla).
	shared *sharedPub // nil until the extension's first dialog NOTIFY

	closed    atomic.Bool
	closing   chan struct{} // closed when Close forces the handlers out
	closeOnce sync.Once
	handlers  handlerGate // request handlers running; Close lets them answer first
}

// handlerGate counts the request handlers running, and says when the last has returned once
// the agent closes.
type handlerGate struct {
	mu      sync.Mutex
	n       int
	closing bool
	drained chan struct{}
}

// enter counts a handler in; false once the agent closes.
func (g *handlerGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.n++
	return true
}

func (g *handlerGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.drained != nil {
		close(g.drained)
		g.drained = nil
	}
}

// close refuses new handlers and returns a channel closed when the running ones have ended.
func (g *handlerGate) close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closing = true
	ch := make(chan struct{})
	if g.n == 0 {
		close(ch)
	} else {
		g.drained = ch
	}
	return ch
}

// regDialog is the state REGISTER keeps from one request to the next (RFC 3261 §10.2: the
// same Call-ID, a CSeq that grows, the same From tag).
type regDialog struct {
	callID  string
	fromTag string
	cseq    uint32
	target  int        // index of the address that answered last, in the resolved list
	auth    *digestUse // the challenge the last accepted REGISTER answered (Config.ReuseNonce)
}

// NewAgent binds the extension's socket and prepares its handlers. Nothing is served until
// [Agent.Run]. It fails when the address cannot be bound.
func NewAgent(cfg Config) (*Agent, error) {
	if cfg.Transport == TransportUnknown {
		cfg.Transport = TransportUDP
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.MaxForwards <= 0 {
		cfg.MaxForwards = 70
	}
	if !cfg.IP.IsValid() {
		return nil, errors.New("sip: Config.IP is required")
	}
	a := &Agent{cfg: cfg, log: cfg.Logger, closing: make(chan struct{})}
	a.proxy, a.hasProxy, a.proxyErr = parseProxy(cfg.Proxy)
	if cfg.OutboundProxy != "" {
		ob, ok, err := parseProxy(cfg.OutboundProxy)
		if err != nil && a.proxyErr == nil {
			a.proxyErr = err
		}
		if ok {
			a.outbound = &ob
		}
	}
	a.res = resolver{r: cfg.Resolver, srv: cfg.DNSSRV, autoPfx: cfg.SRVAutoPrefix, transport: cfg.Transport}

	a.wire = &wire{counters: cfg.Counters, totals: cfg.Totals, trace: cfg.Trace, log: cfg.Logger}
	var port int
	if cfg.Transport == TransportUDP {
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: cfg.IP.AsSlice(), Port: cfg.Port})
		if err != nil {
			return nil, fmt.Errorf("sip: bind extension %d: %w", cfg.Ext, err)
		}
		port = udp.LocalAddr().(*net.UDPAddr).Port
		a.conn = &packetConn{PacketConn: udp, w: a.wire}
	} else {
		st, err := newStreams(a, cfg.IP, cfg.Port)
		if err != nil {
			return nil, fmt.Errorf("sip: bind extension %d (%s): %w", cfg.Ext, cfg.Transport, err)
		}
		port = st.ln.Addr().(*net.TCPAddr).Port
		a.streams = st
	}
	a.local = netip.AddrPortFrom(cfg.IP, uint16(port))
	a.laddr = sipmsg.Addr{IP: cfg.IP.AsSlice(), Port: port, Hostname: cfg.IP.String()}

	a.reg = regDialog{callID: newCallID(cfg.IP.String()), fromTag: newTag('o', cfg.Ext), cseq: newCSeq()}
	if cfg.CallIDSeed != "" {
		a.reg.callID = stableCallID(cfg.CallIDSeed, cfg.Ext, cfg.IP.String())
		a.reg.cseq = clockCSeq(time.Now())
	}
	if cfg.RegCSeq != 0 {
		a.reg.cseq = cfg.RegCSeq
	}
	return a, nil
}

// contact is the extension's Contact: its user, display name and bound address (and the
// transport on TCP and TLS). It is made for each message rather than kept: 184 bytes an
// agent, 12,000 agents of 3,000 SPA942s, most of which never send.
func (a *Agent) contact() sipmsg.ContactHeader {
	c := sipmsg.ContactHeader{
		DisplayName: a.cfg.DisplayName,
		Address:     sipmsg.Uri{Scheme: "sip", User: a.cfg.UserID, Host: a.laddr.Hostname, Port: a.laddr.Port},
	}
	if a.streams != nil {
		// RFC 3261 §19.1.1: the Contact says how to reach the phone; a sip: URI with
		// transport=tls is the SPA's form (it has no sips: URIs), as for tcp.
		c.Address.UriParams = sipmsg.NewParams()
		c.Address.UriParams.Add("transport", a.cfg.Transport.String())
	}
	return c
}

// sipStack is what sipgo keeps of an agent: its user agent with the transport and
// transaction layers, the server that routes requests to the handlers, and the client.
type sipStack struct {
	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client
}

// stack returns the agent's sipgo stack, building it the first time: at the first datagram
// Run sees, the first request the agent sends, or Run on TCP and TLS. Building it on UDP
// wakes Run, which then hands the socket to sipgo's reader (a request sent before any
// arrived needs its answers read).
func (a *Agent) stack() *sipStack {
	a.stkMu.Lock()
	defer a.stkMu.Unlock()
	if a.stk == nil {
		a.stk = a.buildStack()
		if a.conn != nil {
			a.conn.SetReadDeadline(time.Unix(1, 0)) // wakes waitReadable; Run clears it
		}
		a.unparkLocked()
	}
	return a.stk
}

// Start serves the agent in the background, as Run does, and calls onEnd with what Run
// would have returned once serving has ended (after Close). On UDP with Config.Idle, an
// agent that has heard nothing waits in the watch, on no goroutine of its own, until its
// first datagram, its first request out, or Close.
func (a *Agent) Start(onEnd func(error)) {
	a.stkMu.Lock()
	defer a.stkMu.Unlock()
	a.onEnd = onEnd
	if a.conn != nil && a.cfg.Idle != nil && a.stk == nil && !a.closed.Load() {
		tok, err := a.cfg.Idle.add(a)
		if err == nil {
			a.parked, a.idleTok = true, tok
			return
		}
		a.log.Debug("extension waits on a goroutine of its own", zap.Error(err))
	}
	go a.serveStarted()
}

// serveStarted is Start's goroutine: Run, then onEnd.
func (a *Agent) serveStarted() {
	a.onEnd(a.Run(context.Background()))
}

// awake is the watch's: the socket has a datagram. Run takes it from here.
func (a *Agent) awake() {
	a.stkMu.Lock()
	defer a.stkMu.Unlock()
	if a.parked { // not already woken by a request out, nor closed
		a.parked = false
		go a.serveStarted()
	}
}

// unparkLocked takes a parked socket out of the watch and serves it on a goroutine (a
// request goes out: its answers must be read). a.stkMu is held.
func (a *Agent) unparkLocked() {
	if a.parked {
		a.parked = false
		a.cfg.Idle.remove(a.idleTok)
		go a.serveStarted()
	}
}

// client is the stack's client.
func (a *Agent) client() *sipgo.Client { return a.stack().cli }

// buildStack builds the sipgo stack on the agent's socket, with its handlers.
func (a *Agent) buildStack() *sipStack {
	cfg := a.cfg
	slog := sipgoLogger(cfg.Logger)
	txOpts := []sipmsg.TransactionLayerOption{
		sipmsg.WithTransactionLayerLogger(slog),
		sipmsg.WithTransactionLayerUnhandledResponseHandler(func(*sipmsg.Response) {}),
	}
	uaOpts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentHostname(cfg.IP.String()),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(slog)),
	}
	// A transaction whose connection drops is left to Timer B or F, not ended at the drop
	// (sipgo's WithTransactionLayerTerminateOnConnClose): the final answer a proxy sends
	// just before it closes would lose the race to the close.
	if a.streams != nil && a.streams.tls {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(a.streams.cliTLS))
	}
	uaOpts = append(uaOpts, sipgo.WithUserAgentTransactionLayerOptions(txOpts...))
	// NewUA, NewServer and NewClient fail only on an option's error; these options have none.
	ua, _ := sipgo.NewUA(uaOpts...)
	if a.conn != nil {
		// The socket is sipgo's listener from now on, before its reader serves it: a request
		// sent before the first read goes out through it, not through a socket sipgo would open.
		addr := a.conn.LocalAddr().String()
		ua.TransportLayer().Pool("udp").Add(addr, &sipmsg.UDPConnection{PacketConn: a.conn, PacketAddr: addr, Listener: true})
	}
	s := &sipStack{ua: ua}
	s.srv, _ = sipgo.NewServer(ua, sipgo.WithServerLogger(slog))
	s.cli, _ = sipgo.NewClient(ua, sipgo.WithClientLogger(slog),
		sipgo.WithClientHostname(cfg.IP.String()), sipgo.WithClientPort(int(a.local.Port())))
	a.routes(s.srv)
	return s
}

// RegCSeq returns the CSeq of the last REGISTER sent (for the next agent's Config.RegCSeq).
func (a *Agent) RegCSeq() uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reg.cseq
}

// LocalAddr returns the address the agent is bound to.
func (a *Agent) LocalAddr() netip.AddrPort { return a.local }

// Run serves the extension's socket until ctx ends or the agent is closed. It runs on the
// caller's goroutine: an idle agent costs that goroutine and nothing else.
func (a *Agent) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { a.Close() })
	defer stop()
	var err error
	if a.streams != nil {
		err = a.streams.serve(a.stack().srv)
	} else {
		err = a.serveUDP()
	}
	if a.closed.Load() {
		return nil
	}
	return err
}

// serveUDP waits, holding no buffer, until the socket has a datagram or the stack is built
// for a request going out, then lets sipgo's reader serve the socket.
func (a *Agent) serveUDP() error {
	for {
		a.stkMu.Lock()
		built := a.stk != nil
		a.stkMu.Unlock()
		if built {
			break
		}
		err := waitReadable(a.conn.PacketConn)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("sip: wait on extension %d: %w", a.cfg.Ext, err)
		}
	}
	s := a.stack()
	a.stkMu.Lock()
	a.conn.SetReadDeadline(time.Time{}) // after stack's wake-up, under the same lock
	a.stkMu.Unlock()
	return s.srv.ServeUDP(a.conn)
}

// Close stops the agent: the request handlers still running get up to closeGrace to send
// their answer (a NOTIFY reboot_now is answered before the phone goes down), then pending
// transactions end and the socket closes. It is idempotent.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		a.closed.Store(true)
		done := a.handlers.close()
		t := time.NewTimer(closeGrace)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
		close(a.closing) // the handlers still waiting give up
		// The transactions end first, as sipgo's UserAgent.Close orders it: each gives back
		// its reference on its connection. A connection closed under a live transaction (an
		// INVITE's, kept after its 2xx for Timer L or M, RFC 6026) has its reference count
		// zeroed by the read loop's close, and the transaction's end then drives it below
		// zero: sipgo's "TCP ref went negative".
		a.stkMu.Lock()
		stk, parked := a.stk, a.parked
		if parked { // served by no goroutine: nothing else will say it ended
			a.parked = false
			a.cfg.Idle.remove(a.idleTok) // before the socket closes
		}
		a.stkMu.Unlock()
		if stk != nil {
			stk.ua.TransactionLayer().Close()
		}
		if a.streams != nil {
			a.streams.close() // before sipgo's transport layer: its read loops end on closed connections
		}
		if stk != nil {
			stk.ua.Close()
		}
		<-done
		a.closeSockets()
		if parked {
			a.onEnd(nil)
		}
	})
	return nil
}

func (a *Agent) closeSockets() {
	if a.conn != nil {
		a.conn.Close()
	}
	if a.streams != nil {
		a.streams.close()
	}
}

// closeGrace bounds how long Close waits for the handlers' answers.
const closeGrace = time.Second

// track counts a request handler for Close, and refuses requests once closing.
func (a *Agent) track(h func(*sipmsg.Request, sipmsg.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if !a.handlers.enter() {
			if !req.IsAck() {
				a.respond(req, tx, sipmsg.StatusServiceUnavailable, "Service Unavailable")
			}
			return
		}
		defer a.handlers.leave()
		if code, reason := validate(req); code != 0 {
			if !req.IsAck() {
				a.log.Debug("request refused", zap.String("method", req.Method.String()), zap.Int("code", code), zap.String("reason", reason))
				a.respond(req, tx, code, reason)
			}
			return
		}
		h(req, tx)
	}
}

// validate checks what every handler relies on (RFC 3261 §8.2, RFC 4475 §3.1.2): the
// version, a SIP Request-URI, the headers a dialog needs, a CSeq naming the method, and a
// body of the announced length. It returns the refusal, or 0.
func validate(req *sipmsg.Request) (int, string) {
	switch {
	case req.SipVersion != "SIP/2.0":
		return 505, "Version Not Supported"
	case req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil || req.Via() == nil:
		return 400, "Missing Required Header"
	case req.Via().ProtocolName != "SIP" || req.Via().ProtocolVersion != "2.0" || req.Via().Host == "":
		return 400, "Bad Via"
	case req.CSeq().MethodName != req.Method:
		return 400, "CSeq Method Mismatch"
	case !strings.EqualFold(req.Recipient.Scheme, "sip") && !strings.EqualFold(req.Recipient.Scheme, "sips"):
		return 416, "Unsupported URI Scheme"
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return 400, "Content-Length Mismatch"
	}
	return 0, ""
}

// routes registers the request handlers on srv.
func (a *Agent) routes(srv *sipgo.Server) {
	srv.OnNotify(a.track(a.onNotify))
	srv.OnInvite(a.track(a.onInvite))
	srv.OnAck(a.track(a.onAck))
	srv.OnBye(a.track(a.onBye))
	srv.OnCancel(a.track(a.onCancel))
	srv.OnInfo(a.track(a.onInfo))
	srv.OnRefer(a.track(a.onRefer))
	srv.OnPrack(a.track(a.onPrack))
	srv.OnOptions(a.track(a.onOptions))
	srv.OnSubscribe(a.track(a.onSubscribe))
	srv.OnNoRoute(a.track(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if req.IsAck() {
			return // an ACK needs no answer (RFC 3261 §17.2.3)
		}
		a.respond(req, tx, sipmsg.StatusMethodNotAllowed, "Method Not Allowed", a.allowHeader())
	}))
}

// onSubscribe answers a SUBSCRIBE to the phone: it is a notifier of no package (RFC 6665
// §4.2.1.1: 489 Bad Event), though its Allow may name SUBSCRIBE, which it sends.
func (a *Agent) onSubscribe(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	a.respond(req, tx, 489, "Bad Event", sipmsg.NewHeader("Allow-Events", allowEvents))
}

// onOptions answers OPTIONS with what the phone can do (RFC 3261 §11.2).
func (a *Agent) onOptions(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	a.respond(req, tx, sipmsg.StatusOK, "OK", a.allowHeader(), sipmsg.NewHeader("Accept", "application/sdp"))
}

func (a *Agent) allowHeader() sipmsg.Header {
	return sipmsg.NewHeader("Allow", strings.Join(a.cfg.Allow, ", "))
}

// respond answers a request: the device's To tag, Server, and the extra headers.
func (a *Agent) respond(req *sipmsg.Request, tx sipmsg.ServerTransaction, code int, reason string, extra ...sipmsg.Header) {
	res := a.newResponse(req, code, reason)
	for _, h := range extra {
		if h != nil {
			res.AppendHeader(h)
		}
	}
	if err := tx.Respond(res); err != nil {
		a.log.Debug("response not sent", zap.String("method", req.Method.String()), zap.Int("code", code), zap.Error(err))
	}
}

// newResponse builds a response to req with the device's To tag and Server header.
func (a *Agent) newResponse(req *sipmsg.Request, code int, reason string) *sipmsg.Response {
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	if to := res.To(); to != nil && code != 100 {
		if tag, _ := req.To().Params.Get("tag"); tag == "" {
			to.Params.Add("tag", newTag('i', a.cfg.Ext))
		}
	}
	if a.cfg.ServerName != "" {
		res.AppendHeader(sipmsg.NewHeader("Server", a.cfg.ServerName))
	}
	return res
}

// newRequest builds a request outside a dialog in the device's shape (SPA-BEHAVIOUR
// §13.10): Via, From, To, Call-ID, CSeq, Max-Forwards, Contact, User-Agent.
func (a *Agent) newRequest(method sipmsg.RequestMethod, ruri, to sipmsg.Uri, callID, fromTag string, cseq uint32, ua string) *sipmsg.Request {
	req := sipmsg.NewRequest(method, ruri)
	via := &sipmsg.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: a.cfg.Transport.via(),
		Host: a.cfg.IP.String(), Port: int(a.local.Port()), Params: sipmsg.NewParams()}
	via.Params.Add("branch", newBranch())
	if a.cfg.Rport {
		via.Params.Add("rport", "")
	}
	req.AppendHeader(via)
	from := &sipmsg.FromHeader{DisplayName: a.cfg.DisplayName, Address: a.aor(), Params: sipmsg.NewParams()}
	from.Params.Add("tag", fromTag)
	req.AppendHeader(from)
	req.AppendHeader(&sipmsg.ToHeader{Address: to, Params: sipmsg.NewParams()})
	cid := sipmsg.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: cseq, MethodName: method})
	mf := sipmsg.MaxForwardsHeader(a.cfg.MaxForwards)
	req.AppendHeader(&mf)
	c := a.contact()
	req.AppendHeader(&c)
	if ua != "" {
		req.AppendHeader(sipmsg.NewHeader("User-Agent", ua))
	}
	req.SetTransport(a.cfg.Transport.via())
	return req
}

// aor is the extension's address of record: sip:UserID@proxy-domain (the phone's IP when
// no proxy is set).
func (a *Agent) aor() sipmsg.Uri {
	host := a.cfg.IP.String()
	if a.hasProxy {
		host = a.proxy.host
	}
	return sipmsg.Uri{Scheme: "sip", User: a.cfg.UserID, Host: host}
}

// realm is the realm of the agent's own digest challenges: the proxy's domain, where the
// extension's credentials belong (so that a server that keeps only HA1 for its realm can
// answer), else the phone's address. SPA-BEHAVIOUR §6 does not say; this is the decision.
func (a *Agent) realm() string {
	if a.hasProxy {
		return a.proxy.host
	}
	return a.cfg.IP.String()
}

// noBuild tells sipgo the request is complete: the agent builds every header itself.
func noBuild(*sipgo.Client, *sipmsg.Request) error { return nil }

// exchange sends req to dest in a client transaction and returns its final response. The
// transaction is bounded by limit (Timer B or F) as well as by ctx.
func (a *Agent) exchange(ctx context.Context, req *sipmsg.Request, dest netip.AddrPort, limit time.Duration) (*sipmsg.Response, error) {
	if a.closed.Load() {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := a.prepare(ctx, req, dest); err != nil {
		return nil, err
	}
	if req.Body() == nil {
		req.SetBody(nil)
	}
	tx, err := a.client().TransactionRequest(ctx, req, noBuild)
	if err != nil {
		return nil, fmt.Errorf("send %s to %s: %w", req.Method, dest, err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil && !errors.Is(err, sipmsg.ErrTransactionTimeout) {
				return nil, fmt.Errorf("%s to %s: %w", req.Method, dest, err)
			}
			return nil, fmt.Errorf("%s to %s: %w", req.Method, dest, ErrTimeout)
		case <-a.closing:
			return nil, ErrClosed
		case <-ctx.Done():
			if a.closed.Load() {
				return nil, ErrClosed
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%s to %s: %w", req.Method, dest, ErrTimeout)
			}
			return nil, ctx.Err()
		}
	}
}

// targets resolves where out-of-dialog requests go: the outbound proxy when one is used,
// else the proxy.
func (a *Agent) targets(ctx context.Context) ([]netip.AddrPort, error) {
	if a.proxyErr != nil {
		return nil, a.proxyErr
	}
	spec := a.proxy
	if a.outbound != nil {
		spec = *a.outbound
	} else if !a.hasProxy {
		return nil, ErrNoProxy
	}
	ts, err := a.res.resolve(ctx, spec)
	if err == nil && a.streams != nil && a.streams.tls {
		a.mu.Lock()
		if a.proxyAddrs == nil {
			a.proxyAddrs = map[netip.AddrPort]string{}
		}
		for _, t := range ts {
			a.proxyAddrs[t] = spec.host
		}
		a.mu.Unlock()
	}
	return ts, err
}

// prepare addresses req to dest: on UDP from the extension's socket; on TCP and TLS over the
// connection to dest, opened now when there is none (stream.go).
func (a *Agent) prepare(ctx context.Context, req *sipmsg.Request, dest netip.AddrPort) error {
	req.SetDestination(dest.String())
	if a.streams == nil {
		req.Laddr = a.laddr
		return nil
	}
	// sipgo finds the connection by the destination in its pool: no local address, which
	// on a stream transport would name the listener's accepted connections.
	req.Laddr = sipmsg.Addr{}
	if err := a.streams.connect(ctx, dest, a.tlsName(dest)); err != nil {
		return fmt.Errorf("send %s to %s: %w", req.Method, dest, err)
	}
	return nil
}

// prepareWithin is prepare, the connection (if one is opened) bounded by limit.
func (a *Agent) prepareWithin(req *sipmsg.Request, dest netip.AddrPort, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return a.prepare(ctx, req, dest)
}

// tlsName is the name a TLS server at dest must prove: the proxy's domain for an address
// the proxy (or the outbound proxy) resolved to, else the address itself (RFC 5922 §7).
func (a *Agent) tlsName(dest netip.AddrPort) string {
	a.mu.Lock()
	name, ok := a.proxyAddrs[dest]
	a.mu.Unlock()
	if ok {
		return name
	}
	return dest.Addr().String()
}

// regServer is the registrar that last accepted the binding.
func (a *Agent) regServer() netip.AddrPort {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.regSrv
}

// headerValue returns the value of the first header named name (or its compact form).
func headerValue(m headered, name, compact string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	if compact != "" {
		for _, h := range m.Headers() {
			if h.Name() == compact {
				return h.Value()
			}
		}
	}
	return ""
}

// headered is a request or a response.
type headered interface {
	GetHeader(name string) sipmsg.Header
	Headers() []sipmsg.Header
}

// itoa is strconv.Itoa.
func itoa(n int) string { return strconv.Itoa(n) }
