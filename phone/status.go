package phone

import (
	"slices"
	"time"

	"github.com/spa900/spa900/provisioning/config"
)

// State is the lifecycle state of a phone unit.
type State string

// Lifecycle states.
const (
	StateBooting   State = "booting"   // emulated boot: the phone answers nothing
	StateRunning   State = "running"   // in service
	StateRebooting State = "rebooting" // going down for a reboot
	StateUpgrading State = "upgrading" // downloading and flashing firmware
	StateStopped   State = "stopped"
)

// Status is an immutable snapshot of a phone unit, published after every turn of its loop.
type Status struct {
	Model     string    `json:"model"`
	MAC       string    `json:"mac"`
	Serial    string    `json:"serial"`
	Software  string    `json:"software"`
	Hardware  string    `json:"hardware"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"http_user_agent"`
	SIPAgent  string    `json:"sip_version"`
	State     State     `json:"state"`
	BootCount int       `json:"boot_count"`
	BootedAt  time.Time `json:"booted_at"`
	Now       time.Time `json:"now"`
	UptimeSec int64     `json:"uptime_seconds"`
	Idle      bool      `json:"idle"`
	OffHook   bool      `json:"offhook"`
	// Pending lists the operations waiting for the idle gate, with why they wait.
	Pending    []Pending         `json:"pending"`
	Extensions []ExtensionStatus `json:"extensions"`
	// Calls are the calls in progress, oldest first.
	Calls        []CallStatus       `json:"calls"`
	Provisioning ProvisioningStatus `json:"provisioning"`
	Upgrade      UpgradeStatus      `json:"upgrade"`
	// Info holds the live values of the Info tab and the export's Info/ group.
	Info config.Info `json:"-"`
	// Config is the configuration in force.
	Config *config.Snapshot `json:"-"`
	// media are the calls' sessions, whose statistics a read brings up to date
	// (phone/media_engine.go).
	media []liveSession
}

// Pending is an operation waiting for the idle gate.
type Pending struct {
	Op     string     `json:"op"` // reboot, restart, resync, upgrade
	Reason string     `json:"reason"`
	Since  time.Time  `json:"since"`
	Force  *time.Time `json:"force_at,omitempty"` // a resync runs anyway at this time
	// WaitsFor is set for a resync request queued behind the running resync.
	WaitsFor string `json:"waits_for,omitempty"`
}

// ExtensionStatus summarises one extension.
type ExtensionStatus struct {
	Index   int    `json:"index"`
	Enabled bool   `json:"enabled"`
	UserID  string `json:"user_id"`
	// Registration is Registration_State: Registered, Failed or Not Registered.
	Registration string `json:"registration"`
	// Registering says the extension registers (Register_n_ = Yes and a proxy is set).
	Registering bool `json:"registering"`
	// SIPAddr is where its agent listens (--ip:SIP_Port_n_); empty when it is not in service.
	SIPAddr          string     `json:"sip_addr,omitempty"`
	RegisteredAt     *time.Time `json:"registered_at,omitempty"`
	NextRegistration *time.Time `json:"next_registration,omitempty"`
	ExpiresSec       int64      `json:"expires_seconds,omitempty"`
	LastCode         int        `json:"last_code,omitempty"`
	LastError        string     `json:"last_error,omitempty"`
	// NextBind is when an extension out of service because its socket could not be opened
	// tries again (LastError says why).
	NextBind       *time.Time `json:"next_bind,omitempty"`
	MessageWaiting bool       `json:"message_waiting"`
	// MWISubscription is the extension's message-summary subscription, when it has one.
	MWISubscription *SubscriptionStatus `json:"mwi_subscription,omitempty"`
	// SharedLine is the extension's shared line appearance, when it is one (SPA-BEHAVIOUR
	// §13.8).
	SharedLine *SharedLineStatus `json:"shared_line,omitempty"`
}

// ProvisioningStatus is the state of the resync machinery (SPA-BEHAVIOUR §4.4).
type ProvisioningStatus struct {
	Enabled     bool       `json:"enabled"`
	State       string     `json:"state"` // idle, fetching, waiting
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastURL     string     `json:"last_url,omitempty"`
	LastResult  string     `json:"last_result,omitempty"` // success, failure
	LastError   string     `json:"last_error,omitempty"`  // $ERR
	// LastSkipped are the first values the last resync skipped because their parameters
	// cannot take them; LastSkippedCount counts all (DECISIONS 8).
	LastSkipped      []config.Skipped `json:"last_skipped,omitempty"`
	LastSkippedCount int              `json:"last_skipped_count,omitempty"`
	// LastWarnings are the last resync's warnings: how a profile's encoding was read.
	LastWarnings []string   `json:"last_warnings,omitempty"`
	LastSuccess  *time.Time `json:"last_success,omitempty"`
	NextResync   *time.Time `json:"next_resync,omitempty"`
	NextReason   string     `json:"next_reason,omitempty"` // periodic, retry, boot
	RetryIndex   int        `json:"retry_index"`
	PRVST        int        `json:"prvst"`
	ResyncCount  int        `json:"resync_count"`
	FailureCount int        `json:"failure_count"`
}

// UpgradeStatus is the state of the firmware upgrade machinery (SPA-BEHAVIOUR §4.2).
type UpgradeStatus struct {
	Enabled     bool       `json:"enabled"`
	State       string     `json:"state"` // idle, waiting, downloading
	Running     string     `json:"running_version"`
	Previous    string     `json:"previous_version,omitempty"`
	LastURL     string     `json:"last_url,omitempty"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastResult  string     `json:"last_result,omitempty"`
	LastError   string     `json:"last_error,omitempty"` // $UPGERR
	NextRetry   *time.Time `json:"next_retry,omitempty"`
	UPGST       int        `json:"upgst"`
}

// tick brings the clock fields to now (policy clock) and wall (host clock, the time the
// phone shows, DECISIONS 20).
func (s *Status) tick(now, wall time.Time) {
	s.Now = now
	if s.BootedAt.IsZero() {
		return
	}
	s.UptimeSec = int64(now.Sub(s.BootedAt) / time.Second)
	s.Info.CurrentTime = wall
	s.Info.Elapsed = now.Sub(s.BootedAt)
	// Next_Registration_In counts down between turns of the loop; the snapshot's slice is
	// shared, so the copy gets its own.
	ext := append([]config.ExtInfo(nil), s.Info.Ext...)
	for i := range ext {
		if i < len(s.Extensions) && s.Extensions[i].NextRegistration != nil && ext[i].NextRegistrationIn != "" {
			ext[i].NextRegistrationIn = nextIn(*s.Extensions[i].NextRegistration, now)
		}
	}
	s.Info.Ext = ext
}

// Progress is the little of a phone's status that a fleet's storm report reads of every
// phone every second of a storm: the loop keeps it at the end of every turn (a few fields,
// stored only when they changed), and a read neither wakes the loop nor builds a status (the
// status a storm report rebuilt for each of ten thousand phones every second was 6% of the
// fleet's CPU).
type Progress struct {
	State     State
	BootCount int
	// Provisioning is ProvisioningStatus.State (idle, waiting, fetching); NextReason is its
	// NextReason, "" when no resync is scheduled.
	Provisioning string
	NextReason   string
	ResyncCount  int
	LastResult   string
	LastError    string
	// SIPDown holds the LastError of every enabled extension that is not in service (no
	// SIP address, ExtensionStatus.SIPAddr empty, and an error).
	SIPDown []string
}

func (a *Progress) equal(b *Progress) bool {
	return a.State == b.State && a.BootCount == b.BootCount && a.Provisioning == b.Provisioning &&
		a.NextReason == b.NextReason && a.ResyncCount == b.ResyncCount && a.LastResult == b.LastResult &&
		a.LastError == b.LastError && slices.Equal(a.SIPDown, b.SIPDown)
}
