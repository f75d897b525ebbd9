package sip_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/sip/siptest"
)

// TestRegisterTCPKamailio: an extension on TCP registers with Kamailio over one connection,
// opened from the SIP_TCP_Port range and reused by the refresh; Via and Contact say TCP; when
// Kamailio goes away the agent reports the registration's connection lost.
func TestRegisterTCPKamailio(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{TCP: true})
	src := provtest.FreeTCPPort(t)
	counters := &sip.Counters{}
	events := make(chan sip.Event, 16)
	a := newAgent(t, sip.Config{Proxy: k.Addr, UserID: "1001", Password: "secret1001", Transport: sip.TransportTCP,
		TCPPortMin: src, TCPPortMax: src, Counters: counters, OnEvent: func(e sip.Event) { events <- e }})
	for i := range 2 {
		if _, err := a.Register(t.Context(), 600*time.Second); err != nil {
			t.Fatalf("Register %d: %v\n%s", i, err, k.Log())
		}
	}
	bs := k.Bindings(t)
	if len(bs) != 1 || !strings.Contains(bs[0].Contact, a.LocalAddr().String()+";transport=tcp") || bs[0].CSeq < 2 {
		t.Fatalf("bindings = %+v, want one for %s;transport=tcp, refreshed", bs, a.LocalAddr())
	}
	local, remote := a.StreamConns()
	if len(remote) != 1 || remote[0].String() != k.Addr || local[0].Port() != uint16(src) {
		t.Fatalf("connections %v → %v, want one from port %d to %s", local, remote, src, k.Addr)
	}
	// REGISTER, 401, REGISTER, 200, twice: message counts are read by reads and writes, the
	// bytes exactly; every one went over the one connection.
	if c := counters.Load(); c.MessagesSent != 4 || c.BytesSent == 0 || c.BytesRecv == 0 {
		t.Errorf("counters = %+v, want 4 sent", c)
	}
	k.Stop()
	ctx := t.Context()
	for {
		select {
		case e := <-events:
			if lost, ok := e.(*sip.ConnectionLost); ok {
				if lost.Remote.String() != k.Addr {
					t.Fatalf("lost %v, want %s", lost.Remote, k.Addr)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no ConnectionLost after Kamailio stopped")
		}
	}
}

// TestRegisterTLSKamailio: an extension on TLS registers with Kamailio's tls module when the
// proxy's certificate chains to the trust anchors and names the proxy's domain; it refuses a
// certificate it cannot verify unless told to trust any (sip/stream.go's decision).
func TestRegisterTLSKamailio(t *testing.T) {
	pki := siptest.NewPKI(t, "spa900.test")
	k := siptest.StartKamailio(t, siptest.KamailioOptions{TCP: true, TLSCert: pki.CertPEM, TLSKey: pki.KeyPEM})
	dns := siptest.StartDNS(t)
	dns.SetA("spa900.test", netip.MustParseAddr("127.0.0.1"))
	_, port, _ := strings.Cut(k.TLSAddr, ":")
	proxy := "spa900.test:" + port
	base := sip.Config{Proxy: proxy, Resolver: dns.Resolver(), UserID: "1001", Password: "secret1001", Transport: sip.TransportTLS}

	t.Run("verified", func(t *testing.T) {
		cfg := base
		cfg.TLS = &tls.Config{RootCAs: pki.Roots}
		a := newAgent(t, cfg)
		if _, err := a.Register(t.Context(), 600*time.Second); err != nil {
			t.Fatalf("Register: %v\n%s", err, k.Log())
		}
		found := false
		for _, b := range k.Bindings(t) {
			found = found || strings.Contains(b.Contact, a.LocalAddr().String()+";transport=tls")
		}
		if !found {
			t.Fatalf("bindings = %+v, want one for %s;transport=tls", k.Bindings(t), a.LocalAddr())
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		a := newAgent(t, base) // the host's roots: the test CA is not among them
		_, err := a.Register(t.Context(), 600*time.Second)
		var uerr x509UnknownAuthority
		if err == nil || !errors.As(err, &uerr) {
			t.Fatalf("Register = %v, want an unknown-authority error", err)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		cfg := base
		cfg.TLSInsecure = true
		a := newAgent(t, cfg)
		if _, err := a.Register(t.Context(), 600*time.Second); err != nil {
			t.Fatalf("Register: %v\n%s", err, k.Log())
		}
	})
}

type x509UnknownAuthority = x509.UnknownAuthorityError
