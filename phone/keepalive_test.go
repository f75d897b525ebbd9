package phone

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// TestNATKeepAliveKamailio: with NAT_Keep_Alive_Enable_1_ Yes the phone sends its keep-alive
// (NAT_Keep_Alive_Msg_1_ $NOTIFY: a NOTIFY with Event: keep-alive) to $PROXY every
// NAT_Keep_Alive_Intvl seconds of its clock, and none before: Kamailio counts them and says
// where they came from. On UDP that is the extension's own socket (the mapping a NAT keeps
// for the proxy's requests); on TCP the connection the registration went over, from the
// SIP_TCP_Port range.
func TestNATKeepAliveKamailio(t *testing.T) {
	for _, tr := range []string{"UDP", "TCP"} {
		t.Run(tr, func(t *testing.T) {
			k := siptest.StartKamailio(t, siptest.KamailioOptions{TCP: true})
			port := provtest.FreeUDPPort(t)
			if tr == "TCP" {
				port = provtest.FreeTCPPort(t)
			}
			clock := NewManualClock(voiceStart)
			u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: clock, Defaults: sipDefaults(t, k,
				"SIP_Transport_1_", tr, "SIP_Port_1_", strconv.Itoa(port),
				"NAT_Keep_Alive_Enable_1_", "Yes", "NAT_Keep_Alive_Intvl", "15")}, nil)
			waitRegistration(t, events, 1, "Registered")
			wait := func(n int) string {
				t.Helper()
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				for ctx.Err() == nil {
					if got, src := k.KeepAlives(t); got >= n {
						if got > n {
							t.Fatalf("%d keep-alives, want %d", got, n)
						}
						return src
					}
				}
				got, _ := k.KeepAlives(t)
				t.Fatalf("%d keep-alives after %v of the phone's clock, want %d", got, clock.Now().Sub(voiceStart), n)
				return ""
			}
			for i := 1; i <= 2; i++ {
				clock.Advance(14 * time.Second)
				u.Status() // the loop has taken the step
				if got, _ := k.KeepAlives(t); got != i-1 {
					t.Fatalf("%d keep-alives 1 s before keep-alive %d is due", got, i)
				}
				clock.Advance(time.Second)
				src := wait(i)
				proto, hostport, _ := strings.Cut(src, ":")
				_, p, _ := strings.Cut(hostport, ":")
				sp, _ := strconv.Atoi(p)
				switch {
				case tr == "UDP" && (proto != "udp" || sp != port):
					t.Fatalf("keep-alive from %s, want udp from the extension's port %d", src, port)
				case tr == "TCP" && (proto != "tcp" || sp < 5060 || sp > 5080):
					t.Fatalf("keep-alive from %s, want tcp from SIP_TCP_Port_Min..Max (5060..5080)", src)
				}
			}
		})
	}
}
