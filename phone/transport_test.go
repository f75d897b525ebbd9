package phone

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// tcpDefaults are sipDefaults for an extension on SIP_Transport_1_ = TCP, listening on a
// free TCP port; its connections leave from the factory SIP_TCP_Port_Min..Max.
func tcpDefaults(t *testing.T, k *siptest.Kamailio, sets ...string) ([]string, string) {
	t.Helper()
	port := strconv.Itoa(provtest.FreeTCPPort(t))
	return append([]string{"SIP_Transport_1_", "TCP", "SIP_Port_1_", port}, sets...), "127.0.0.1:" + port
}

// TestCallOverTCPKamailio: two phones on TCP register with Kamailio and call each other
// through it: the INVITE reaches the callee over the connection Kamailio opens to its
// listener, the answers and the BYE over the connections in place.
func TestCallOverTCPKamailio(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{TCP: true})
	setsA, addrA := tcpDefaults(t, k)
	setsB, addrB := tcpDefaults(t, k, "User_ID_1_", "1002", "Password_1_", "secret1002", "Display_Name_1_", "Bob")
	ua, ea := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k, setsA...)}, nil)
	ub, eb := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k, setsB...)}, nil)
	waitRegistration(t, ea, 1, "Registered")
	waitRegistration(t, eb, 1, "Registered")
	contacts := map[string]bool{}
	for _, b := range k.Bindings(t) {
		contacts[b.Contact] = true
	}
	for _, addr := range []string{addrA, addrB} {
		found := false
		for c := range contacts {
			found = found || strings.Contains(c, addr+";transport=tcp")
		}
		if !found {
			t.Fatalf("no binding for %s;transport=tcp in %v", addr, contacts)
		}
	}
	pa, pb := mustPhone(t, ua), mustPhone(t, ub)
	call, bid := callAnswered(t, pa, ea, pb, eb, "1002")
	if _, err := pb.Hangup(t.Context(), bid); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, call.ID, "Ended")
	waitCall(t, eb, bid, "Ended")
}

// TestReregisterWhenTCPConnectionDrops: Kamailio closes the connection a phone on TCP
// registered over, right after the 200 of a refresh; the phone registers again at once,
// without its clock moving (no refresh is due), over a new connection.
func TestReregisterWhenTCPConnectionDrops(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{TCP: true})
	sets, _ := tcpDefaults(t, k, "Register_Expires_1_", "60")
	clock := NewManualClock(voiceStart)
	_, events := startUnit(t, Options{IP: "127.0.0.1", Clock: clock, Defaults: sipDefaults(t, k, sets...)}, nil)
	waitRegistration(t, events, 1, "Registered")
	k.CloseAfterNextRegister(t)
	clock.Advance(30 * time.Second) // the refresh is due (refreshIn(60 s))
	waitRegistration(t, events, 1, "Registered")
	again := waitRegistration(t, events, 1, "Registered") // after the loss, the clock still
	if again.Data["expires_seconds"] != int64(60) {
		t.Fatalf("registration after the loss = %v", again.Data)
	}
	bs := k.Bindings(t)
	if len(bs) != 1 || bs[0].CSeq < 3 {
		t.Fatalf("bindings = %+v, want one, registered three times", bs)
	}
}

// TestCallSIPpCallsPhoneOverTCP: SIPp calls a phone on TCP over a connection of its own to
// the phone's listener (sipp -t t1); the phone answers on it and takes SIPp's BYE on it.
func TestCallSIPpCallsPhoneOverTCP(t *testing.T) {
	port := strconv.Itoa(provtest.FreeTCPPort(t))
	base := []string{"Resync_On_Reset", "No", "Proxy_1_", "", "User_ID_1_", "1001", "SIP_Transport_1_", "TCP",
		"SIP_Port_1_", port, "Line_Enable_2_", "No", "Line_Enable_3_", "No", "Line_Enable_4_", "No"}
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: defaults(base...)}, nil)
	uac := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "uac-call.xml", Target: "127.0.0.1:" + port, Service: "1001",
		Keys: map[string]string{"header": "Subject: over TCP"}, Args: []string{"-t", "t1"}})
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	var id string
	for id == "" {
		select {
		case e := <-events:
			if e.Kind == EventCall && e.Data["state"] == CallRinging {
				id = e.Data["call"].(string)
			}
		case <-uac.Done():
			t.Fatalf("sipp ended before the phone rang: %s", uac.Wait(time.Second).Output)
		case <-ctx.Done():
			uac.Stop()
			t.Fatalf("the phone never rang; sipp: %s", uac.Wait(time.Second).Output)
		}
	}
	if _, err := mustPhone(t, u).Answer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	waitCall(t, events, id, CallConnected)
	waitCall(t, events, id, "Ended")
	if res := uac.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
}

// TestCallOverTLSKamailio: two phones on TLS (SIP_Transport_1_ = TLS) register with
// Kamailio's tls module by its domain, trusting the CA of the phone's CA file (the one HTTPS
// provisioning uses), and call each other: Kamailio reaches the callee over a TLS connection
// to its listener, which presents the phone's own certificate.
func TestCallOverTLSKamailio(t *testing.T) {
	pki := siptest.NewPKI(t, "spa900.test")
	k := siptest.StartKamailio(t, siptest.KamailioOptions{TCP: true, TLSCert: pki.CertPEM, TLSKey: pki.KeyPEM})
	dns := siptest.StartDNS(t)
	dns.SetA("spa900.test", netip.MustParseAddr("127.0.0.1"))
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pki.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	_, tlsPort, _ := strings.Cut(k.TLSAddr, ":")
	start := func(sets ...string) (*Unit, <-chan Event) {
		port := strconv.Itoa(provtest.FreeTCPPort(t))
		sets = append([]string{"SIP_Transport_1_", "TLS", "SIP_Port_1_", port, "Proxy_1_", "spa900.test:" + tlsPort}, sets...)
		return startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Resolver: dns.Resolver(),
			Provisioning: ProvisioningOptions{CAFile: caFile}, Defaults: sipDefaults(t, k, sets...)}, nil)
	}
	ua, ea := start()
	ub, eb := start("User_ID_1_", "1002", "Password_1_", "secret1002", "Display_Name_1_", "Bob")
	waitRegistration(t, ea, 1, "Registered")
	waitRegistration(t, eb, 1, "Registered")
	pa, pb := mustPhone(t, ua), mustPhone(t, ub)
	call, bid := callAnswered(t, pa, ea, pb, eb, "1002")
	if _, err := pa.Hangup(t.Context(), call.ID); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, call.ID, "Ended")
	waitCall(t, eb, bid, "Ended")
}
