package sip

import (
	"crypto/tls"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"
)

// Transport is the transport an extension's signalling uses (SPA-BEHAVIOUR §8.5
// SIP_Transport_n_).
type Transport uint8

// Transports.
const (
	TransportUnknown Transport = iota
	TransportUDP
	TransportTCP
	TransportTLS
)

// String returns "udp", "tcp" or "tls".
func (t Transport) String() string {
	switch t {
	case TransportUDP:
		return "udp"
	case TransportTCP:
		return "tcp"
	case TransportTLS:
		return "tls"
	}
	return "unknown"
}

// srvPrefix returns the service and protocol labels of the transport's SRV records (RFC
// 3263 §4.1): "_sip._udp.", "_sip._tcp.", and "_sips._tcp." for TLS, which runs over TCP.
func (t Transport) srvPrefix() string {
	switch t {
	case TransportTCP:
		return "_sip._tcp."
	case TransportTLS:
		return "_sips._tcp."
	}
	return "_sip._udp."
}

// via returns the transport as a Via header names it.
func (t Transport) via() string {
	switch t {
	case TransportTCP:
		return "TCP"
	case TransportTLS:
		return "TLS"
	}
	return "UDP"
}

// ParseTransport reads "UDP", "TCP" or "TLS" (any case).
func ParseTransport(s string) (Transport, bool) {
	switch s {
	case "UDP", "udp", "Udp":
		return TransportUDP, true
	case "TCP", "tcp", "Tcp":
		return TransportTCP, true
	case "TLS", "tls", "Tls":
		return TransportTLS, true
	}
	return TransportUnknown, false
}

// Config is everything one extension's agent needs. The phone builds it from its
// configuration; this package knows no parameter names.
type Config struct {
	// Ext is the extension's index, 1-based. It appears in the tags the agent makes
	// (SPA-BEHAVIOUR §13.10: "o0" for a dialog Ext 1 originated).
	Ext int
	// IP is the phone's address; Port the extension's SIP port (SIP_Port_n_). The agent
	// binds IP:Port for UDP (and TCP/TLS when that is the transport).
	IP   netip.Addr
	Port int
	// Transport is SIP_Transport_n_. TCPPortMin and TCPPortMax are the source ports of the
	// connections the phone opens (SIP_TCP_Port_Min/Max); 0 lets the system choose.
	Transport              Transport
	TCPPortMin, TCPPortMax int
	// TLS is the client configuration of TLS connections (trust: RootCAs; a client
	// certificate); nil uses the system roots. TLSInsecure accepts any server certificate
	// (labs). TLSCertificate is what the phone presents to those who connect to it; nil: a
	// self-signed one made at start. See stream.go for the decisions.
	TLS            *tls.Config
	TLSInsecure    bool
	TLSCertificate *tls.Certificate

	// Proxy is Proxy_n_ as configured: host, host:port, or the static SRV list
	// "name:SRV=host:port:p=0:w=1|host2:port:p=1" (SPA-BEHAVIOUR §8.5).
	Proxy string
	// OutboundProxy, when set, is where requests are sent (Use_Outbound_Proxy_n_); in-dialog
	// requests too when OutboundInDialog (Use_OB_Proxy_In_Dialog_n_).
	OutboundProxy    string
	OutboundInDialog bool
	// DNSSRV looks the proxy up with DNS SRV (Use_DNS_SRV_n_); SRVAutoPrefix prepends
	// "_sip._udp." ("_sip._tcp.", "_sips._tcp." for TLS) to the name first
	// (DNS_SRV_Auto_Prefix_n_).
	DNSSRV, SRVAutoPrefix bool
	// Resolver resolves proxy names; nil is the system's.
	Resolver *net.Resolver

	// UserID, DisplayName, AuthID and Password are the subscriber's (Ext n, Subscriber
	// Information). AuthID, when not empty, is the digest user name (Use_Auth_ID_n_).
	UserID, DisplayName, AuthID, Password string

	// UserAgent is the User-Agent of requests (SIP_User_Agent_Name after macro expansion;
	// empty: no header), RegUserAgent that of REGISTER (SIP_Reg_User_Agent_Name; empty:
	// UserAgent), ServerName the Server of responses (SIP_Server_Name; empty: no header).
	UserAgent, RegUserAgent, ServerName string
	// MaxForwards is Max_Forward; MaxAuth how many challenges in a row a request answers
	// (Max_Auth).
	MaxForwards, MaxAuth int
	// TimerB and TimerF bound INVITE and non-INVITE client transactions (SIP_Timer_B,
	// SIP_Timer_F); 0 means 64×T1. The retransmission timers T1/T2/T4 are process-wide in
	// sipgo: see SetProcessTimers.
	TimerB, TimerF time.Duration
	// RegMinExpires and RegMaxExpires bound the registration expiry a registrar grants
	// (Reg_Min_Expires, Reg_Max_Expires); 0 means no bound.
	RegMinExpires, RegMaxExpires time.Duration
	// Rport adds ;rport to the Via of requests (Insert_VIA_rport, RFC 3581).
	Rport bool
	// CallIDSeed, when not empty, makes the REGISTER Call-ID the same at every boot: it is
	// derived from the seed (the MAC) and the extension (Random_REG_CID_On_Reboot = No).
	CallIDSeed string
	// RegCSeq is the CSeq of the extension's last REGISTER (see [Agent.RegCSeq]), so that an
	// agent that replaces another one continues its sequence (RFC 3261 §10.2.4: a registrar
	// refuses a lower CSeq for the same Call-ID). 0 starts a new one: random-looking, or,
	// with a CallIDSeed, derived from the clock so that it also grows across reboots.
	RegCSeq uint32
	// Allow and Supported are the Allow and Supported header values of requests and answers
	// (SPA-BEHAVIOUR §13.10; the phone decides them).
	Allow, Supported []string

	// ReuseNonce answers a registrar's last challenge again in the next REGISTER, its nonce
	// count one up, instead of sending it without credentials to be challenged anew (RFC
	// 3261 §22.1 lets a UA cache credentials; RFC 7616 §3.4 the nonce count). The sources do
	// not say what the SPA942 does (SPA-BEHAVIOUR §8.2 is silent); the phone decides. A
	// registrar that takes each nonce once answers 401 (stale) and the REGISTER answers that
	// challenge as it would have: one exchange more for such a server, one less for the
	// others on every refresh.
	ReuseNonce bool

	// InviteAuth challenges incoming INVITEs with 401 (Auth_INVITE_n_).
	InviteAuth bool
	// Rel100 turns on reliable provisional responses (RFC 3262, SIP_100REL_Enable_n_):
	// the agent PRACKs the reliable 1xx of its INVITEs, and sends its own 180 reliably
	// when the caller supports or requires 100rel. Off, a reliable 1xx is taken as an
	// ordinary one and an INVITE that requires 100rel gets 420 (see prack.go). The phone
	// lists 100rel in Supported and PRACK in Allow when it sets this.
	Rel100 bool
	// DTMFMime is the Content-Type of DTMF sent in SIP INFO (DTMF_Relay_MIME_Type).
	DTMFMime string

	// MWIServer is where the extension subscribes to its voice mail's message-summary
	// (Voice_Mail_Server_n_, host[:port]); MWIUser is the mailbox, the Request-URI's user
	// part (Mailbox_ID_n_; empty: UserID). With MWIServer empty and MWIDomain, the SUBSCRIBE
	// goes to the proxy's bare domain, without a user part, the form a SPA962 6.1.5 was seen
	// sending (SPA-BEHAVIOUR §13.9). See [Agent.SubscribeMWI].
	MWIServer, MWIUser string
	MWIDomain          bool
	// SubMinExpires and SubMaxExpires bound the expiry a notifier grants (Sub_Min_Expires,
	// Sub_Max_Expires); 0 means no bound.
	SubMinExpires, SubMaxExpires time.Duration

	// Shared, when not nil, makes the extension a shared line appearance (Share_Ext_n_
	// shared, SPA-BEHAVIOUR §13.8): see shared.go and [Agent.PublishShared].
	Shared *SharedLine

	// NotifyAuth challenges control NOTIFYs with 401 and acts only on a retry that answers
	// with this extension's credentials (Auth_Resync-Reboot_n_, SPA-BEHAVIOUR §6).
	NotifyAuth bool

	// KeepAliveMsg is what a NAT keep-alive sends (NAT_Keep_Alive_Msg_n_): "$NOTIFY",
	// "$OPTIONS", "$REGISTER" or any other text, sent as is in one datagram. KeepAliveDest is
	// where (NAT_Keep_Alive_Dest_n_): "$PROXY" or host[:port].
	KeepAliveMsg, KeepAliveDest string

	// Counters, when not nil, count every message and byte the agent sends and receives
	// (the Phone Status SIP counters); one set may be shared by a phone's agents.
	Counters *Counters
	// Totals, when not nil, count the messages by kind for metrics; a fleet shares one
	// among all its agents, across reboots.
	Totals *Totals
	// Idle, when not nil, waits for the first datagram of an agent started with
	// [Agent.Start] on UDP, in place of a goroutine of its own; a fleet shares one.
	Idle *IdleWatch
	// Trace logs every message sent and received, whole (spa900 --sip-trace).
	Trace bool
	// Logger receives the agent's decisions; nil discards. sipgo's own lines go to it at
	// debug level.
	Logger *zap.Logger
	// OnEvent receives what the phone must know or decide; nil drops events (and requests
	// that need a decision are answered 503).
	OnEvent func(Event)
}

// identity returns the digest user name: the Auth ID when set, else the user ID.
func (c *Config) authUser() string {
	if c.AuthID != "" {
		return c.AuthID
	}
	return c.UserID
}

// timerF is the bound of a non-INVITE client transaction.
func (c *Config) timerF() time.Duration {
	if c.TimerF > 0 {
		return c.TimerF
	}
	return 32 * time.Second
}
