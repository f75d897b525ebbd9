package sip

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// fakeConn is the connection of a fuzzed request's transaction: it records what the agent
// answers.
type fakeConn struct {
	mu  sync.Mutex
	out []*sipmsg.Response
}

func (c *fakeConn) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060} }
func (c *fakeConn) WriteMsg(m sipmsg.Message) error {
	if r, ok := m.(*sipmsg.Response); ok {
		c.mu.Lock()
		c.out = append(c.out, r)
		c.mu.Unlock()
	}
	return nil
}
func (c *fakeConn) Ref(int) int            { return 1 }
func (c *fakeConn) TryClose() (int, error) { return 1, nil }
func (c *fakeConn) Close() error           { return nil }
func (c *fakeConn) finals() (n int, codes []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.out {
		codes = append(codes, r.StatusCode)
		if r.StatusCode >= 200 {
			n++
		}
	}
	return n, codes
}

// fuzzAgent is an agent (never served: requests go straight to its handlers) whose phone
// answers at once: control NOTIFYs 200, incoming calls 486, re-INVITEs 488. It is a shared
// line, so that dialog NOTIFYs are parsed.
func fuzzAgent(t testing.TB) *Agent {
	var a *Agent
	cfg := Config{Ext: 1, IP: netip.MustParseAddr("127.0.0.1"), Proxy: "spa900.test", UserID: "1001",
		Password: "secret1001", NotifyAuth: true, ServerName: "Linksys/SPA942-5.1.10", Logger: zap.NewNop(),
		Allow:  []string{"INVITE", "ACK", "BYE", "CANCEL", "NOTIFY", "INFO", "OPTIONS"},
		Shared: &SharedLine{User: "2000"}, // dialog NOTIFYs reach the shared line's parser
		OnEvent: func(ev Event) {
			switch ev := ev.(type) {
			case *ControlRequest:
				ev.Respond(200, "OK")
			case *IncomingCall:
				a.Reject(ev.ID, 486, "Busy Here")
			case *CallReinvite:
				ev.Reject(488, "Not Acceptable Here")
			}
		}}
	a, err := NewAgent(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// FuzzRequest feeds raw SIP into the agent's request handlers (INVITE, NOTIFY, REFER, BYE, and
// every other method): whatever the bytes, no panic, and every request sipgo can parse and
// key gets exactly one final answer (ACK none).
func FuzzRequest(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "torture", "*.sip"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	a := fuzzAgent(f)
	handlers := map[sipmsg.RequestMethod]func(*sipmsg.Request, sipmsg.ServerTransaction){
		sipmsg.INVITE: a.onInvite, sipmsg.NOTIFY: a.onNotify, sipmsg.BYE: a.onBye,
		sipmsg.ACK: a.onAck, sipmsg.CANCEL: a.onCancel, sipmsg.INFO: a.onInfo, sipmsg.OPTIONS: a.onOptions,
		sipmsg.REFER: a.onRefer, sipmsg.PRACK: a.onPrack, sipmsg.SUBSCRIBE: a.onSubscribe,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sipmsg.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sipmsg.Request)
		if !ok || req.Via() == nil || req.CSeq() == nil || req.From() == nil || req.To() == nil || req.CallID() == nil {
			return // sipgo answers 400 itself, or drops it, before any handler
		}
		req.SetSource("127.0.0.1:5099")
		req.SetTransport("UDP")
		key, err := sipmsg.ServerTxKeyMake(req)
		if err != nil {
			return
		}
		conn := &fakeConn{}
		tx := sipmsg.NewServerTx(key, req, conn, sipgoLogger(zap.NewNop()))
		if err := tx.Init(); err != nil {
			return
		}
		defer tx.Terminate()
		h := handlers[req.Method]
		if h == nil {
			h = func(r *sipmsg.Request, tx sipmsg.ServerTransaction) {
				a.respond(r, tx, 405, "Method Not Allowed", a.allowHeader())
			}
		}
		h(req, tx)
		n, codes := conn.finals()
		if req.IsAck() {
			if n != 0 {
				t.Fatalf("ACK answered %v", codes)
			}
			return
		}
		if n != 1 {
			t.Fatalf("%s answered with %v, want exactly one final response\n%s", req.Method, codes, data)
		}
	})
}

// FuzzDialogInfo feeds arbitrary bodies to the dialog-info parser (a shared-line server's
// NOTIFY, SPA-BEHAVIOUR §13.8): no panic, and whatever it takes writes out and reads back.
func FuzzDialogInfo(f *testing.F) {
	for _, s := range []SharedState{
		{Full: true},
		{Entity: "sip:5031@pbx", Dialogs: []SharedDialog{{ID: "a", LineID: 0, State: "trying", Initiator: true, Local: "sip:5031@pbx"}}},
		{Version: 7, Dialogs: []SharedDialog{{ID: "b", LineID: 1, State: "confirmed", Held: true, CallID: "c@h", LocalTag: "l",
			RemoteTag: "r", Local: "sip:5032@pbx", Remote: "sip:100@pbx", RemoteTarget: "sip:100@10.0.0.1"}}},
	} {
		b, _ := MarshalDialogInfo(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseDialogInfo(body)
		if err != nil {
			return
		}
		b, err := MarshalDialogInfo(s)
		if err != nil {
			t.Fatalf("read %+v, cannot write it: %v", s, err)
		}
		again, err := ParseDialogInfo(b)
		if err != nil || again.Full != s.Full || len(again.Dialogs) != len(s.Dialogs) {
			t.Fatalf("written %s, read back %+v, %v; want %+v", b, again, err, s)
		}
	})
}
