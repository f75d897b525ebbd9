package phone

import (
	"net"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
)

// Options configure a phone unit. Identity fields apply when the flash is first written;
// afterwards the flash keeps the unit's identity, as a real phone keeps its MAC and firmware.
type Options struct {
	// Flash keeps the unit's persistent state: a [config.FileFlash] (one file per phone,
	// the layout a user reads by hand) or a [config.DBFlash] (a fleet's database). Required.
	Flash FlashStore
	// Model, MAC, Serial, Software and Hardware give the identity of a new unit. Empty values
	// take the defaults: SPA942, a generated MAC in the Linksys OUI, a serial derived from the
	// MAC, DefaultSoftware, DefaultHardware.
	Model    string
	MAC      string
	Serial   string
	Software string
	Hardware string
	// IP is the phone's own address: SIP, RTP and provisioning traffic leave from it.
	IP string
	// Defaults are the unit's factory defaults on top of the catalogue's (the --set and
	// --profile values): applied on first boot and after a factory reset.
	Defaults []config.Change
	// FactoryReset resets the configuration to the factory defaults before the first boot.
	FactoryReset bool
	// Clock is the policy clock; nil means the host clock.
	Clock Clock
	// BootTime is how long an emulated boot takes, during which the phone answers nothing.
	BootTime time.Duration
	// TFTPServer stands in for DHCP option 66: the server of rule URLs that name none.
	TFTPServer string
	// Provisioning configures the fetchers (trust, client certificate).
	Provisioning ProvisioningOptions
	// EventHistoryBytes bounds what the unit's event bus keeps for replays (the events'
	// encoded JSON plus a small overhead each, see [Bus]); 0 means
	// [DefaultEventHistoryBytes]. The bus lives as long as the unit, so in a fleet this is
	// paid once per phone.
	EventHistoryBytes int
	// Transfers, when set, bounds the provisioning transfers run at once by all the units
	// that share it (a fleet's, sized to its open file limit); nil: no bound.
	Transfers *Limiter
	// Logger receives one line per decision; nil discards.
	Logger *zap.Logger
	// LogFields are fields every line of the unit carries, before its phone's MAC (a
	// fleet's index and name of the phone). Given beside Logger, not with it, so that the
	// unit adds them together with the MAC once it knows it: one encoder a phone, made when
	// it first writes (a Logger.WithLazy of them and the unit's of the MAC on top make two).
	LogFields []zap.Field
	// Resolver resolves SIP proxy names (A and SRV); nil is the system's.
	Resolver *net.Resolver
	// SIPTrace logs every SIP message sent and received, whole (--sip-trace).
	SIPTrace bool
	// SIPFreshNonce sends every REGISTER without credentials, to answer a new challenge
	// (--sip-fresh-nonce); off, a refresh answers the registrar's last challenge again
	// (sip.Config.ReuseNonce), one exchange instead of two.
	SIPFreshNonce bool
	// SIPTLSInsecure accepts any certificate from the proxy of an extension on TLS
	// (SIP_Transport_n_ = TLS), for labs with a self-signed PBX (--sip-tls-insecure). Off, the
	// proxy's certificate must chain to Provisioning.CAFile (else the host's roots) and name
	// the proxy (sip/stream.go has the decision and its reason).
	SIPTLSInsecure bool
	// sipTLS is the trust and device certificate the unit loaded from Provisioning, which
	// SIP over TLS uses too.
	sipTLS tlsMaterial
	// Media is the phone's default audio for every call (--audio-source, --record-dir,
	// --impair).
	Media MediaOptions
	// Seed, when not 0, seeds the phone's random delays (Resync_Random_Delay, the random
	// parts of schedules) with Seed and the boot count instead of the boot time, so that a
	// fleet's delays are the same from one run to the next.
	Seed uint64
	// Counters receive the unit's event counts for metrics; a fleet gives all its units the
	// same. nil: the unit keeps its own ([Unit.Counters]).
	Counters *Counters
	// MediaScheduler paces the RTP of the phone's calls together with other phones' (a
	// fleet gives all its units one: [NewFleet]); the phone does not close it. nil: the
	// phone's media engine runs its own pacers.
	MediaScheduler *media.Scheduler
	// MWIDomainSubscribe makes an extension without a Voice_Mail_Server_n_ subscribe to
	// message-summary at its proxy's bare domain, as a SPA962 6.1.5 was seen doing
	// (SPA-BEHAVIOUR §13.9; --mwi-subscribe-domain). Off, such an extension subscribes to
	// nothing and takes the unsolicited NOTIFYs only: which settings made the real phone send
	// that request is unknown, and a PBX that answers it 404 would only see retries.
	MWIDomainSubscribe bool

	// shared is what the units of a fleet share of their configurations (NewFleet sets it).
	shared *sharedSnapshots
	// lend lends the units of a fleet the buffers of their resyncs (NewFleet sets it).
	lend *lender
	// rules keeps the rules a fleet's phones parsed (NewFleet sets it; nil: none kept).
	rules *ruleCache
	// memo holds the unit's profile memo across its boots (NewUnit sets it; nil: each
	// phone has one of its own).
	memo *atomic.Pointer[profileMemo]
	// sipIdle waits for the first datagram of the fleet's idle extensions (Fleet.Run sets it).
	sipIdle *sip.IdleWatch
	// workers runs the tracked goroutines' jobs of a fleet's phones (NewFleet sets it; nil:
	// a goroutine each).
	workers *workers
	// files bounds the files the SIP extensions and calls of a fleet's phones hold together
	// (Fleet.LimitPhoneFiles sets it; nil: no bound but the process's).
	files *fileQuota
}

// FlashStore keeps a unit's flash. Save and CountBoot return once what they wrote is durable;
// Commit returns at once and calls done, on another goroutine and without blocking, once
// the flash is durable. Saves and commits of one store land in the order they were made.
type FlashStore interface {
	Load() (*config.Flash, error)
	Save(fl *config.Flash) error
	Commit(fl *config.Flash, done func(error))
	CountBoot(fl *config.Flash) error
	MoveAside(now time.Time) (string, config.Flash, error)
	RemoveStale() error
	Path() string
}

// ProvisioningOptions configure how the phone talks to provisioning servers.
type ProvisioningOptions struct {
	// CAFile is a PEM bundle of the CAs that HTTPS servers must chain to; empty uses the
	// host's trust store.
	CAFile string
	// ClientCert and ClientKey are PEM files of the phone's client certificate ($CCERT).
	ClientCert string
	ClientKey  string
	// Insecure skips HTTPS server verification (labs only).
	Insecure bool
	// AcceptSHA256 accepts encrypted profiles whose key was derived with SHA-256 (openssl
	// 1.1's default), an extension: a real 5.1 phone fails the resync (DECISIONS 6).
	AcceptSHA256 bool
	// FetchTimeout bounds one whole download or upload (connection, request, body) in real
	// time, as a protocol timer (DECISIONS 20); 0 means provisioning.DefaultFetchTimeout.
	// A server that stalls fails the resync once it runs out, and the retry schedule counts
	// from then.
	FetchTimeout time.Duration
}
