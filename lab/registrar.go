package lab

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// RegistrarOptions configure a [Registrar].
type RegistrarOptions struct {
	// Accounts are the users that may register and call, user name → password.
	Accounts map[string]string
	// Realm is the digest realm of the challenges (default "spa900.lab").
	Realm string
	// MinExpires and MaxExpires bound the registrations it grants (defaults 30 s and 3600 s):
	// a shorter request is refused with 423 and Min-Expires (RFC 3261 §10.3 step 7), a
	// longer one granted MaxExpires.
	MinExpires, MaxExpires time.Duration
	// Logger receives one line per decision (registered, refused, call routed); nil discards.
	Logger *zap.Logger
}

// Binding is one registered contact of an account.
type Binding struct {
	User    string    `json:"user"`
	Contact string    `json:"contact"` // the Contact URI
	Source  string    `json:"source"`  // where the REGISTER came from
	Expires time.Time `json:"expires"`
	Agent   string    `json:"user_agent,omitempty"`
}

// maxBindings bounds the contacts one account keeps; a REGISTER beyond it replaces the
// oldest.
const maxBindings = 4

// nonceLifetime is how long a challenge's nonce is accepted; an older one is answered with a
// new challenge marked stale (RFC 2617 §3.2.1), which clients answer without asking anyone.
const nonceLifetime = 5 * time.Minute

// Registrar is the lab's SIP server: a registrar with HTTP digest authentication (RFC 3261
// §10, §22) and a location service, and enough of a stateful proxy (RFC 3261 §16) that its
// accounts call one another. It is a demo and a smoke test, not a PBX:
//
//   - UDP only, one address; no TCP, TLS, DNS or SRV of its own;
//   - the accounts are fixed at start, in memory; registrations are lost when it stops;
//   - a request for an account goes to that account's newest binding only (no forking, no
//     parallel or serial hunting), and there is no voicemail, no call forwarding of its own,
//     no presence, no SUBSCRIBE/NOTIFY state (a SUBSCRIBE is relayed like any request);
//   - it does not Record-Route: after an INVITE is answered, ACK, re-INVITE, BYE and the
//     dialog's other requests go from phone to phone (on one machine, or one Docker network,
//     they reach each other);
//   - only its own accounts may call (403 otherwise): it is no open relay; callers are
//     challenged with 407 as Kamailio's usual configuration does;
//   - no NAT traversal: Contacts are used as the phones give them.
//
// Everything it does is logged, one line a decision. Safe for concurrent use.
type Registrar struct {
	// Immutable after NewRegistrar.
	opts     RegistrarOptions
	log      *zap.Logger
	nonceKey [32]byte
	ua       *sipgo.UserAgent
	srv      *sipgo.Server
	cli      *sipgo.Client
	conn     net.PacketConn
	addr     netip.AddrPort

	mu  sync.Mutex
	loc map[string][]Binding // guarded by mu; by account

	closed atomic.Bool
}

// NewRegistrar binds addr (host:port on UDP; port 0 lets the system choose) and prepares the
// registrar; [Registrar.Run] serves it.
func NewRegistrar(addr string, opts RegistrarOptions) (*Registrar, error) {
	if opts.Realm == "" {
		opts.Realm = "spa900.lab"
	}
	if opts.MinExpires <= 0 {
		opts.MinExpires = 30 * time.Second
	}
	if opts.MaxExpires < opts.MinExpires {
		opts.MaxExpires = max(time.Hour, opts.MinExpires)
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	r := &Registrar{opts: opts, log: opts.Logger.Named("registrar"), loc: map[string][]Binding{}}
	rand.Read(r.nonceKey[:])
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("registrar: listen %s: %w", addr, err)
	}
	la := udp.LocalAddr().(*net.UDPAddr)
	ip, _ := netip.AddrFromSlice(la.IP)
	r.addr = netip.AddrPortFrom(ip.Unmap(), uint16(la.Port))
	host := r.addr.Addr().String()
	if r.addr.Addr().IsUnspecified() {
		host = "127.0.0.1"
	}
	r.conn = udp
	slog := slog.New(quiet{zapslog.NewHandler(r.log.Core(), zapslog.WithName(r.log.Name()+".sipgo"))})
	r.ua, err = sipgo.NewUA(sipgo.WithUserAgent("spa900-lab"), sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(slog),
			sipmsg.WithTransactionLayerUnhandledResponseHandler(func(*sipmsg.Response) {})),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(slog)))
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("registrar: %w", err)
	}
	// The socket is sipgo's listener before Run serves it, so that forwarded requests leave
	// from the registrar's own address.
	a := udp.LocalAddr().String()
	r.ua.TransportLayer().Pool("udp").Add(a, &sipmsg.UDPConnection{PacketConn: udp, PacketAddr: a, Listener: true})
	r.srv, _ = sipgo.NewServer(r.ua, sipgo.WithServerLogger(slog))
	r.cli, _ = sipgo.NewClient(r.ua, sipgo.WithClientLogger(slog), sipgo.WithClientHostname(host), sipgo.WithClientPort(la.Port))
	r.srv.OnRegister(r.onRegister)
	for _, m := range []sipmsg.RequestMethod{sipmsg.INVITE, sipmsg.OPTIONS, sipmsg.MESSAGE, sipmsg.NOTIFY, sipmsg.SUBSCRIBE,
		sipmsg.REFER, sipmsg.INFO, sipmsg.BYE, sipmsg.UPDATE, sipmsg.PRACK, sipmsg.PUBLISH} {
		r.srv.OnRequest(m, r.onRequest)
	}
	r.srv.OnAck(func(*sipmsg.Request, sipmsg.ServerTransaction) {}) // ACKs of our own errors
	return r, nil
}

// quiet lowers sipgo's lines to debug, as the phones' agents do: the registrar logs its own
// decisions.
type quiet struct{ h slog.Handler }

func (q quiet) Enabled(ctx context.Context, _ slog.Level) bool {
	return q.h.Enabled(ctx, slog.LevelDebug)
}
func (q quiet) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return q.h.Handle(ctx, r)
}
func (q quiet) WithAttrs(a []slog.Attr) slog.Handler { return quiet{q.h.WithAttrs(a)} }
func (q quiet) WithGroup(n string) slog.Handler      { return quiet{q.h.WithGroup(n)} }

// Addr returns the address the registrar listens on.
func (r *Registrar) Addr() netip.AddrPort { return r.addr }

// Realm returns the digest realm of its challenges.
func (r *Registrar) Realm() string { return r.opts.Realm }

// Run serves the registrar until ctx ends.
func (r *Registrar) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { r.close() })
	defer stop()
	err := r.srv.ServeUDP(r.conn)
	if r.closed.Load() {
		return nil
	}
	return fmt.Errorf("registrar: %w", err)
}

// SetAccounts replaces the accounts; it must be called before [Registrar.Run] (a lab names
// the registrar's address in the profiles its accounts come from).
func (r *Registrar) SetAccounts(accounts map[string]string) { r.opts.Accounts = accounts }

// Close releases the socket of a registrar that is not run; Run closes it itself.
func (r *Registrar) Close() { r.close() }

func (r *Registrar) close() {
	if r.closed.CompareAndSwap(false, true) {
		r.conn.Close()
		r.ua.Close()
	}
}

// Bindings returns the live bindings, by account name then contact.
func (r *Registrar) Bindings() []Binding {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Binding
	for _, bs := range r.loc {
		for _, b := range bs {
			if b.Expires.After(now) {
				out = append(out, b)
			}
		}
	}
	slices.SortFunc(out, func(a, b Binding) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.Contact, b.Contact)
	})
	return out
}

// lookup returns the newest live binding of user.
func (r *Registrar) lookup(user string) (Binding, bool) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	bs := r.loc[user]
	for i := len(bs) - 1; i >= 0; i-- {
		if bs[i].Expires.After(now) {
			return bs[i], true
		}
	}
	return Binding{}, false
}

// respond answers req on tx; a failure to send is the client's loss and is logged at debug.
func (r *Registrar) respond(tx sipmsg.ServerTransaction, req *sipmsg.Request, code int, reason string, hdrs ...sipmsg.Header) {
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		r.log.Debug("response not sent", zap.Int("code", code), zap.Error(err))
	}
}

// Digest authentication (RFC 3261 §22, RFC 2617). The nonce is the time it was made and a
// MAC of it under the registrar's key: nothing is kept per challenge, and a nonce from
// another registrar or older than nonceLifetime is refused.

func (r *Registrar) nonce(now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 16)
	m := hmac.New(sha256.New, r.nonceKey[:])
	m.Write([]byte(ts))
	return ts + "." + hex.EncodeToString(m.Sum(nil)[:12])
}

// nonceState says whether a nonce is the registrar's and still fresh.
func (r *Registrar) nonceState(n string, now time.Time) (ours, fresh bool) {
	ts, mac, ok := strings.Cut(n, ".")
	if !ok {
		return false, false
	}
	m := hmac.New(sha256.New, r.nonceKey[:])
	m.Write([]byte(ts))
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil)[:12])), []byte(mac)) {
		return false, false
	}
	sec, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return false, false
	}
	age := now.Sub(time.Unix(sec, 0))
	return true, age >= -time.Minute && age <= nonceLifetime
}

func (r *Registrar) challenge(now time.Time, stale bool) string {
	c := digest.Challenge{Realm: r.opts.Realm, Nonce: r.nonce(now), Algorithm: "MD5", Stale: stale}
	return c.String()
}

// errStale: the credentials were right for a nonce that has expired.
var errStale = errors.New("stale nonce")

// authenticate checks the credentials of header (Authorization or Proxy-Authorization) for
// req; it returns the account name.
func (r *Registrar) authenticate(req *sipmsg.Request, header string, now time.Time) (string, error) {
	h := req.GetHeader(header)
	if h == nil {
		return "", errors.New("no credentials")
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return "", fmt.Errorf("credentials: %w", err)
	}
	pw, known := r.opts.Accounts[cred.Username]
	if !known {
		return "", fmt.Errorf("unknown user %q", clip(cred.Username))
	}
	if cred.Realm != r.opts.Realm {
		return "", fmt.Errorf("realm %q is not %q", clip(cred.Realm), r.opts.Realm)
	}
	ours, fresh := r.nonceState(cred.Nonce, now)
	if !ours {
		return "", errors.New("nonce not issued here")
	}
	chal := digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, Opaque: cred.Opaque}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	want, err := digest.Digest(&chal, digest.Options{Method: string(req.Method), URI: cred.URI, Username: cred.Username,
		Password: pw, Count: cred.Nc, Cnonce: cred.Cnonce})
	if err != nil {
		return "", fmt.Errorf("credentials: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 {
		return "", errors.New("wrong password")
	}
	if !fresh {
		return cred.Username, errStale
	}
	return cred.Username, nil
}

// clip keeps a peer's string short in logs and errors.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// onRegister is the registrar (RFC 3261 §10.3): authenticate, check the To is the
// authenticated account, then add, refresh or remove the bindings.
func (r *Registrar) onRegister(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	now := time.Now()
	user, err := r.authenticate(req, "Authorization", now)
	switch {
	case errors.Is(err, errStale):
		r.respond(tx, req, 401, "Unauthorized", sipmsg.NewHeader("WWW-Authenticate", r.challenge(now, true)))
		return
	case err != nil:
		if req.GetHeader("Authorization") != nil {
			r.log.Info("registration refused", zap.String("source", req.Source()), zap.String("reason", err.Error()))
		}
		r.respond(tx, req, 401, "Unauthorized", sipmsg.NewHeader("WWW-Authenticate", r.challenge(now, false)))
		return
	}
	to := req.To()
	if to == nil || to.Address.User != user {
		r.log.Info("registration refused", zap.String("user", user), zap.String("reason", "To is not the authenticated account"))
		r.respond(tx, req, 403, "Forbidden")
		return
	}
	def := r.opts.MaxExpires
	if h := req.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n >= 0 {
			def = time.Duration(n) * time.Second
		}
	}
	type change struct {
		uri     string
		expires time.Duration
	}
	var changes []change
	removeAll := false
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sipmsg.ContactHeader)
		if !ok {
			continue
		}
		e := def
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				e = time.Duration(n) * time.Second
			}
		}
		if c.Address.Wildcard {
			if e != 0 {
				r.respond(tx, req, 400, "Bad Request") // RFC 3261 §10.3 step 6: * only with Expires: 0
				return
			}
			removeAll = true
			continue
		}
		if e > 0 && e < r.opts.MinExpires {
			r.respond(tx, req, 423, "Interval Too Brief", sipmsg.NewHeader("Min-Expires", strconv.Itoa(int(r.opts.MinExpires/time.Second))))
			return
		}
		changes = append(changes, change{uri: c.Address.String(), expires: min(e, r.opts.MaxExpires)})
	}
	agent := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		agent = clip(h.Value())
	}
	r.mu.Lock()
	bs := slices.DeleteFunc(r.loc[user], func(b Binding) bool { return !b.Expires.After(now) || removeAll })
	for _, c := range changes {
		bs = slices.DeleteFunc(bs, func(b Binding) bool { return b.Contact == c.uri })
		if c.expires > 0 {
			bs = append(bs, Binding{User: user, Contact: c.uri, Source: req.Source(), Expires: now.Add(c.expires), Agent: agent})
		}
	}
	if len(bs) > maxBindings {
		bs = bs[len(bs)-maxBindings:]
	}
	r.loc[user] = bs
	cur := slices.Clone(bs)
	r.mu.Unlock()

	res := sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
	for _, b := range cur {
		var u sipmsg.Uri
		if err := sipmsg.ParseUri(b.Contact, &u); err != nil {
			continue
		}
		c := &sipmsg.ContactHeader{Address: u, Params: sipmsg.NewParams()}
		c.Params.Add("expires", strconv.Itoa(int(b.Expires.Sub(now).Round(time.Second)/time.Second)))
		res.AppendHeader(c)
	}
	res.AppendHeader(sipmsg.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	if err := tx.Respond(res); err != nil {
		r.log.Debug("response not sent", zap.Int("code", 200), zap.Error(err))
	}
	switch {
	case len(changes) == 0 && !removeAll:
		r.log.Debug("bindings queried", zap.String("user", user))
	case len(cur) == 0:
		r.log.Info("unregistered", zap.String("user", user), zap.String("source", req.Source()))
	default:
		r.log.Info("registered", zap.String("user", user), zap.String("contact", cur[len(cur)-1].Contact),
			zap.Duration("expires", cur[len(cur)-1].Expires.Sub(now).Round(time.Second)), zap.String("source", req.Source()))
	}
}

// onRequest routes every other request: a request to one of the accounts goes to its newest
// binding, once the caller has proven it is one of the accounts too (407 challenge); OPTIONS
// to the registrar itself is answered 200; the rest is refused with the reason.
func (r *Registrar) onRequest(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	now := time.Now()
	if to := req.To(); to != nil && func() bool { _, ok := to.Params.Get("tag"); return ok }() {
		// In a dialog: the registrar does not Record-Route, so nothing of a dialog is its.
		r.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	target := req.Recipient.User
	if target == "" {
		if req.Method == sipmsg.OPTIONS {
			r.respond(tx, req, 200, "OK", sipmsg.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, NOTIFY, SUBSCRIBE, REFER, INFO"))
			return
		}
		r.respond(tx, req, 404, "Not Found")
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() <= 1 {
		r.respond(tx, req, 483, "Too Many Hops")
		return
	}
	from := ""
	if f := req.From(); f != nil {
		from = f.Address.User
	}
	if _, ok := r.opts.Accounts[from]; !ok {
		r.log.Info("request refused", zap.String("method", string(req.Method)), zap.String("from", clip(from)),
			zap.String("to", clip(target)), zap.String("reason", "the caller is not an account of the lab"))
		r.respond(tx, req, 403, "Forbidden")
		return
	}
	user, err := r.authenticate(req, "Proxy-Authorization", now)
	if err != nil || user != from {
		if err == nil {
			err = errors.New("credentials of another account")
		}
		if req.GetHeader("Proxy-Authorization") != nil && !errors.Is(err, errStale) {
			r.log.Info("request refused", zap.String("method", string(req.Method)), zap.String("from", from), zap.String("reason", err.Error()))
		}
		r.respond(tx, req, 407, "Proxy Authentication Required",
			sipmsg.NewHeader("Proxy-Authenticate", r.challenge(now, errors.Is(err, errStale))))
		return
	}
	if _, known := r.opts.Accounts[target]; !known {
		r.log.Info("request refused", zap.String("method", string(req.Method)), zap.String("from", from), zap.String("to", clip(target)),
			zap.String("reason", "no such account"))
		r.respond(tx, req, 404, "Not Found")
		return
	}
	b, ok := r.lookup(target)
	if !ok {
		r.log.Info("request refused", zap.String("method", string(req.Method)), zap.String("from", from), zap.String("to", target),
			zap.String("reason", "not registered"))
		r.respond(tx, req, 480, "Temporarily Unavailable")
		return
	}
	r.forward(req, tx, b, from)
}

// forward relays req to binding b as a stateful proxy (RFC 3261 §16.6): the request with the
// contact as its Request-URI, one Via more, Max-Forwards less and the caller's credentials
// consumed; every response back with that Via removed; a CANCEL from the caller on to the
// callee.
func (r *Registrar) forward(req *sipmsg.Request, tx sipmsg.ServerTransaction, b Binding, from string) {
	fwd := req.Clone()
	var dst sipmsg.Uri
	if err := sipmsg.ParseUri(b.Contact, &dst); err != nil {
		r.respond(tx, req, 500, "Server Internal Error")
		return
	}
	fwd.Recipient = dst
	fwd.RemoveHeader("Proxy-Authorization")
	if mf := fwd.MaxForwards(); mf != nil {
		mf.Dec()
	}
	port := dst.Port
	if port == 0 {
		port = 5060
	}
	fwd.SetDestination(net.JoinHostPort(dst.Host, strconv.Itoa(port)))
	fwd.SetSource("")
	invite := req.IsInvite()
	// The CANCEL's callback first: sipgo answers 100 Trying by itself when the handler is
	// slow, a caller may CANCEL on it, and a CANCEL taken before the callback was there
	// would not reach the callee. One that came already (the caller has its 487) is the end.
	canceled := make(chan struct{})
	var once sync.Once
	if stx, ok := tx.(*sipmsg.ServerTx); ok {
		if !stx.OnCancel(func(*sipmsg.Request) { once.Do(func() { close(canceled) }) }) && errors.Is(stx.Err(), sipmsg.ErrTransactionCanceled) {
			r.log.Info("call canceled", zap.String("from", from), zap.String("to", b.User))
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // INVITE_Expires of a phone is 240 s at most in the lab's use
	defer cancel()
	ctl, err := r.cli.TransactionRequest(ctx, fwd, sipgo.ClientRequestAddVia)
	if err != nil {
		r.log.Info("request not forwarded", zap.String("method", string(req.Method)), zap.String("to", b.User), zap.Error(err))
		r.respond(tx, req, 503, "Service Unavailable")
		return
	}
	defer ctl.Terminate()
	if invite {
		r.log.Info("call routed", zap.String("from", from), zap.String("to", b.User), zap.String("contact", b.Contact))
	}
	upstream := req.Source()
	relay := func(res *sipmsg.Response) {
		res = res.Clone()
		res.RemoveHeader("Via")
		res.SetDestination(upstream)
		if err := tx.Respond(res); err != nil {
			r.log.Debug("response not relayed", zap.Int("code", int(res.StatusCode)), zap.Error(err))
		}
	}
	ctl.OnRetransmission(func(res *sipmsg.Response) {
		if res.IsSuccess() {
			relay(res) // 2xx retransmissions go to the caller (RFC 6026 §8.1)
		}
	})
	cancelSent := false
	for {
		select {
		case res, open := <-ctl.Responses():
			if !open {
				return
			}
			if !cancelSent {
				relay(res)
			}
			if res.StatusCode >= 200 {
				return
			}
		case <-canceled:
			canceled = nil
			if cancelSent {
				continue
			}
			cancelSent = true
			// The caller has its 487 from the server transaction; the callee gets the CANCEL
			// of the branch we made (RFC 3261 §16.10) and answers our INVITE with 487.
			c := sipmsg.NewRequest(sipmsg.CANCEL, fwd.Recipient)
			c.AppendHeader(sipmsg.HeaderClone(fwd.Via()))
			for _, name := range []string{"From", "To", "Call-ID"} {
				if h := fwd.GetHeader(name); h != nil {
					c.AppendHeader(sipmsg.HeaderClone(h))
				}
			}
			if cs := fwd.CSeq(); cs != nil {
				c.AppendHeader(&sipmsg.CSeqHeader{SeqNo: cs.SeqNo, MethodName: sipmsg.CANCEL})
			}
			mf := sipmsg.MaxForwardsHeader(70)
			c.AppendHeader(&mf)
			c.SetDestination(fwd.Destination())
			c.SetTransport(fwd.Transport())
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			ctx2, err := r.cli.TransactionRequest(cctx, c, func(*sipgo.Client, *sipmsg.Request) error { return nil })
			if err == nil {
				go func() {
					defer ccancel()
					defer ctx2.Terminate()
					select {
					case <-ctx2.Responses():
					case <-ctx2.Done():
					case <-cctx.Done():
					}
				}()
			} else {
				ccancel()
			}
			r.log.Info("call canceled", zap.String("from", from), zap.String("to", b.User))
		case <-ctl.Done():
			if err := ctl.Err(); err != nil && !cancelSent {
				r.log.Info("request not answered", zap.String("method", string(req.Method)), zap.String("to", b.User), zap.Error(err))
				r.respond(tx, req, 408, "Request Timeout")
			}
			return
		case <-ctx.Done():
			return
		}
	}
}
