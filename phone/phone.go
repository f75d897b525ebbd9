package phone

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
)

// Phone is one boot of a phone unit: from the end of the emulated boot until it reboots or
// stops. Build it with [Unit]; a Phone is not restarted after Run returns.
type Phone struct {
	// Immutable after newPhone.
	id   Identity
	opts *Options
	log  *zap.Logger
	// sipLog is log named "sip": the lines' loggers are made on it (lineLog).
	sipLog *zap.Logger
	clock  Clock
	bus    *Bus
	flash  FlashStore
	net    fetcher
	// sipCounters count the SIP messages of every agent of this boot (Phone Status).
	sipCounters *sip.Counters
	// media is the media engine of this boot and its RTP totals (phone/media.go).
	media mediaHolder
	// memo is the last profile a resync applied (profileMemo; nil: none): the unit's, kept
	// across its boots; only the loop stores it.
	memo *atomic.Pointer[profileMemo]

	// Owned by the loop goroutine, reachable only through do.
	st *state

	// calls is the loop's queue (callQueue slots). A post needs no room once the loop has
	// ended (stopped), so the queue is not sized for what the tracked goroutines post while
	// Run waits for them.
	calls chan call
	// status is the status built since the loop's last turn, nil when the loop moved on
	// since: the status is built when someone reads it (on the loop, at their request), not
	// at every turn, and a phone nobody reads keeps none (5 KB a phone of a resyncing fleet).
	status atomic.Pointer[Status]
	// config is the configuration in force at the end of the loop's last turn (Config).
	config atomic.Pointer[config.Snapshot]
	// progress is the turn's Progress, stored by publish when it changed.
	progress atomic.Pointer[Progress]
	scratch  Progress // the loop's: publish builds the turn's Progress in it
	// stale is set when the loop's state moved on since status was built: the status is
	// built when someone reads it (on the loop, at their request), not at every turn.
	stale atomic.Bool
	// offLoop is held by a reader that builds the status while the loop does not run (before
	// Run, after its last turn: the state is still then, and the reader's to read), and by Run
	// as it starts and ends; running says which.
	offLoop sync.Mutex
	running bool // under offLoop
	// stopped is closed when the loop has taken its last call, before Run waits for the
	// tracked goroutines; done when Run returns.
	stopped chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup // tracked goroutines; Run waits for them
}

// call is a closure the loop runs on its goroutine, with a reply channel. An async call
// answers later, from a later turn of the loop, through the reply function it is given (a
// change is answered once it is durable in flash). A read call changes nothing: the loop
// neither runs the gate nor publishes after it. A posted call has no reply channel.
type call struct {
	fn    func(st *state) error
	async func(st *state, reply func(error))
	read  bool
	reply chan error
}

// callQueue is the loop's queue length. A call waits for room while the loop runs (posts
// come from tracked goroutines and sipgo's, never from the loop), and needs none once the
// loop has ended: 64 slots were 7.5 MB of the live heap of 3,000 resyncing phones.
const callQueue = 4

// newPhone builds a phone from its flash: identity, configuration, boot count. The
// configuration (fb.snap) is built on the unit's factory defaults, sharing the chunks of
// values the flash repeats (config.FromOverridesOn). It writes and logs nothing: the boot
// (Unit.boot) says which values of the flash it skipped (fb.skipped).
func newPhone(opts *Options, fb *bootFlash, bus *Bus, net fetcher, log *zap.Logger) (*Phone, error) {
	fl, snap := fb.fl, fb.snap
	m, err := config.LookupModel(fl.Model)
	if err != nil {
		return nil, fmt.Errorf("flash: %w", err)
	}
	mac, err := ParseMAC(fl.MAC)
	if err != nil {
		return nil, fmt.Errorf("flash: %w", err)
	}
	id := Identity{Model: m, MAC: mac, Serial: fl.Serial, Software: fl.Software, Hardware: fl.Hardware}
	clock := opts.Clock
	if clock == nil {
		clock = NewScaledClock(1)
	}
	p := &Phone{
		id: id, opts: opts, log: log, sipLog: log.Named("sip"), clock: clock, bus: bus, flash: opts.Flash, net: net,
		calls: make(chan call, callQueue), stopped: make(chan struct{}), done: make(chan struct{}), sipCounters: &sip.Counters{},
		memo: opts.memo,
	}
	if p.memo == nil { // a phone without a unit: its memo lasts as long as it
		p.memo = new(atomic.Pointer[profileMemo])
	}
	p.st = newState(p, snap, fl)
	p.config.Store(snap)
	return p, nil // its status is built when read (offLoop): a booting fleet reads few
}

// Identity returns the phone's identity.
func (p *Phone) Identity() Identity { return p.id }

// Status returns the latest status snapshot, with its clocks (now, uptime, the Info tab's
// current and elapsed time) brought to the moment of the call: the loop publishes only when
// something happens, and time moves on meanwhile.
//
// The status is built when it is read after the loop moved on: a read then waits for the
// loop's turn (microseconds), and a phone nobody watches builds none.
func (p *Phone) Status() *Status {
	built := p.status.Load()
	if built == nil {
		built = p.buildStatus()
	}
	s := *built
	s.tick(p.clock.Now(), time.Now())
	c := p.sipCounters.Load()
	s.Info.Counters.SIPMessagesSent, s.Info.Counters.SIPBytesSent = c.MessagesSent, c.BytesSent
	s.Info.Counters.SIPMessagesRecv, s.Info.Counters.SIPBytesRecv = c.MessagesRecv, c.BytesRecv
	p.media.counters(&s.Info.Counters)
	s.refreshMedia()
	return &s
}

// buildStatus builds the status of now: on the loop, at its turn, while it runs; before Run
// and after the loop's last turn, here, under offLoop.
func (p *Phone) buildStatus() *Status {
	for {
		p.offLoop.Lock()
		if !p.running {
			s := p.status.Load()
			if s == nil {
				s = p.build()
			}
			p.offLoop.Unlock()
			return s
		}
		p.offLoop.Unlock()
		var fresh *Status // the loop's build, seen after its reply
		c := call{fn: func(*state) error { fresh = p.build(); return nil }, read: true, reply: make(chan error, 1)}
		select {
		case p.calls <- c:
			if awaitReply(context.Background(), c.reply, p.stopped) == nil {
				return fresh
			}
		case <-p.stopped:
		}
		// The loop ended before it took the call: its state is still now.
	}
}

// Config returns the configuration in force, as Status().Config has it, without building a
// status: what a web request reads first (its host names, access, passwords).
func (p *Phone) Config() *config.Snapshot { return p.config.Load() }

// Progress returns the phone's Progress as of the end of the loop's last turn.
func (p *Phone) Progress() Progress {
	if pr := p.progress.Load(); pr != nil {
		return *pr
	}
	st := p.Status()
	return Progress{State: st.State, BootCount: st.BootCount} // before the first turn
}

// Run runs the phone until ctx ends (it returns nil) or the phone reboots (it returns
// [ErrReboot]). It returns only after every goroutine it started has ended.
func (p *Phone) Run(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	p.offLoop.Lock() // after a reader's build of the status before the start
	p.running = true
	p.offLoop.Unlock()
	defer close(p.done)
	defer p.wg.Wait()
	defer close(p.stopped) // before the wait: what the tracked goroutines post is dropped
	defer cancel(errStopped)
	st := p.st
	st.ctx = ctx
	st.boot()
	timer := p.clock.NewTimer(time.Hour)
	defer timer.Stop()
	st.runGated()
	p.publish()
	defer func() { // the state is still from here on: readers build the last status
		p.offLoop.Lock()
		p.running = false
		p.offLoop.Unlock()
	}()
	for {
		if st.exit != nil {
			st.shutdown()
			p.publish()
			return st.exit
		}
		if d, ok := st.nextDeadline(); ok {
			timer.ResetAt(d)
		} else {
			timer.Reset(24 * time.Hour)
		}
		select {
		case <-ctx.Done():
			st.exit = errStopped
			if errors.Is(context.Cause(ctx), errPowerCut) {
				st.exit = errPowerCut
			}
			st.shutdown()
			p.publish()
			return nil
		case c := <-p.calls:
			if c.read {
				c.reply <- c.fn(st)
				continue
			}
			if c.async != nil {
				c.async(st, func(err error) {
					st.runGated()
					p.publish() // before the reply: the caller reads a status that includes its request
					c.reply <- err
				})
				st.runGated()
				p.publish()
				continue
			}
			err := c.fn(st)
			st.runGated()
			p.publish() // before the reply: the caller reads a status that includes its request
			if c.reply != nil {
				c.reply <- err
			}
		case <-timer.C():
			st.fireDue(p.clock.Now())
			st.runGated()
			p.publish()
		}
	}
}

// errStopped ends the loop when the context is done.
var errStopped = errors.New("stopped")

// do runs fn on the loop goroutine and returns its error.
func (p *Phone) do(ctx context.Context, fn func(st *state) error) error {
	c := call{fn: fn, reply: make(chan error, 1)}
	select {
	case p.calls <- c:
	case <-p.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return awaitReply(ctx, c.reply, p.done)
}

// doAsync runs fn on the loop goroutine and returns the error fn passes to reply, which it
// calls exactly once, then or on a later turn.
func (p *Phone) doAsync(ctx context.Context, fn func(st *state, reply func(error))) error {
	c := call{async: fn, reply: make(chan error, 1)}
	select {
	case p.calls <- c:
	case <-p.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return awaitReply(ctx, c.reply, p.done)
}

// awaitReply waits for the loop's reply to a call, the loop's end (done) or ctx's. A reply
// that was sent wins over both, whatever select picks when several are ready at once: the
// loop replies before it can end (Run closes done last), so a closed done with a reply in
// the channel means the call ran, and its caller must hear its result, not ErrClosed
// (a reboot request on an idle phone is answered, then the phone goes down at once).
func awaitReply(ctx context.Context, reply <-chan error, done <-chan struct{}) error {
	select {
	case err := <-reply:
		return err
	case <-done:
	case <-ctx.Done():
	}
	select {
	case err := <-reply:
		return err
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ErrClosed
}

// post queues fn on the loop without waiting for it to run: for results of tracked
// goroutines. It waits for room while the loop runs; once the loop has ended, fn is
// dropped (as one queued then is never run), so Run's wait for the tracked goroutines never
// waits for a post that needs room.
func (p *Phone) post(fn func(st *state)) {
	c := call{fn: func(st *state) error { fn(st); return nil }} // nobody waits: no reply
	select {
	case <-p.stopped:
		return
	default:
	}
	select {
	case p.calls <- c:
	case <-p.stopped:
	}
}

// goTracked runs fn on a tracked goroutine (a worker of the fleet's that ran a job before,
// when one is idle): Run waits for it before returning.
func (p *Phone) goTracked(fn func()) {
	p.wg.Add(1)
	p.opts.workers.run(func() {
		defer p.wg.Done()
		fn()
	})
}

// build stores a status snapshot built from the loop's state. Only the loop calls it.
func (p *Phone) build() *Status {
	s := p.st.snapshotStatus()
	p.status.Store(s)
	return s
}

// emit publishes an event on the unit's bus.
func (p *Phone) emit(kind string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	p.bus.Publish(kind, p.clock.Now(), data)
}

// publish drops the status (it is built when read, see Status), then sends the turn's
// events: a reader who sees an event and reads the status finds the event's effect in it.
func (p *Phone) publish() {
	p.status.Store(nil) // built again when read
	p.config.Store(p.st.snap)
	p.st.progress(&p.scratch)
	if last := p.progress.Load(); last == nil || !last.equal(&p.scratch) {
		pr := p.scratch
		pr.SIPDown = slices.Clone(pr.SIPDown)
		p.progress.Store(&pr)
	}
	for _, e := range p.st.outbox {
		p.bus.Publish(e.Kind, e.Time, e.Data)
	}
	clear(p.st.outbox)
	p.st.outbox = p.st.outbox[:0]
}
