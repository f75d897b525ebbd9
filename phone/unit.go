package phone

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
)

// Unit is one physical phone across reboots. It keeps the flash and the event bus; each boot
// builds a new [Phone] from the flash.
type Unit struct {
	opts     Options
	log      *zap.Logger
	bus      *Bus
	defaults *config.Snapshot // factory defaults: catalogue plus Options.Defaults
	tls      tlsMaterial      // HTTPS trust and client certificate, loaded once
	net      fetcher          // a network for tests; nil: a fetcher per boot with its User-Agent

	cur      atomic.Pointer[Phone]
	booting  atomic.Pointer[bootingView]
	first    *bootFlash // what NewUnit read, for the first boot; only boot reads it, and drops it
	timers   sip.Timers // the SIP timers of the flash at NewUnit (SIPTimers)
	files    int        // the open files a boot of the flash at NewUnit holds (OpenFiles)
	sipFiles int        // its extensions' part (SIPFiles)

	// powerMu guards cut and powerDelay: the power switch of the boot in progress.
	powerMu    sync.Mutex
	cut        context.CancelCauseFunc // cuts the power of the current boot; nil between boots
	powerDelay time.Duration           // before the next boot: the fleet's --boot-spread share
}

// errPowerCut ends a boot when the power is cut (Unit.PowerCycle).
var errPowerCut = errors.New("power cut")

// DefaultBootTime is how long an emulated boot takes unless told otherwise (DECISIONS 21).
const DefaultBootTime = 700 * time.Millisecond

// NewUnit prepares a unit: it reads the flash, or writes a new one with the unit's identity
// and factory defaults, and applies Options.FactoryReset. Nothing runs until [Unit.Run].
func NewUnit(opts Options) (*Unit, error) {
	if opts.Flash == nil {
		return nil, errors.New("phone: Options.Flash is required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Clock == nil {
		opts.Clock = NewScaledClock(1)
	}
	if opts.Counters == nil {
		opts.Counters = new(Counters)
	}
	u := &Unit{opts: opts, bus: NewBus(opts.EventHistoryBytes)}
	u.opts.memo = new(atomic.Pointer[profileMemo]) // the phone's profile memo, kept across its boots
	if err := opts.Flash.RemoveStale(); err != nil {
		u.early().Warn("stale flash files kept", zap.Error(err))
	}
	fl, err := loadFlash(opts.Flash)
	created := false
	switch {
	case errors.Is(err, config.ErrNoFlash):
		if fl, err = u.newFlash(config.Flash{}); err != nil {
			return nil, err
		}
		created = true
	case errors.Is(err, config.ErrCorruptFlash):
		if fl, err = u.recoverFlash(err, nil); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	m, err := config.LookupModel(fl.Model)
	if err != nil {
		return nil, fmt.Errorf("flash %s: %w", opts.Flash.Path(), err)
	}
	// Lazy: a logger that writes nothing (a fleet at warn) holds no encoder of its own; and
	// the one a phone holds once it writes, the web server's lines share (Unit.Logger).
	u.log = opts.Logger.WithLazy(append(slices.Clip(opts.LogFields), zap.String("phone", fl.MAC))...)
	if created {
		u.log.Info("new unit", zap.String("model", fl.Model), zap.String("serial", fl.Serial),
			zap.String("software", fl.Software), zap.String("flash", opts.Flash.Path()))
	}
	if u.defaults, err = u.factoryDefaults(m); err != nil {
		return nil, err
	}
	if u.tls, err = loadTLS(opts.Provisioning); err != nil {
		return nil, err
	}
	u.opts.sipTLS = u.tls
	u.warnIdentityFlags(fl)
	if opts.FactoryReset {
		fl.Values, fl.Access = u.defaults.Overrides()
		if err := opts.Flash.Save(fl); err != nil {
			return nil, err
		}
		u.log.Info("factory reset", zap.String("reason", "--factory-reset"))
	}
	u.booting.Store(identityView(identityOf(fl, opts.IP, nil)))
	// The first boot starts from this flash and configuration, not from a second read of
	// the flash and a second build of the configuration: nothing but the unit's own boots
	// writes its flash, and none has run yet.
	u.first = u.bootFrom(fl, m)
	u.timers = sipTimers(u.first.snap)
	u.files, u.sipFiles = openFiles(u.first.snap)
	return u, nil
}

// loadFlash reads the flash; one that decodes but names no known model or no valid MAC is
// as corrupt as one that does not decode.
func loadFlash(f FlashStore) (*config.Flash, error) {
	fl, err := f.Load()
	if err != nil {
		return nil, err
	}
	if _, err := config.LookupModel(fl.Model); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", config.ErrCorruptFlash, f.Path(), err)
	}
	if _, err := ParseMAC(fl.MAC); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", config.ErrCorruptFlash, f.Path(), err)
	}
	return fl, nil
}

// factoryDefaults is the catalogue's defaults with the unit's own on top.
func factoryDefaults(m config.Model, changes []config.Change) (*config.Snapshot, error) {
	snap, _, err := config.NewSnapshot(config.CatalogFor(m)).Apply(changes, config.ApplyOptions{})
	if err != nil {
		return nil, fmt.Errorf("factory defaults: %w", err)
	}
	return snap, nil
}

// sharedSnapshots lets the units of a fleet share their factory defaults: units of one model
// with the same Options.Defaults (the fleet's --set values) hold one snapshot of them, and
// every boot builds its configuration on it (newPhone), so that the chunks of values the
// fleet sets are kept once, not once per phone (3,000 phones held 20 MB of copies of the
// same defaults, and as much again in their configurations). nil shares nothing. Safe for
// concurrent use: NewFleet's builders make units side by side.
type sharedSnapshots struct {
	mu       sync.Mutex
	defaults map[string]*config.Snapshot // by model and changes (sharedKey)
}

// factoryDefaults is factoryDefaults, made once per model and changes.
func (s *sharedSnapshots) factoryDefaults(m config.Model, changes []config.Change) (*config.Snapshot, error) {
	if s == nil {
		return factoryDefaults(m, changes)
	}
	key := sharedKey(m, changes)
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap, ok := s.defaults[key]; ok {
		return snap, nil
	}
	snap, err := factoryDefaults(m, changes)
	if err != nil {
		return nil, err // not kept: every unit of these options says so
	}
	if s.defaults == nil {
		s.defaults = map[string]*config.Snapshot{}
	}
	s.defaults[key] = snap
	return snap, nil
}

// sharedKey names a model and a list of changes exactly: the fields of every change, each
// length-prefixed.
func sharedKey(m config.Model, changes []config.Change) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	field(m.Name)
	for _, c := range changes {
		field(c.Name)
		field(c.Value)
		fmt.Fprintf(&b, "%t,%d,%d;", c.SetValue, c.Access, c.Line)
	}
	return b.String()
}

// newFlash makes the flash of a unit that boots for the first time, or whose flash was
// corrupt: the identity fields of keep that are valid win over the options'.
func (u *Unit) newFlash(keep config.Flash) (*config.Flash, error) {
	o := u.opts
	name := o.Model
	if name == "" {
		name = config.DefaultModel
	}
	if _, err := config.LookupModel(keep.Model); err == nil {
		name = keep.Model
	}
	m, err := config.LookupModel(name)
	if err != nil {
		return nil, err
	}
	mac, err := NewMAC(rand.Reader)
	if o.MAC != "" {
		mac, err = ParseMAC(o.MAC)
	}
	if err != nil {
		return nil, err
	}
	if kept, err := ParseMAC(keep.MAC); err == nil {
		mac = kept
	}
	fl := &config.Flash{
		Model: m.Name, MAC: Identity{MAC: mac}.MACHex(), Serial: o.Serial,
		Software: o.Software, Hardware: o.Hardware, BootCount: keep.BootCount,
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&fl.Serial, keep.Serial}, {&fl.Software, keep.Software}, {&fl.Hardware, keep.Hardware}} {
		if v := strings.TrimSpace(f.v); v != "" && len(v) <= 64 && printableASCII(v) {
			*f.dst = v
		}
	}
	if fl.Serial == "" {
		fl.Serial = SerialFromMAC(mac)
	}
	if fl.Software == "" {
		fl.Software = DefaultSoftware
	}
	if fl.Hardware == "" {
		fl.Hardware = DefaultHardware
	}
	defaults, err := u.factoryDefaults(m)
	if err != nil {
		return nil, err
	}
	if u.defaults == nil { // NewUnit's: it keeps them (a recovery at boot finds them set)
		u.defaults = defaults
	}
	fl.Values, fl.Access = defaults.Overrides()
	if err := o.Flash.Save(fl); err != nil {
		return nil, err
	}
	return fl, nil
}

// factoryDefaults is the unit's factory defaults for model m: those it holds when they are
// m's (a new flash made them in NewUnit), else the fleet's shared ones.
func (u *Unit) factoryDefaults(m config.Model) (*config.Snapshot, error) {
	if d := u.defaults; d != nil && d.Catalog().Model().Name == m.Name {
		return d, nil
	}
	return u.opts.shared.factoryDefaults(m, u.opts.Defaults)
}

// recoverFlash handles a flash that cannot be read (issue 9 item 9: a corrupt flash.json
// stopped the phone, even with --factory-reset). The damaged file is moved aside, kept for
// forensics, and the unit starts from its factory defaults with a new flash. The identity is
// kept where it can be: the model, MAC, serial, versions and boot count that can still be
// read from the damaged file (SalvageFlash), else those of known (the unit's, when the flash
// breaks between two boots), else the options' and new ones as for a new unit: a phone that
// lost its MAC is a new phone to its provisioning server, and says so. One line says what
// happened.
func (u *Unit) recoverFlash(cause error, known *config.Flash) (*config.Flash, error) {
	f := u.opts.Flash
	moved, keep, err := f.MoveAside(time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w (and it could not be moved aside: %w)", cause, err)
	}
	identity := "recovered from the damaged flash"
	if _, err := ParseMAC(keep.MAC); err != nil {
		if known != nil {
			keep, identity = *known, "the unit's own"
		} else if u.opts.MAC != "" {
			identity = "from --mac"
		} else {
			identity = "new: the damaged flash holds no MAC"
		}
	}
	fl, err := u.newFlash(keep)
	if err != nil {
		return nil, err
	}
	u.early().Error("flash corrupt, moved aside; starting from factory defaults",
		zap.String("flash", f.Path()), zap.String("moved_to", moved), zap.String("reason", cause.Error()),
		zap.String("phone", fl.MAC), zap.String("identity", identity))
	return fl, nil
}

// early is the unit's logger for the lines that name the phone themselves, or come before
// its MAC is known (Unit.log has it): the options' logger with Options.LogFields.
func (u *Unit) early() *zap.Logger { return u.opts.Logger.With(u.opts.LogFields...) }

// Logger returns the unit's logger: every line carries Options.LogFields and the phone's MAC.
// A web server of a fleet's phone logs on it (Named), sharing its encoder.
func (u *Unit) Logger() *zap.Logger { return u.log }

// printableASCII reports whether s is printable ASCII.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// warnIdentityFlags says, once, when identity options disagree with the flash: the flash
// keeps the unit's identity, as a real phone keeps its MAC and firmware.
func (u *Unit) warnIdentityFlags(fl *config.Flash) {
	o := u.opts
	check := func(flag, given, kept string, eq func(a, b string) bool) {
		if given != "" && !eq(given, kept) {
			u.log.Warn("identity option ignored", zap.String("option", flag), zap.String("kept", kept),
				zap.String("reason", "the flash keeps the unit's identity; use another --data directory for another unit"))
		}
	}
	same := func(a, b string) bool { return a == b }
	check("--model", o.Model, fl.Model, func(a, b string) bool { m, err := config.LookupModel(a); return err == nil && m.Name == b })
	check("--mac", o.MAC, fl.MAC, func(a, b string) bool { m, err := ParseMAC(a); return err == nil && (Identity{MAC: m}).MACHex() == b })
	check("--serial", o.Serial, fl.Serial, same)
	check("--firmware", o.Software, fl.Software, same)
}

// bootIdentity is what a unit shows of its phone before the first boot's phone runs, and
// while a boot's phone runs (for a reader that saw no phone a moment before): the identity
// its flash gives. Its Status is built when first read: kept built, it was 1.3 KB of every
// phone of a fleet, 4 MB of 3,000.
type bootIdentity struct {
	model, mac, serial, software, hardware, ip string
	bootCount                                  int
	config                                     *config.Snapshot // nil before the first boot
}

func identityOf(fl *config.Flash, ip string, snap *config.Snapshot) *bootIdentity {
	return &bootIdentity{model: fl.Model, mac: fl.MAC, serial: fl.Serial, software: fl.Software,
		hardware: fl.Hardware, ip: ip, bootCount: fl.BootCount, config: snap}
}

// bootingView is what a unit shows while it boots: the status of the boot that ended, with
// state "booting", built when first read (a storm of power cycles reads few of them), or
// before the first boot the identity its flash gives.
type bootingView struct {
	last *Phone        // the boot that ended; nil: id is set
	id   *bootIdentity // nil: last is set
	st   atomic.Pointer[Status]
}

func identityView(id *bootIdentity) *bootingView { return &bootingView{id: id} }

func (v *bootingView) status() *Status {
	if s := v.st.Load(); s != nil {
		return s
	}
	var s Status
	if v.last != nil {
		s = *v.last.Status()
	} else {
		id := v.id
		s = Status{Model: id.model, MAC: id.mac, Serial: id.serial, Software: id.software,
			Hardware: id.hardware, IP: id.ip, BootCount: id.bootCount, Config: id.config}
	}
	s.State = StateBooting
	v.st.Store(&s) // readers at once each build the same
	return &s
}

func (v *bootingView) config() *config.Snapshot {
	if v.last != nil {
		return v.last.Config()
	}
	return v.id.config
}

func (v *bootingView) model() string {
	if v.last != nil {
		return v.last.id.Model.Name
	}
	return v.id.model
}

func (v *bootingView) progress() Progress {
	if v.last != nil {
		return Progress{State: StateBooting, BootCount: v.last.Progress().BootCount}
	}
	return Progress{State: StateBooting, BootCount: v.id.bootCount}
}

// Run boots the phone and runs it, booting it again after every reboot and power cycle,
// until ctx ends.
func (u *Unit) Run(ctx context.Context) error {
	for {
		bctx, cut := context.WithCancelCause(ctx)
		u.powerMu.Lock()
		u.cut = cut
		u.powerMu.Unlock()
		p, err := u.boot(bctx)
		if err == nil {
			// What the boot before showed is not read while this one runs: it goes (it
			// would keep that boot's phone), and the identity stands in for a reader that
			// saw no phone a moment before.
			u.booting.Store(identityView(identityOf(p.st.flash, p.opts.IP, p.Config())))
			u.cur.Store(p)
			err = p.Run(bctx)
			u.booting.Store(&bootingView{last: p}) // before cur goes: a reader sees one or the other
			u.cur.Store(nil)
		}
		u.powerMu.Lock()
		u.cut = nil
		u.powerMu.Unlock()
		cycled := ctx.Err() == nil && errors.Is(context.Cause(bctx), errPowerCut)
		cut(nil)
		switch {
		case cycled:
			continue
		case err != nil && ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrReboot):
			continue
		}
		return err
	}
}

// PowerCycle cuts the unit's power and restores it after delay: the phone stops where it is,
// as when a building's power goes (nothing is unregistered, what is not in flash is lost),
// and boots again from its flash after delay and the boot time. It does nothing while the
// unit is not running (before Run, after it returned).
func (u *Unit) PowerCycle(delay time.Duration) {
	u.powerMu.Lock()
	defer u.powerMu.Unlock()
	u.powerDelay = max(delay, 0)
	if u.cut != nil {
		u.cut(errPowerCut)
	}
}

// setPowerDelay sets the wait before the next boot (the first one's, for a fleet's spread).
func (u *Unit) setPowerDelay(d time.Duration) {
	u.powerMu.Lock()
	defer u.powerMu.Unlock()
	u.powerDelay = max(d, 0)
}

// boot waits while the power is off (the fleet's spread), then boots: it builds the phone
// from its flash during the emulated boot time, as a real phone does its boot's work on its
// own CPU while it boots, and hands it over when the boot time has passed, so that a fleet
// whose boots' work fits in their boot time fetches as soon as it ends, not behind the other
// phones' boots. What a boot writes or says comes after the boot time, as when the whole
// boot came after it: the boot count, a corrupt flash's recovery, the flash values it
// ignored; a power cut during the boot time leaves the flash as the boot found it, and a
// boot that fails fails when its boot time is over (DECISIONS 21: nothing of the phone
// answers meanwhile).
func (u *Unit) boot(ctx context.Context) (*Phone, error) {
	u.powerMu.Lock()
	off := u.powerDelay
	u.powerDelay = 0
	u.powerMu.Unlock()
	if err := waitCtx(ctx, off); err != nil {
		return nil, err
	}
	ready := time.Now().Add(u.opts.BootTime)
	b := u.prepare()
	growLoopStack(0) // this goroutine runs the phone's loop: grown now, not at its first turn
	if err := waitCtx(ctx, time.Until(ready)); err != nil {
		return nil, err
	}
	if b.corrupt != nil { // recovered now, with the boot time over, as before
		st := u.Status()
		known := config.Flash{Model: st.Model, MAC: st.MAC, Serial: st.Serial, Software: st.Software,
			Hardware: st.Hardware, BootCount: st.BootCount}
		fl, err := u.recoverFlash(b.corrupt, &known)
		if err != nil {
			return nil, fmt.Errorf("boot: %w", err)
		}
		if b = u.build(fl); b.err != nil {
			return nil, b.err
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	if err := u.opts.Flash.CountBoot(b.p.st.flash); err != nil {
		return nil, fmt.Errorf("boot: %w", err)
	}
	if len(b.skipped) > 0 {
		b.p.log.Warn("flash values ignored", zap.Strings("param", b.skipped), zap.String("reason", "unknown to this model or invalid"))
	}
	return b.p, nil
}

// prepared is a boot's phone, built and not yet handed over, or why it could not be.
type prepared struct {
	p       *Phone
	skipped []string // the flash's values its configuration skipped, said once it boots
	corrupt error    // the flash cannot be read: recovered once the boot time is over
	err     error
}

// prepare builds the boot's phone from the flash NewUnit read (the first boot) or from the
// flash as it is now, without writing anything: the boot time runs meanwhile.
func (u *Unit) prepare() prepared {
	fb := u.first
	u.first = nil // a boot that fails, or whose power is cut, reads the flash again
	if fb != nil {
		return u.buildFrom(fb)
	}
	fl, err := loadFlash(u.opts.Flash)
	if errors.Is(err, config.ErrCorruptFlash) {
		return prepared{corrupt: err}
	}
	if err != nil {
		return prepared{err: fmt.Errorf("boot: %w", err)}
	}
	return u.build(fl)
}

// build builds the phone of flash fl (as read, or as a recovery wrote it).
func (u *Unit) build(fl *config.Flash) prepared {
	m, err := config.LookupModel(fl.Model)
	if err != nil {
		return prepared{err: fmt.Errorf("boot: flash: %w", err)}
	}
	return u.buildFrom(u.bootFrom(fl, m))
}

// buildFrom builds the phone of fb, counting this boot in its flash (in memory: boot keeps
// it once the boot time is over).
func (u *Unit) buildFrom(fb *bootFlash) prepared {
	fl := fb.fl
	fl.BootCount++
	net := u.net
	if net == nil {
		m, _ := config.LookupModel(fl.Model)
		mac, _ := ParseMAC(fl.MAC)
		id := Identity{Model: m, MAC: mac, Serial: fl.Serial, Software: fl.Software, Hardware: fl.Hardware}
		var err error
		if net, err = newNetFetcher(&u.opts, u.tls, id, u.log); err != nil {
			return prepared{err: fmt.Errorf("boot: %w", err)}
		}
	}
	p, err := newPhone(&u.opts, fb, u.bus, net, u.log)
	if err != nil {
		return prepared{err: err}
	}
	return prepared{p: p, skipped: fb.skipped}
}

// waitCtx waits d, or until ctx ends (its error); it does not wait, nor look at ctx, when d
// is not positive (--boot-time 0: the boot goes on, and its phone's loop sees ctx).
func waitCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// bootFrom builds the configuration of flash fl, of model m, on the unit's factory defaults.
func (u *Unit) bootFrom(fl *config.Flash, m config.Model) *bootFlash {
	snap, skipped := config.FromOverridesOn(u.defaults, config.CatalogFor(m), fl.Values, fl.Access)
	return &bootFlash{fl: fl, snap: snap, skipped: skipped}
}

// bootFlash is what a boot starts from: the flash as read, and the configuration built
// from it on the unit's factory defaults, with the values of the flash that it skipped.
type bootFlash struct {
	fl      *config.Flash
	snap    *config.Snapshot
	skipped []string
}

// openFiles is how many file descriptors a running phone of this configuration holds, its
// web server's listener aside (a fleet shares one per port, a single phone has its own):
// per enabled extension its SIP socket (it listens on SIP_Port_n_ of each, SPA-BEHAVIOUR
// §8.5) and, on TCP or TLS (SIP_Transport_n_), a connection to each place its requests go,
// and one provisioning connection in flight. It returns that total and the extensions' part.
func openFiles(snap *config.Snapshot) (total, sip int) {
	for ext := 1; ext <= snap.Catalog().Model().Extensions; ext++ {
		if snap.Bool(config.ExtName(config.LineEnable, ext)) {
			sip += sipFiles(snap, ext)
		}
	}
	return sip + 1, sip
}

// sipFiles is what extension ext holds open: on UDP one socket; on TCP or TLS its listener
// (for the connections a proxy opens to its Contact) and one connection per destination,
// reused by every request to it (sip/stream.go, RFC 5923 §4): the proxy, or the outbound
// proxy that carries everything when Use_Outbound_Proxy_n_ is Yes, and the voice mail server
// when it is another. An extension with no destination yet (a fresh flash, provisioned
// later) is counted as one: its registrar's.
func sipFiles(snap *config.Snapshot, ext int) int {
	get := func(base string) string { return snap.Get(config.ExtName(base, ext)) }
	if tr, ok := sip.ParseTransport(get(config.SIPTransport)); !ok || tr == sip.TransportUDP {
		return 1
	}
	dest := map[string]bool{}
	first := get(config.Proxy)
	if snap.Bool(config.ExtName(config.UseOutboundProxy, ext)) && get(config.OutboundProxy) != "" {
		first = get(config.OutboundProxy)
	}
	for _, d := range []string{first, get(config.VoiceMailServer)} {
		if d != "" {
			dest[d] = true
		}
	}
	return 1 + max(len(dest), 1)
}

// OpenFiles returns how many file descriptors the unit holds when it runs, idle, as its
// flash stood when the unit was made, its web server's listener aside: what a fleet budgets
// against its open file limit.
func (u *Unit) OpenFiles() int { return u.files }

// SIPFiles returns how many files the unit's SIP extensions hold when it runs: a socket per
// extension enabled in its flash as it stood when the unit was made (SPA-BEHAVIOUR §8.5),
// and on TCP or TLS a listener and a connection per destination instead. A profile that
// enables more lines, or moves them to TCP, later opens more.
func (u *Unit) SIPFiles() int { return u.sipFiles }

// Counters returns the unit's event counts (shared with the rest of its fleet when the fleet
// gave them, [Options.Counters]); they survive reboots.
func (u *Unit) Counters() *Counters { return u.opts.Counters }

// Bus returns the unit's event bus; it survives reboots.
func (u *Unit) Bus() *Bus { return u.bus }

// Phone returns the running phone, or ErrBooting while the unit boots.
func (u *Unit) Phone() (*Phone, error) {
	if p := u.cur.Load(); p != nil {
		return p, nil
	}
	return nil, ErrBooting
}

// Status returns the current status; while booting, the identity with state "booting".
func (u *Unit) Status() *Status {
	if p := u.cur.Load(); p != nil {
		return p.Status()
	}
	return u.booting.Load().status()
}

// Config returns the configuration in force, as Status().Config has it (nil until the first
// boot's phone runs), without building a status.
func (u *Unit) Config() *config.Snapshot {
	if p := u.cur.Load(); p != nil {
		return p.Config()
	}
	return u.booting.Load().config()
}

// HostName returns the phone's host name and domain as the status's Info has them
// (Info.HostName, Info.Domain), without building a status; "" before the first boot.
func (u *Unit) HostName() (host, domain string) {
	snap := u.Config()
	if snap == nil {
		return "", ""
	}
	return hostNameOf(snap), snap.Get(config.Domain)
}

// Model returns the model's name, as Status().Model has it, without building a status.
func (u *Unit) Model() string {
	if p := u.cur.Load(); p != nil {
		return p.id.Model.Name
	}
	return u.booting.Load().model()
}

// Progress returns the running phone's Progress (see [Progress]); while booting, its state
// and boot count.
func (u *Unit) Progress() Progress {
	if p := u.cur.Load(); p != nil {
		return p.Progress()
	}
	return u.booting.Load().progress()
}

// FactoryReset resets the running phone's configuration and reboots it when idle.
func (u *Unit) FactoryReset(ctx context.Context) (Outcome, error) {
	p, err := u.Phone()
	if err != nil {
		return 0, err
	}
	return p.FactoryReset(ctx, u.defaults)
}
