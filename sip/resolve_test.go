package sip_test

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/sip/siptest"
)

// TestRegisterDNS registers through each way Proxy_n_ names the registrar (SPA-BEHAVIOUR §8.5):
// an A record with a port, DNS SRV with DNS_SRV_Auto_Prefix, SRV without the prefix, and an
// outbound proxy while the proxy is the bare domain.
func TestRegisterDNS(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	dns := siptest.StartDNS(t)
	lo := netip.MustParseAddr("127.0.0.1")
	dns.SetA("pbx.spa900.test", lo)
	dns.SetSRV("_sip._udp.spa900.test", siptest.SRV{Target: "pbx.spa900.test", Port: uint16(k.Port)})
	dns.SetSRV("other.test", siptest.SRV{Target: "pbx.spa900.test", Port: uint16(k.Port)})
	tests := []struct {
		name string
		cfg  sip.Config
	}{
		{"A record with port", sip.Config{Proxy: "pbx.spa900.test:" + strconv.Itoa(k.Port)}},
		{"SRV with auto prefix", sip.Config{Proxy: "spa900.test", DNSSRV: true, SRVAutoPrefix: true}},
		{"SRV on the name itself", sip.Config{Proxy: "other.test", DNSSRV: true}},
		{"outbound proxy", sip.Config{Proxy: "spa900.test", OutboundProxy: "pbx.spa900.test:" + strconv.Itoa(k.Port)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.UserID, cfg.Password, cfg.Resolver = "1001", "secret1001", dns.Resolver()
			a := newAgent(t, cfg)
			reg, err := a.Register(t.Context(), time.Minute)
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			if reg.Server.String() != k.Addr {
				t.Errorf("answered by %v, want %s", reg.Server, k.Addr)
			}
		})
	}
}

// TestKeepAlive: the NAT keep-alive leaves from the extension's own socket, as a NOTIFY
// (Event: keep-alive), an OPTIONS or raw text (NAT_Keep_Alive_Msg_n_).
func TestKeepAlive(t *testing.T) {
	dest, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	for _, msg := range []string{"$NOTIFY", "$OPTIONS", "hello nat"} {
		a := newAgent(t, sip.Config{Proxy: "spa900.test", UserID: "1001", KeepAliveMsg: msg, KeepAliveDest: dest.LocalAddr().String()})
		if err := a.KeepAlive(t.Context()); err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		buf := make([]byte, 2048)
		dest.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := dest.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		got := string(buf[:n])
		if from.String() != a.LocalAddr().String() {
			t.Errorf("%s came from %v, want the extension's socket %v", msg, from, a.LocalAddr())
		}
		switch msg {
		case "$NOTIFY":
			if !strings.HasPrefix(got, "NOTIFY ") || !strings.Contains(got, "Event: keep-alive") {
				t.Errorf("keep-alive = %q", got)
			}
		case "$OPTIONS":
			if !strings.HasPrefix(got, "OPTIONS ") {
				t.Errorf("keep-alive = %q", got)
			}
		default:
			if got != msg {
				t.Errorf("keep-alive = %q, want %q", got, msg)
			}
		}
	}
}
