package sip_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/spa900/spa900/sip"
)

// sipgoLog is sipgo's process logger in this package's tests (sipgo's DefaultLogger, which its
// connections log through, reference counts among them). It is set once, in TestMain, before
// any agent exists: sipgo reads it from goroutines that outlive an agent's Close, so a test
// that set it would race with the agents of the tests before it.
var sipgoLog = &procRecorder{out: slog.NewTextHandler(os.Stderr, nil)}

func TestMain(m *testing.M) {
	sipmsg.SetDefaultLogger(slog.New(sipgoLog))
	os.Exit(m.Run())
}

// procRecorder writes sipgo's process lines at info and above to stderr, as sipgo's default
// does, and keeps those at warn and above for the tests to look for.
type procRecorder struct {
	out  slog.Handler
	mu   sync.Mutex
	warn []slog.Record
}

func (r *procRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (r *procRecorder) WithAttrs([]slog.Attr) slog.Handler           { return r }
func (r *procRecorder) WithGroup(string) slog.Handler                { return r }

func (r *procRecorder) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelWarn {
		r.mu.Lock()
		r.warn = append(r.warn, rec.Clone())
		r.mu.Unlock()
	}
	return r.out.Handle(ctx, rec)
}

// warnings returns the warnings sipgo logged about connections whose local address is one of
// addrs (its connection lines name it "ip" or "src", the far end "dst"), so that the lines of
// other tests' agents, and of the far end of the test's own connections, are not counted.
func (r *procRecorder) warnings(addrs map[string]bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ws []string
	for _, rec := range r.warn {
		ours := false
		var attrs []string
		rec.Attrs(func(a slog.Attr) bool {
			ours = ours || (a.Key == "ip" || a.Key == "src") && addrs[a.Value.String()]
			attrs = append(attrs, a.String())
			return true
		})
		if ours {
			ws = append(ws, rec.Message+" "+strings.Join(attrs, " "))
		}
	}
	return ws
}

// TestCloseReleasesConnectionsInOrder: an agent on TCP that placed a call keeps the INVITE's
// client transaction after the 2xx (RFC 6026 Accepted, Timer M), after the BYE too, with its
// reference on the connection. Closing the agent ends its transactions before it closes their connections, as
// sipgo's own UserAgent.Close orders it: closing the connection first zeroes sipgo's reference
// count under the live transaction, whose end then drives it below zero ("TCP ref went
// negative", at warn on sipgo's process logger).
func TestCloseReleasesConnectionsInOrder(t *testing.T) {
	callee := make(chan sip.Event, 16)
	caller := make(chan sip.Event, 16)
	b := newAgent(t, sip.Config{Ext: 2, UserID: "1002", Transport: sip.TransportTCP, OnEvent: func(ev sip.Event) { callee <- ev }})
	a := newAgent(t, sip.Config{UserID: "1001", Transport: sip.TransportTCP, OnEvent: func(ev sip.Event) { caller <- ev }})
	id, err := a.Dial(sip.DialRequest{To: "sip:1002@" + b.LocalAddr().String() + ";transport=tcp", SDP: []byte("v=0\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for answered := false; !answered; {
		select {
		case ev := <-callee:
			if ic, ok := ev.(*sip.IncomingCall); ok {
				b.Answer(ic.ID, []byte("v=0\r\n"))
			}
		case ev := <-caller:
			switch ev := ev.(type) {
			case *sip.CallAnswered:
				answered = true
			case *sip.CallFailed:
				t.Fatalf("call failed: %+v", ev)
			}
		case <-deadline:
			t.Fatal("the call was never answered")
		}
	}
	// Hung up, the INVITE's transaction stays (Timer M); the callee's handler is done.
	if err := a.Hangup(id); err != nil {
		t.Fatal(err)
	}
	for ended := false; !ended; {
		select {
		case ev := <-callee:
			_, ended = ev.(*sip.CallEnded)
		case <-deadline:
			t.Fatal("the callee never heard the BYE")
		}
	}
	// The caller's own connection, from the port its system chose.
	local, _ := a.StreamConns()
	if len(local) != 1 {
		t.Fatalf("the caller has connections from %v, want one", local)
	}
	a.Close()
	for _, w := range sipgoLog.warnings(map[string]bool{local[0].String(): true}) {
		t.Errorf("sipgo: %s", w)
	}
}
