package sip_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/internal/testlog"

	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/sip/siptest"
)

// newAgent starts an agent for cfg on 127.0.0.1 (a free port unless cfg.Port is set),
// served until the test ends.
// rawAgentPeer starts agent 1001 that reports its events on heard (queue deep), and a raw
// UDP socket on loopback to play the far end by hand; both close with the test.
func rawAgentPeer(t *testing.T, queue int) (a *sip.Agent, heard chan sip.Event, c net.PacketConn) {
	t.Helper()
	heard = make(chan sip.Event, queue)
	a = newAgent(t, sip.Config{UserID: "1001", OnEvent: func(ev sip.Event) { heard <- ev }})
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return a, heard, c
}

func newAgent(t *testing.T, cfg sip.Config) *sip.Agent {
	t.Helper()
	cfg.IP = netip.MustParseAddr("127.0.0.1")
	if cfg.Ext == 0 {
		cfg.Ext = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = testlog.New(t)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Linksys/SPA942-5.1.10"
	}
	if cfg.TimerF == 0 {
		cfg.TimerF = 4 * time.Second
	}
	a, err := sip.NewAgent(cfg)
	if err != nil {
		t.Fatalf("NewAgent: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	t.Cleanup(func() {
		a.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return a
}

func TestRegisterKamailio(t *testing.T) {
	tests := []struct {
		name string
		opts siptest.KamailioOptions
	}{
		{"md5", siptest.KamailioOptions{}},
		{"md5 qop=auth", siptest.KamailioOptions{QOP: true}},
		{"sha-256", siptest.KamailioOptions{Algorithm: "SHA-256"}},
		{"sha-256 qop=auth", siptest.KamailioOptions{Algorithm: "SHA-256", QOP: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := siptest.StartKamailio(t, tt.opts)
			counters := &sip.Counters{}
			a := newAgent(t, sip.Config{Proxy: k.Addr, UserID: "1001", Password: "secret1001",
				DisplayName: "Alice", RegUserAgent: "Linksys/SPA942-5.1.10-reg", Counters: counters})
			reg, err := a.Register(t.Context(), 600*time.Second)
			if err != nil {
				t.Fatalf("Register: %v\n%s", err, k.Log())
			}
			if reg.Expires != 600*time.Second {
				t.Errorf("granted %v, want 10m0s", reg.Expires)
			}
			bs := k.Bindings(t)
			if len(bs) != 1 || !strings.Contains(bs[0].Contact, a.LocalAddr().String()) ||
				bs[0].UserAgent != "Linksys/SPA942-5.1.10-reg" {
				t.Fatalf("bindings = %+v, want one for %s with the REGISTER User-Agent", bs, a.LocalAddr())
			}
			if c := counters.Load(); c.MessagesSent != 2 || c.MessagesRecv != 2 || c.BytesSent == 0 {
				t.Errorf("counters = %+v, want 2 sent and 2 received (REGISTER, 401, REGISTER, 200)", c)
			}
			// A refresh keeps the Call-ID and raises the CSeq (RFC 3261 §10.2.4).
			if _, err := a.Register(t.Context(), 600*time.Second); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			bs2 := k.Bindings(t)
			if len(bs2) != 1 || bs2[0].CallID != bs[0].CallID || bs2[0].CSeq <= bs[0].CSeq {
				t.Errorf("after refresh %+v, want the same Call-ID and a higher CSeq than %+v", bs2, bs)
			}
			if _, err := a.Register(t.Context(), 0); err != nil {
				t.Fatalf("unregister: %v", err)
			}
			if bs := k.Bindings(t); len(bs) != 0 {
				t.Errorf("after unregister: %+v, want none", bs)
			}
		})
	}
}

func TestRegisterWrongPassword(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	a := newAgent(t, sip.Config{Proxy: k.Addr, UserID: "1001", Password: "wrong", MaxAuth: 2})
	_, err := a.Register(t.Context(), time.Hour)
	var re *sip.ResponseError
	if !errors.Is(err, sip.ErrAuth) || !errors.As(err, &re) || re.Code != 401 {
		t.Fatalf("Register = %v, want ErrAuth with the final 401", err)
	}
	if bs := k.Bindings(t); len(bs) != 0 {
		t.Errorf("bindings = %+v, want none", bs)
	}
}

func TestRegisterTimeoutAndFailover(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	// The first SRV entry is a port nobody answers on; the phone moves to the second.
	dead := "127.0.0.1:9"
	a := newAgent(t, sip.Config{Proxy: k.Realm + ":SRV=" + dead + ":p=0|" + k.Addr + ":p=1",
		UserID: "1001", Password: "secret1001", TimerF: 500 * time.Millisecond})
	reg, err := a.Register(t.Context(), time.Hour)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if reg.Server.String() != k.Addr {
		t.Errorf("answered by %v, want %s", reg.Server, k.Addr)
	}
	b := newAgent(t, sip.Config{Proxy: dead, UserID: "1001", Password: "secret1001", TimerF: 300 * time.Millisecond})
	if _, err := b.Register(t.Context(), time.Hour); !errors.Is(err, sip.ErrTimeout) {
		t.Errorf("Register to a silent proxy = %v, want ErrTimeout", err)
	}
}

// TestRegisterReusesNonce: with ReuseNonce a refresh answers the registrar's last challenge
// again (nonce count one up) and is accepted in one exchange; a registrar that takes each
// nonce once challenges it, and the refresh answers the new challenge (sip.Config.ReuseNonce).
func TestRegisterReusesNonce(t *testing.T) {
	tests := []struct {
		name     string
		opts     siptest.KamailioOptions
		exchange uint64 // messages sent by a refresh
	}{
		{"md5", siptest.KamailioOptions{}, 1},
		{"sha-256 qop=auth", siptest.KamailioOptions{Algorithm: "SHA-256", QOP: true}, 1},
		{"one-time nonce", siptest.KamailioOptions{QOP: true, OneTimeNonce: true}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := siptest.StartKamailio(t, tt.opts)
			counters := &sip.Counters{}
			a := newAgent(t, sip.Config{Proxy: k.Addr, UserID: "1001", Password: "secret1001", ReuseNonce: true, Counters: counters})
			if _, err := a.Register(t.Context(), 600*time.Second); err != nil {
				t.Fatalf("Register: %v\n%s", err, k.Log())
			}
			for i := range 3 {
				before := counters.Load().MessagesSent
				if _, err := a.Register(t.Context(), 600*time.Second); err != nil {
					t.Fatalf("refresh %d: %v\n%s", i, err, k.Log())
				}
				if sent := counters.Load().MessagesSent - before; sent != tt.exchange {
					t.Fatalf("refresh %d sent %d REGISTERs, want %d", i, sent, tt.exchange)
				}
			}
			if bs := k.Bindings(t); len(bs) != 1 {
				t.Fatalf("bindings = %+v", bs)
			}
		})
	}
}
