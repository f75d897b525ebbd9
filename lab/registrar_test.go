package lab

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/spa900/spa900/internal/testlog"
	"go.uber.org/zap"

	"github.com/spa900/spa900/sip/siptest"
)

var testAccounts = map[string]string{"1001": "pw1001", "1002": "pw1002", "1003": "pw1003"}

func startRegistrar(t *testing.T) *Registrar {
	t.Helper()
	r, err := NewRegistrar("127.0.0.1:0", RegistrarOptions{Accounts: testAccounts, Logger: testlog.New(t, zap.IncreaseLevel(zap.InfoLevel))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// peer is a SIP endpoint of a test: a sipgo user agent on its own loopback socket.
type peer struct {
	user   string
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	addr   *net.UDPAddr
	reg    sipmsg.Uri // the registrar
	cseq   uint32
	callID string
}

func newPeer(t *testing.T, user string, r *Registrar, handlers ...func(*sipgo.Server)) *peer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	la := conn.LocalAddr().(*net.UDPAddr)
	ua, err := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	a := la.String()
	ua.TransportLayer().Pool("udp").Add(a, &sipmsg.UDPConnection{PacketConn: conn, PacketAddr: a, Listener: true})
	srv, _ := sipgo.NewServer(ua)
	cli, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(la.Port))
	p := &peer{user: user, ua: ua, srv: srv, cli: cli, addr: la, cseq: 1, callID: "reg-" + user + "-" + strconv.Itoa(la.Port),
		reg: sipmsg.Uri{Scheme: "sip", Host: r.Addr().Addr().String(), Port: int(r.Addr().Port())}}
	for _, h := range handlers {
		h(srv) // before serving: sipgo's handler table is not guarded
	}
	go srv.ServeUDP(conn)
	t.Cleanup(func() { ua.Close(); conn.Close() })
	return p
}

// register sends one REGISTER (To: to, Expires: expires) and answers a challenge with
// password; it returns the final response.
func (p *peer) register(t *testing.T, to string, expires int, password string) *sipmsg.Response {
	t.Helper()
	req := sipmsg.NewRequest(sipmsg.REGISTER, p.reg)
	req.AppendHeader(&sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: p.user, Host: p.reg.Host}, Params: sipmsg.HeaderParams{{K: "tag", V: "f" + p.user}}})
	req.AppendHeader(&sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: to, Host: p.reg.Host}})
	req.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: p.user, Host: "127.0.0.1", Port: p.addr.Port}})
	cid := sipmsg.CallIDHeader(p.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: p.cseq, MethodName: sipmsg.REGISTER})
	p.cseq += 2
	req.AppendHeader(sipmsg.NewHeader("Expires", strconv.Itoa(expires)))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == 401 {
		if res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: password}); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

func TestRegistrarRegister(t *testing.T) {
	r := startRegistrar(t)
	p := newPeer(t, "1001", r)

	if res := p.register(t, "1001", 600, "wrong"); res.StatusCode != 401 {
		t.Errorf("wrong password: %d, want 401", res.StatusCode)
	}
	if len(r.Bindings()) != 0 {
		t.Errorf("bindings after a refused REGISTER: %v", r.Bindings())
	}
	res := p.register(t, "1001", 600, "pw1001")
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d %s", res.StatusCode, res.Reason)
	}
	c := res.Contact()
	if e, _ := c.Params.Get("expires"); c == nil || c.Address.Port != p.addr.Port || e != "600" {
		t.Errorf("200 OK Contact %v, want ours with expires=600", c)
	}
	bs := r.Bindings()
	if len(bs) != 1 || bs[0].User != "1001" || !strings.Contains(bs[0].Contact, strconv.Itoa(p.addr.Port)) {
		t.Errorf("bindings %+v", bs)
	}
	if res := p.register(t, "1002", 600, "pw1001"); res.StatusCode != 403 {
		t.Errorf("REGISTER of another account's To: %d, want 403", res.StatusCode)
	}
	res = p.register(t, "1001", 5, "pw1001")
	if res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil || res.GetHeader("Min-Expires").Value() != "30" {
		t.Errorf("Expires 5: %d %v, want 423 with Min-Expires: 30", res.StatusCode, res.GetHeader("Min-Expires"))
	}
	if res := p.register(t, "1001", 99999, "pw1001"); res.StatusCode != 200 {
		t.Errorf("Expires 99999: %d", res.StatusCode)
	} else if e, _ := res.Contact().Params.Get("expires"); e != "3600" {
		t.Errorf("granted %s, want the maximum 3600", e)
	}
	if res := p.register(t, "1001", 0, "pw1001"); res.StatusCode != 200 || len(r.Bindings()) != 0 {
		t.Errorf("Expires 0: %d, bindings %v: want 200 and none", res.StatusCode, r.Bindings())
	}
}

// TestRegistrarStaleNonce: credentials for a nonce older than its lifetime get a new
// challenge marked stale, a forged nonce a plain one.
func TestRegistrarStaleNonce(t *testing.T) {
	r := startRegistrar(t)
	old := r.nonce(time.Now().Add(-nonceLifetime - time.Minute))
	if ours, fresh := r.nonceState(old, time.Now()); !ours || fresh {
		t.Errorf("old nonce: ours %v fresh %v", ours, fresh)
	}
	if ours, _ := r.nonceState("5f00."+strings.Repeat("0", 24), time.Now()); ours {
		t.Error("a forged nonce passed")
	}
	if ours, fresh := r.nonceState(r.nonce(time.Now()), time.Now()); !ours || !fresh {
		t.Error("a new nonce is refused")
	}
}

// TestRegistrarSIPp: SIPp's digest REGISTER against the registrar (an implementation other
// than sipgo's computes the response).
func TestRegistrarSIPp(t *testing.T) {
	r := startRegistrar(t)
	inf := t.TempDir() + "/users.csv"
	if err := writeFile(inf, "SEQUENTIAL\n1003;[authentication username=1003 password=pw1003]\n"); err != nil {
		t.Fatal(err)
	}
	res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "register.xml", Target: r.Addr().String(), Args: []string{"-inf", inf}})
	if res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	if bs := r.Bindings(); len(bs) != 1 || bs[0].User != "1003" || bs[0].Agent != "sipp-bench" {
		t.Errorf("bindings %+v", bs)
	}
}

// TestRegistrarRoutesCalls: an INVITE of one account to another is challenged (407),
// relayed to the callee's binding with the registrar's Via on top, and its responses come
// back; a CANCEL reaches the callee; requests for unknown or unregistered accounts and from
// strangers are refused.
func TestRegistrarRoutesCalls(t *testing.T) {
	r := startRegistrar(t)
	invites := make(chan *sipmsg.Request, 4)
	cancels := make(chan struct{}, 4)
	var calleePort int
	answer := func(srv *sipgo.Server) {
		srv.OnInvite(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
			invites <- req
			if req.GetHeader("X-Wait") != nil {
				// OnCancel before the 180: the caller cancels as soon as it sees the 180, and a
				// CANCEL that came before the callback was registered would call nothing.
				if !tx.(*sipmsg.ServerTx).OnCancel(func(*sipmsg.Request) { cancels <- struct{}{} }) {
					cancels <- struct{}{} // already canceled
				}
				tx.Respond(sipmsg.NewResponseFromRequest(req, 180, "Ringing", nil))
				<-tx.Done()
				return
			}
			tx.Respond(sipmsg.NewResponseFromRequest(req, 180, "Ringing", nil))
			res := sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
			res.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "1002", Host: "127.0.0.1", Port: calleePort}})
			tx.Respond(res)
		})
		srv.OnAck(func(*sipmsg.Request, sipmsg.ServerTransaction) {})
	}
	caller, callee := newPeer(t, "1001", r), newPeer(t, "1002", r, answer)
	calleePort = callee.addr.Port
	if res := callee.register(t, "1002", 600, "pw1002"); res.StatusCode != 200 {
		t.Fatalf("callee REGISTER: %d", res.StatusCode)
	}
	dua := sipgo.DialogUA{Client: caller.cli, ContactHDR: sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: caller.addr.Port}}}
	to := func(user string) sipmsg.Uri { u := caller.reg; u.User = user; return u }
	from := func(user string) sipmsg.Header {
		return &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: user, Host: caller.reg.Host}, Params: sipmsg.HeaderParams{{K: "tag", V: sipmsg.GenerateTagN(8)}}}
	}
	call := func(t *testing.T, fromUser, toUser, password string, extra ...sipmsg.Header) (*sipgo.DialogClientSession, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		s, err := dua.Invite(ctx, to(toUser), nil, append([]sipmsg.Header{from(fromUser)}, extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		return s, s.WaitAnswer(ctx, sipgo.AnswerOptions{Username: fromUser, Password: password})
	}

	s, err := call(t, "1001", "1002", "pw1001")
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	inv := <-invites
	if vias := inv.GetHeaders("Via"); len(vias) != 2 || inv.Recipient.Port != callee.addr.Port || inv.GetHeader("Proxy-Authorization") != nil {
		t.Errorf("INVITE at the callee: %d Vias, Request-URI %s, credentials %v; want 2, the contact, none",
			len(vias), inv.Recipient.String(), inv.GetHeader("Proxy-Authorization"))
	}
	if s.InviteResponse.StatusCode != 200 {
		t.Errorf("answer %d", s.InviteResponse.StatusCode)
	}
	s.Ack(t.Context())
	s.Close()

	for _, c := range []struct {
		name, from, to, pw string
		code               int
	}{
		{"unknown account", "1001", "1999", "pw1001", 404},
		{"not registered", "1001", "1003", "pw1001", 480},
		{"stranger", "9999", "1002", "x", 403},
		{"wrong password", "1001", "1002", "nope", 407},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := call(t, c.from, c.to, c.pw)
			var de *sipgo.ErrDialogResponse
			if !errors.As(err, &de) || int(de.Res.StatusCode) != c.code {
				t.Errorf("err %v, want a %d answer", err, c.code)
			}
		})
	}

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		s, err := dua.Invite(ctx, to("1002"), nil, from("1001"), sipmsg.NewHeader("X-Wait", "1"))
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			errc <- s.WaitAnswer(ctx, sipgo.AnswerOptions{Username: "1001", Password: "pw1001", OnResponse: func(res *sipmsg.Response) error {
				if res.StatusCode == 180 {
					cancel()
				}
				return nil
			}})
		}()
		<-invites
		select {
		case <-cancels:
		case <-time.After(10 * time.Second):
			t.Fatal("the CANCEL did not reach the callee")
		}
		if err := <-errc; err == nil {
			t.Error("a canceled call was answered")
		}
	})

}

func writeFile(name, s string) error { return os.WriteFile(name, []byte(s), 0o644) }
