package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// EngineConfig is one phone's media configuration (SPA-BEHAVIOUR §8.2 RTP Parameters), built
// by phone from the catalogue.
type EngineConfig struct {
	// IP is the phone's address (--ip); sessions bind their RTP and RTCP ports on it.
	IP netip.Addr
	// PortMin and PortMax bound the RTP ports (RTP_Port_Min, RTP_Port_Max). A session takes
	// an even port p with p+1 free for RTCP (RFC 3550 §11); ports other programs hold are
	// skipped, as a real phone picks a free one.
	PortMin, PortMax uint16
	// Session is the per-session configuration Open uses.
	Session SessionConfig
	// Logger receives one line per session decision (open, start, update, close, bind
	// failure); nil is no logging. Nothing is logged per packet.
	Logger *zap.Logger
	// OnEvent receives the sessions' events (audio changes, DTMF, one-way audio) on the
	// engine's event goroutine, in order; it must not block for long. Nil drops them.
	OnEvent func(Event)
	// Scheduler, when not nil, paces the engine's sessions together with those of the other
	// engines that share it (a fleet's phones); the engine does not close it. Nil: the
	// engine runs its own, of Pacers goroutines.
	Scheduler *Scheduler
	// Pacers is the number of pacing goroutines of the engine's own scheduler; 0 is
	// GOMAXPROCS (at NewEngine), so a thousand calls use every core.
	Pacers int
	// RealtimePriority, when not zero, runs the engine's own scheduler's pacers at this
	// real-time priority ([Scheduler.SetRealtimePriority]); a shared Scheduler has its own.
	RealtimePriority int
	// Seed, when not zero, seeds every random choice (SSRC, initial sequence number and
	// timestamp, impairment) so a test run repeats exactly; zero seeds from the OS.
	Seed uint64
	// Files, when not nil, bounds the files the sessions hold together with whatever else
	// shares it (a fleet past its open file limit): a session takes FilesPerSession before
	// it binds and gives them back when it closes; Open fails with an error wrapping
	// syscall.EMFILE when they are not there.
	Files FileQuota
}

// FileQuota is a count of open files that holders take and give back.
type FileQuota interface {
	// Take takes n files, or none and returns false when fewer are left.
	Take(n int) bool
	// Give gives back n files taken.
	Give(n int)
}

// FilesPerSession is what a session holds open: its RTP and its RTCP socket.
const FilesPerSession = 2

// errNoFiles is a session refused by EngineConfig.Files.
var errNoFiles = fmt.Errorf("media: the open files for calls are all in use: %w", syscall.EMFILE)

// Engine owns one phone's RTP sessions: the port range, the pacing goroutines that send every
// session's packets on time, and the event goroutine. Build it with [NewEngine], one per phone
// boot, and Close it when the phone stops.
type Engine struct {
	// immutable after NewEngine
	cfg      EngineConfig
	log      *zap.Logger
	epoch    time.Time // the scheduler's
	done     chan struct{}
	wg       sync.WaitGroup
	sched    *Scheduler
	ownSched bool // the engine made sched and closes it

	// evq is made with the first session, before the goroutines start, then never changes.
	evq chan Event

	// mu guards the port cursor, the sessions set, the random source and closed.
	mu       sync.Mutex
	cursor   uint16
	sessions map[*Session]struct{}
	rnd      *rand.Rand
	closed   bool
	running  bool // the pacing and event goroutines run (from the first Open on)

	// closing is closed, readable without mu (the pacers read it).
	closing atomic.Bool

	// atomic: totals over every session since the engine started (Phone Status RTP_*), a
	// shard per pacer of the scheduler (set at NewEngine): a session adds to its pacer's, so
	// pacers on different cores never write the same cache line per packet.
	totals  []paddedCounters
	evDrops atomic.Uint64
}

// counters are the packet and byte counters a session and the engine keep.
type counters struct {
	packetsSent, bytesSent, packetsRecv, bytesRecv atomic.Uint64
}

// paddedCounters is one shard of the totals, alone on its cache lines.
type paddedCounters struct {
	counters
	_ [128 - 32]byte
}

// NewEngine checks cfg; the engine's pacing and event goroutines start with its first session.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if !cfg.IP.IsValid() {
		return nil, fmt.Errorf("%w: no IP address", ErrBadConfig)
	}
	if cfg.PortMin == 0 || cfg.PortMax < cfg.PortMin+1 {
		return nil, fmt.Errorf("%w: RTP port range %d-%d holds no even/odd pair", ErrBadConfig, cfg.PortMin, cfg.PortMax)
	}
	if err := cfg.Session.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	sched, own := cfg.Scheduler, false
	if sched == nil {
		var err error
		if sched, err = NewScheduler(cfg.Pacers); err != nil {
			return nil, err
		}
		if err = sched.SetRealtimePriority(cfg.RealtimePriority); err != nil {
			return nil, err
		}
		own = true
	}
	e := &Engine{
		cfg:      cfg,
		log:      log,
		epoch:    sched.epoch,
		done:     make(chan struct{}),
		sched:    sched,
		ownSched: own,
		sessions: map[*Session]struct{}{},
		rnd:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		totals:   make([]paddedCounters, len(sched.pacers)),
	}
	e.cursor = e.cfg.PortMin + uint16(e.rnd.UintN(uint(cfg.PortMax-cfg.PortMin)))
	e.cursor -= e.cursor % 2
	return e, nil
}

// now is the engine's monotonic clock in nanoseconds.
func (e *Engine) now() int64 { return int64(time.Since(e.epoch)) }

// Open binds a new session on a free even RTP port of the range (RTCP on the port above) with
// the engine's session configuration. The session receives from then on; it sends after
// [Session.Start].
func (e *Engine) Open() (*Session, error) { return e.OpenWith(e.cfg.Session) }

// OpenWith is Open with a session configuration of its own (per extension: jitter buffer,
// DTMF processing; per call: impairment).
func (e *Engine) OpenWith(sc SessionConfig) (*Session, error) {
	if err := sc.validate(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if e.cfg.Files != nil && !e.cfg.Files.Take(FilesPerSession) {
		return nil, errNoFiles
	}
	rtpConn, rtcpConn, err := e.bindLocked()
	if err != nil {
		e.giveFiles()
		return nil, err
	}
	pc, err := e.sched.attach()
	if err != nil {
		rtpConn.Close()
		rtcpConn.Close()
		e.giveFiles()
		return nil, err
	}
	if !e.running {
		// The goroutines start with the first session: an idle phone of a fleet costs none.
		e.running = true
		e.evq = make(chan Event, 256)
		e.wg.Add(1)
		go e.deliver()
	}
	s := newSession(e, sc, rtpConn, rtcpConn, e.rnd.Uint64())
	s.pc = pc
	e.sessions[s] = struct{}{}
	if s.initPoll() {
		e.wg.Add(1)
	} else {
		s.ring = &rxRing{}
		e.wg.Add(2)
		go s.readRTP()
	}
	go s.readRTCP()
	e.log.Debug("media session opened", zap.Stringer("addr", s.local))
	return s, nil
}

// giveFiles gives back a session's files to EngineConfig.Files.
func (e *Engine) giveFiles() {
	if e.cfg.Files != nil {
		e.cfg.Files.Give(FilesPerSession)
	}
}

// bindLocked finds an even port p in the range with p and p+1 free on the engine's IP.
func (e *Engine) bindLocked() (*net.UDPConn, *net.UDPConn, error) {
	lo := int(e.cfg.PortMin) + int(e.cfg.PortMin)%2
	hi := int(e.cfg.PortMax) - 1 // the highest RTP port has its RTCP port at PortMax
	if hi%2 == 1 {
		hi--
	}
	if hi < lo {
		return nil, nil, fmt.Errorf("%w: %d-%d", ErrNoPort, e.cfg.PortMin, e.cfg.PortMax)
	}
	count := (hi-lo)/2 + 1
	first := (int(e.cursor) - lo) / 2
	for i := 0; i < count; i++ {
		p := lo + 2*((first+i)%count)
		rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.cfg.IP, uint16(p))))
		if err != nil {
			if !errors.Is(err, syscall.EADDRINUSE) {
				// Not a port another program holds (out of descriptors, no such address):
				// another port of the range fares no better, and "no free port" would hide why.
				return nil, nil, fmt.Errorf("media: bind RTP port %d: %w", p, err)
			}
			continue
		}
		rtcp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.cfg.IP, uint16(p+1))))
		if err != nil {
			rtp.Close()
			if !errors.Is(err, syscall.EADDRINUSE) {
				return nil, nil, fmt.Errorf("media: bind RTCP port %d: %w", p+1, err)
			}
			continue
		}
		// The next session starts looking above this one, as a phone rotates its ports.
		e.cursor = uint16(lo + 2*((first+i+1)%count))
		return rtp, rtcp, nil
	}
	e.log.Warn("no free RTP port", zap.Uint16("min", e.cfg.PortMin), zap.Uint16("max", e.cfg.PortMax))
	return nil, nil, fmt.Errorf("%w: %d-%d on %s", ErrNoPort, e.cfg.PortMin, e.cfg.PortMax, e.cfg.IP)
}

// EngineStats are the phone's RTP totals (Phone Status RTP_Packets_Sent/Recv,
// RTP_Bytes_Sent/Recv, SPA-BEHAVIOUR §9) and the pacer's health.
type EngineStats struct {
	PacketsSent, PacketsRecv uint64
	BytesSent, BytesRecv     uint64
	// Sessions is the number of open sessions.
	Sessions int
	// Pacing is the distribution of send-interval errors over every packet the engine's
	// scheduler sent: the engine's own packets, or those of every engine sharing it.
	Pacing PacingStats
	// EventsDropped counts events OnEvent could not take in time.
	EventsDropped uint64
}

// Stats returns the engine's totals; lock-free except for the session count.
func (e *Engine) Stats() EngineStats {
	e.mu.Lock()
	n := len(e.sessions)
	e.mu.Unlock()
	st := e.Totals()
	st.Sessions, st.Pacing, st.EventsDropped = n, e.sched.pacingStats(), e.evDrops.Load()
	return st
}

// Totals returns the engine's packet and byte totals only (the rest of EngineStats zero),
// lock-free: what a phone's status reads, without the pacing summary of the scheduler that
// every engine of a fleet may share.
func (e *Engine) Totals() EngineStats {
	var st EngineStats
	for i := range e.totals {
		t := &e.totals[i]
		st.PacketsSent += t.packetsSent.Load()
		st.PacketsRecv += t.packetsRecv.Load()
		st.BytesSent += t.bytesSent.Load()
		st.BytesRecv += t.bytesRecv.Load()
	}
	return st
}

// Close closes every session and stops the engine's goroutines; it is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.closing.Store(true)
	open := make([]*Session, 0, len(e.sessions))
	for s := range e.sessions {
		open = append(open, s)
	}
	e.mu.Unlock()
	for _, s := range open {
		s.Close()
	}
	close(e.done)
	e.wg.Wait()
	if e.ownSched {
		e.sched.Close()
	}
	return nil
}

// forget drops a closed session from the engine.
func (e *Engine) forget(s *Session) {
	e.mu.Lock()
	if _, ok := e.sessions[s]; ok {
		delete(e.sessions, s)
		e.sched.detach(s.pc)
	}
	e.mu.Unlock()
}

// emit queues an event for OnEvent without blocking the pacer.
func (e *Engine) emit(ev Event) {
	if e.cfg.OnEvent == nil || e.evq == nil {
		return
	}
	select {
	case e.evq <- ev:
	default:
		e.evDrops.Add(1)
	}
}

// deliver runs OnEvent for each queued event, in order.
func (e *Engine) deliver() {
	defer e.wg.Done()
	for {
		select {
		case ev := <-e.evq:
			if e.cfg.OnEvent != nil {
				e.cfg.OnEvent(ev)
			}
		case <-e.done:
			for {
				select {
				case ev := <-e.evq:
					if e.cfg.OnEvent != nil {
						e.cfg.OnEvent(ev)
					}
				default:
					return
				}
			}
		}
	}
}
