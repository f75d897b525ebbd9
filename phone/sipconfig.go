package phone

import (
	"crypto/tls"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
)

// The catalogue → sip.Config mapping: the only place that knows which parameter feeds which
// field of an extension's user agent (SPA-BEHAVIOUR §7.2, §8.2, §8.5).

// allowMethods is the Allow of the phone's requests and answers: the SPA9000's list, from the
// same SIP stack [obs S23] (SPA-BEHAVIOUR §13.10); allowSubscribe adds SUBSCRIBE for an
// extension that subscribes (message waiting, shared lines), the spec's emulator default.
// supported is its Supported: replaces (RFC 3891), which an incoming INVITE may carry.
var (
	allowMethods   = []string{"ACK", "BYE", "CANCEL", "INFO", "INVITE", "NOTIFY", "OPTIONS", "REFER"}
	allowSubscribe = []string{"ACK", "BYE", "CANCEL", "INFO", "INVITE", "NOTIFY", "OPTIONS", "REFER", "SUBSCRIBE"}
	supported      = []string{"replaces"}
)

// sipConfig builds extension n's agent configuration from the snapshot.
func (st *state) sipConfig(n int) (sip.Config, error) {
	sn := st.snap
	ext := func(base string) string { return sn.Get(config.ExtName(base, n)) }
	extBool := func(base string) bool { return sn.Bool(config.ExtName(base, n)) }
	ip, err := netip.ParseAddr(st.p.opts.IP)
	if err != nil {
		return sip.Config{}, err
	}
	port, _ := strconv.Atoi(ext(config.SIPPort))
	tr, ok := sip.ParseTransport(ext(config.SIPTransport))
	if !ok {
		tr = sip.TransportUDP
	}
	cfg := sip.Config{
		Ext: n, IP: ip, Port: port, Transport: tr,
		TCPPortMin: int(sn.Int(config.SIPTCPPortMin)), TCPPortMax: int(sn.Int(config.SIPTCPPortMax)),
		Proxy: ext(config.Proxy), DNSSRV: extBool(config.UseDNSSRV), SRVAutoPrefix: extBool(config.DNSSRVAutoPrefix),
		Resolver: st.p.opts.Resolver,
		UserID:   ext(config.UserID), DisplayName: ext(config.DisplayName), Password: ext(config.Password),
		UserAgent: st.sipName(sn.Get(config.SIPUserAgentName)), RegUserAgent: st.sipName(sn.Get(config.SIPRegUserAgentName)),
		ServerName:  st.sipName(sn.Get(config.SIPServerName)),
		MaxForwards: int(sn.Int(config.MaxForward)), MaxAuth: int(sn.Int(config.MaxAuth)),
		TimerB: seconds(sn.Get(config.SIPTimerB)), TimerF: seconds(sn.Get(config.SIPTimerF)),
		RegMinExpires: time.Duration(sn.Int(config.RegMinExpires)) * time.Second,
		RegMaxExpires: time.Duration(sn.Int(config.RegMaxExpires)) * time.Second,
		Rport:         sn.Bool(config.InsertVIARport),
		// A refresh answers the registrar's last challenge again (sip.Config.ReuseNonce: one
		// exchange per refresh instead of two where the registrar keeps its nonces).
		ReuseNonce: !st.p.opts.SIPFreshNonce,
		Allow:      allowMethods, Supported: supported,
		NotifyAuth: extBool(config.AuthResyncReboot),
		InviteAuth: extBool(config.AuthINVITE), DTMFMime: sn.Get(config.DTMFRelayMIMEType),
		KeepAliveMsg: ext(config.NATKeepAliveMsg), KeepAliveDest: ext(config.NATKeepAliveDest),
		MWIServer: ext(config.VoiceMailServer), MWIUser: ext(config.MailboxID), MWIDomain: st.p.opts.MWIDomainSubscribe,
		SubMinExpires: time.Duration(sn.Int(config.SubMinExpires)) * time.Second,
		SubMaxExpires: time.Duration(sn.Int(config.SubMaxExpires)) * time.Second,
		Counters:      st.p.sipCounters, Totals: st.p.opts.Counters.sipTotals(), Idle: st.p.opts.sipIdle, Trace: st.p.opts.SIPTrace,
	}
	if tr == sip.TransportTLS {
		// SIP over TLS trusts what HTTPS provisioning trusts and presents the device's
		// certificate to those who connect to it (sip/stream.go).
		m := st.p.opts.sipTLS
		if m.roots != nil {
			cfg.TLS = &tls.Config{RootCAs: m.roots}
		}
		cfg.TLSCertificate = m.cert
		cfg.TLSInsecure = st.p.opts.SIPTLSInsecure
	}
	if cfg.MWIServer != "" || cfg.MWIDomain {
		cfg.Allow = allowSubscribe
	}
	if extBool(config.SIP100RELEnable) {
		// Reliable provisionals (RFC 3262, sip/prack.go): offered in Supported, PRACK allowed.
		cfg.Rel100 = true
		cfg.Allow = append(append([]string(nil), cfg.Allow...), "PRACK")
		cfg.Supported = append(append([]string(nil), cfg.Supported...), "100rel")
	}
	if extBool(config.UseAuthID) {
		cfg.AuthID = ext(config.AuthID)
	}
	if extBool(config.UseOutboundProxy) {
		cfg.OutboundProxy = ext(config.OutboundProxy)
		cfg.OutboundInDialog = extBool(config.UseOBProxyInDialog)
	}
	if !sn.Bool(config.RandomREGCIDOnReboot) {
		cfg.CallIDSeed = st.p.id.MACHex()
	}
	return cfg, nil
}

// sipName expands SIP_User_Agent_Name and its siblings: $VERSION is the device's SIP version
// string, "Linksys/SPA942-5.1.10" (SPA-BEHAVIOUR §7.2, DECISIONS 4); $A…$D and the other
// provisioning macros expand as in rules.
func (st *state) sipName(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "$VERSION", st.p.id.SIPVersion())
	return provisioning.Expand(s, st.vars())
}

// seconds reads a decimal number of seconds (".5", "16"); 0 when empty or not a number.
func seconds(s string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}
