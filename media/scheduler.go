package media

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The pacers: a few goroutines (one per core) send every session's packets when they are
// due. They belong to a [Scheduler]: an engine's own, or one a fleet's engines share. Each pacer's schedule is a min-heap of its sessions by due time (O(log n) per
// packet, no timer per session); the goroutine sleeps until the earliest deadline, then runs
// every session whose deadline has passed. A session's next deadline is its last one plus its packet time, so
// lateness of one tick is not carried into the next (no drift).

// schedHeap is a min-heap of sessions by due time. An entry carries its due time, so that
// ordering the heap reads only the heap's own array (16 bytes an entry, a thousand sessions'
// in 16 KiB) and never a session's memory (35 KiB apart each: a cache miss per comparison and
// per swap, when the session held its due time and index: 5% of an engine's CPU at 1,000
// calls in BenchmarkConcurrentCalls' profile). A closed session is not taken out: the pacer
// drops its entry when it comes due (its tick returns 0).
type schedHeap []schedEntry

type schedEntry struct {
	due int64
	s   *Session
}

// push queues s at due and returns its index (0: it is the earliest).
func (h *schedHeap) push(s *Session, due int64) int {
	*h = append(*h, schedEntry{due: due, s: s})
	return h.up(len(*h) - 1)
}

// pop takes the earliest entry.
func (h *schedHeap) pop() schedEntry {
	old := *h
	n := len(old) - 1
	e := old[0]
	old[0] = old[n]
	old[n] = schedEntry{}
	*h = old[:n]
	if n > 0 {
		h.down(0)
	}
	return e
}

func (h schedHeap) up(j int) int {
	e := h[j]
	for j > 0 {
		i := (j - 1) / 2
		if h[i].due <= e.due {
			break
		}
		h[j] = h[i]
		j = i
	}
	h[j] = e
	return j
}

func (h schedHeap) down(i int) {
	n := len(h)
	e := h[i]
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h[r].due < h[l].due {
			j = r
		}
		if h[j].due >= e.due {
			break
		}
		h[i] = h[j]
		i = j
	}
	h[i] = e
}

// Scheduler is a set of pacing goroutines, one per core by default, that send the packets of
// every session of the engines using it, each when it is due. An engine without one in its
// [EngineConfig] runs its own. A fleet of phones in one process shares one (phone.NewFleet
// does): a thousand phones in calls then cost GOMAXPROCS goroutines on their own threads,
// not two per phone, and one wake-up serves every session due at that moment whichever phone
// it belongs to (with an engine each, every packet is a wake-up of its own).
//
// The goroutines start with the first session and run until [Scheduler.Close].
type Scheduler struct {
	// immutable after NewScheduler (waitMode: until the first session)
	epoch    time.Time
	pacers   []*pacer
	waitMode int // how a pacer waits for a deadline
	yield    int // how a pacer yields to the Go scheduler between slots (yieldNone, ...)
	rtPrio   int // SCHED_FIFO priority of the pacer threads, 0: the default policy
	done     chan struct{}
	wg       sync.WaitGroup

	// mu guards running, closed and the pacers' loads.
	mu      sync.Mutex
	running bool
	closed  bool

	closing  atomic.Bool  // Close began, readable without mu (the pacers read it)
	realtime atomic.Int32 // pacers whose thread took the real-time policy
}

// NewScheduler returns a scheduler of n pacing goroutines; 0 is GOMAXPROCS.
func NewScheduler(n int) (*Scheduler, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: %d pacers", ErrBadConfig, n)
	}
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	sc := &Scheduler{epoch: time.Now(), waitMode: waitNanosleep, yield: yieldUnlocked, done: make(chan struct{})}
	for i := range n {
		sc.pacers = append(sc.pacers, &pacer{sc: sc, idx: i, wake: make(chan struct{}, 1)})
	}
	return sc, nil
}

// SetRealtimePriority makes the pacer threads real-time (Linux SCHED_FIFO at prio, 1-99; 0
// leaves them to the default policy), as a phone's audio thread is: on a machine whose cores
// other processes keep busy, a pacer thread of the default policy waits in the run queue for
// milliseconds when its slot begins (BenchmarkConcurrentCalls reports that wait), which no
// work on the pacer's side can win back. A pacer never spins at that priority: it sleeps in
// nanosleep between slots, and the kernel's real-time throttling still leaves the other
// processes 5% of each CPU. Where the policy cannot be set (no CAP_SYS_NICE, as in a
// container by default, or not Linux) the pacers run on the default policy and
// [SchedulerStats].Realtime says so. It must be called before the first session.
//
// A real-time pacer also keeps its Go P while it sleeps (a raw nanosleep, not a system call the
// runtime knows of) when GOMAXPROCS leaves Ps for the rest of the process (GOMAXPROCS greater
// than the number of pacers; spa900's --rtp-priority sets it so). Otherwise the runtime hands a
// sleeping pacer's P to another goroutine, and the pacer, woken on time, waits for a thread of
// the default policy to give one back, in the run queue behind every other process: what a
// real-time thread was meant to avoid. Measured on the 2-core VM of the project, load 27, 250
// calls (BenchmarkConcurrentCalls): send-interval p99 20 ms on the default policy (pacer
// threads runnable but waiting 37-40% of the time), 2.2-3.6 ms real-time, 0.9-1.3 ms
// real-time holding the P with GOMAXPROCS 4 and 2 pacers. Quiet (load 1.5-1.9), two
// processes on the 2 cores, one real-time pacer each, GOMAXPROCS 4, with the pacers' yield
// (yieldUnlocked): 250 calls p99 1.3-2.75 ms, 500 calls 0.95-3.2 ms, 1,000 calls 3.65-14 ms
// with each pacer at 85-92% of a core (3.55-3.65 ms without the audio analysis, at 70%).
func (sc *Scheduler) SetRealtimePriority(prio int) error {
	if prio < 0 || prio > 99 {
		return fmt.Errorf("%w: real-time priority %d (want 0-99)", ErrBadConfig, prio)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.running {
		return fmt.Errorf("%w: real-time priority set after the pacers started", ErrBadConfig)
	}
	sc.rtPrio = prio
	return nil
}

// RealtimeAllowed reports whether the kernel lets this process run threads at the real-time
// priority prio ([Scheduler.SetRealtimePriority] falls back to the default policy where it
// does not). It tries on a thread of its own, which ends with the try, its policy with it.
func RealtimeAllowed(prio int) bool {
	if prio < 1 || prio > 99 {
		return false
	}
	ok := make(chan bool, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the runtime ends the thread with the goroutine
		ok <- realtimeThread(prio)
	}()
	return <-ok
}

// now is the scheduler's monotonic clock in nanoseconds (every engine on it shares it).
func (sc *Scheduler) now() int64 { return int64(time.Since(sc.epoch)) }

// attach gives a new session the least loaded pacer, starting the goroutines with the first.
func (sc *Scheduler) attach() (*pacer, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return nil, ErrClosed
	}
	if !sc.running {
		sc.running = true
		sc.wg.Add(len(sc.pacers))
		for _, pc := range sc.pacers {
			go pc.run()
		}
	}
	best := sc.pacers[0]
	for _, pc := range sc.pacers[1:] {
		if pc.load < best.load {
			best = pc
		}
	}
	best.load++
	return best, nil
}

// detach takes a closed session's share off its pacer.
func (sc *Scheduler) detach(pc *pacer) {
	sc.mu.Lock()
	pc.load--
	sc.mu.Unlock()
}

// SchedulerStats is what a scheduler's pacers did.
type SchedulerStats struct {
	// Pacers is the number of pacing goroutines; Sessions the sessions on them now.
	Pacers, Sessions int
	// Pacing is the distribution of send-interval errors over every packet sent, measured
	// by the sender when it hands the packet to the kernel.
	Pacing PacingStats
	// Arrival is the send-interval error as the receiving sessions on this scheduler saw it:
	// for each packet following its stream's previous one by one packet time (sequence and
	// timestamp), the distance between their kernel receive timestamps (SO_TIMESTAMPNS on
	// Linux) minus the packet time. On loopback the kernel stamps a datagram inside the
	// sender's sendto, so this is the far sender's true interval.
	Arrival PacingStats
	// Wake is how late the pacers woke for a slot: the scheduling latency of the pacing
	// threads (timer, run queue, the Go scheduler), without the work of the slot.
	Wake PacingStats
	// Lag is how late the pacers began each slot's work, whether they slept before it or not:
	// Wake counts only the slots a pacer waited for, so a pacer whose slots take longer than
	// the slot (more work than its CPU gives it) falls behind without a sleep, and only Lag
	// shows it (its maximum is the longest backlog).
	Lag PacingStats
	// Realtime is the number of pacers running at the real-time priority asked for with
	// [Scheduler.SetRealtimePriority].
	Realtime int
	// RunDelay is the time the pacers' threads spent runnable but waiting for a CPU (Linux
	// schedstat; 0 elsewhere or before they run).
	RunDelay time.Duration
}

// Stats returns the scheduler's figures.
func (sc *Scheduler) Stats() SchedulerStats {
	sc.mu.Lock()
	st := SchedulerStats{Pacers: len(sc.pacers)}
	for _, pc := range sc.pacers {
		st.Sessions += pc.load
	}
	sc.mu.Unlock()
	st.Pacing = sc.pacingStats()
	arr, arrMax := sc.histCounts(func(pc *pacer) *pacingHist { return &pc.arrival })
	st.Arrival = pacingSummary(&arr, arrMax)
	wk, wkMax := sc.histCounts(func(pc *pacer) *pacingHist { return &pc.woke })
	st.Wake = pacingSummary(&wk, wkMax)
	lg, lgMax := sc.histCounts(func(pc *pacer) *pacingHist { return &pc.lag })
	st.Lag = pacingSummary(&lg, lgMax)
	st.RunDelay = sc.runDelay()
	st.Realtime = int(sc.realtime.Load())
	return st
}

// runDelay sums the pacer threads' run-queue delays.
func (sc *Scheduler) runDelay() time.Duration {
	var d time.Duration
	for _, pc := range sc.pacers {
		if tid := pc.tid.Load(); tid > 0 {
			d += threadRunDelay(int(tid)) + time.Duration(pc.delayBase.Load())
		}
	}
	return d
}

// pacingCounts merges the pacers' send-interval histograms.
func (sc *Scheduler) pacingCounts() (counts [pacingBuckets]uint64, maxErr time.Duration) {
	return sc.histCounts(func(pc *pacer) *pacingHist { return &pc.pacing })
}

// histCounts merges one histogram of every pacer.
func (sc *Scheduler) histCounts(which func(*pacer) *pacingHist) (counts [pacingBuckets]uint64, maxErr time.Duration) {
	for _, pc := range sc.pacers {
		h := which(pc)
		for i := range counts {
			counts[i] += h.buckets[i].Load()
		}
		maxErr = max(maxErr, time.Duration(h.max.Load()))
	}
	return counts, maxErr
}

// pacingStats summarises the send-interval errors of every packet the scheduler sent.
func (sc *Scheduler) pacingStats() PacingStats {
	counts, maxErr := sc.pacingCounts()
	return pacingSummary(&counts, maxErr)
}

// Close stops the pacing goroutines; sessions still on the scheduler stop sending, and
// engines cannot open new ones on it. Close the engines first. Idempotent.
func (sc *Scheduler) Close() {
	sc.mu.Lock()
	if sc.closed {
		sc.mu.Unlock()
		return
	}
	sc.closed = true
	sc.closing.Store(true)
	sc.mu.Unlock()
	close(sc.done)
	sc.wg.Wait()
}

// pacer is one pacing goroutine and its share of the scheduler's sessions (a shard); a
// session stays on the pacer it was given at Open, so its packets never race each other.
type pacer struct {
	sc   *Scheduler
	idx  int // its index in sc.pacers: the shard of the engines' totals its sessions add to
	wake chan struct{}

	// pacing is the send-interval errors of the packets this pacer sent (its own, so that
	// pacers on different cores do not share the histogram's cache lines); arrival is the
	// same measure taken by the receiving side: the interval between the kernel's receive
	// timestamps of consecutive packets of a stream, minus their packet time; woke is how late
	// the pacer woke for a slot (after its start), the scheduling latency alone; lag is how late
	// it began the work of each slot it ran, after a sleep or not (the backlog).
	pacing, arrival, woke, lag pacingHist
	// tid is the pacer's OS thread (Linux, once it locked it), for its run-queue delay.
	tid atomic.Int64
	// delayBase corrects tid's run-queue delay for the threads the pacer left (ns).
	delayBase atomic.Int64
	// yields counts the pacer's passes through the scheduler (yieldSlot), moved those after
	// which it resumed on another thread.
	yields, moved atomic.Uint64
	// rt: the pacer's thread took the real-time policy (owned by the pacer goroutine).
	rt bool

	// mu guards the heap and the schedule fields of the sessions on this pacer (Session.next,
	// queued).
	mu   sync.Mutex
	heap schedHeap

	// load is the number of sessions on this pacer (guarded by Scheduler.mu), for balancing.
	load int
}

// Waiting: the Go runtime's timers wake late by up to a millisecond for short waits on Linux
// (the netpoller sleeps in whole milliseconds), which alone would put the send-interval
// error's p99 near 1 ms. The pacer therefore sleeps on a Go timer (interruptible by a new
// session) until it is within tailWait of the next deadline, then waits the rest precisely:
// with nanosleep on its own OS thread, whose timer slack it lowers (waitNanosleep, the default
// on Linux), or by spinning with runtime.Gosched (waitSpin, for the benchmark's comparison).
// waitTimer uses the Go timer alone. waitNanosleepHoldP naps as waitNanosleep does but keeps
// the goroutine's P (a raw nanosleep) on any policy, for the benchmark's comparison.
//
// What a nap costs besides itself: a pacer in nanosleep is, to the Go runtime, a goroutine in
// a system call; when no P is idle (GOMAXPROCS pacers, all asleep) the runtime's monitor takes
// the sleeping pacers' Ps and hands them on, and each wake-up then waits for a P to come back.
// Measured with BenchmarkConcurrentCalls (its switches/s: the process's context switches) on
// the 2-core VM at load 9-12, 100 and 250 calls, three alternating runs each: 2 pacers 3-10 k
// switches a second and 9.3-14.8 µs of CPU a packet at 250 calls (17-29 at 100); 1 pacer,
// which leaves a P idle, 0.9-1.8 k and 6.4-9.5 µs (11-17); 2 pacers holding their Ps asleep
// 0.9-2.6 k and 6.3-9.0 µs. At 500 and 1,000 calls, where the pacers seldom sleep, the three
// were alike within the noise. A lone pacer thread gets less of a loaded machine's CPU (250
// calls: 87-92% of the packets a second against 99%), and a pacer holding its P asleep keeps
// it from every other goroutine of the process, so neither is the default.
//
// Slots: the pacer wakes at most once per slot of the scheduler's clock, at the slot's start,
// and sends every session due before the slot ends. A session's deadlines repeat at its
// packet time, a whole number of slots, so each is served at the same point of its slot every
// time: its packets leave up to a slot early, at exact intervals (the send-interval error is
// the wake-up's precision, not the slot). A hundred calls then cost a pacer about one wake-up
// per slot instead of one per call and packet (each wake-up a nanosleep and a context switch,
// as dear as the packet's own system calls on a virtual machine).
const (
	waitTimer = iota
	waitNanosleep
	waitSpin
	waitNanosleepHoldP // nanosleep holding the P on any policy (the benchmark's comparison)

	tailWait = 1500 * time.Microsecond
	slot     = int64(time.Millisecond)
)

// schedule queues s at due unless it is queued or being run (the pacer re-queues it then).
func (e *Engine) schedule(s *Session, due int64) {
	pc := s.pc
	pc.mu.Lock()
	if s.queued || e.closing.Load() || pc.sc.closing.Load() {
		pc.mu.Unlock()
		return
	}
	s.queued = true
	first := pc.heap.push(s, due) == 0
	pc.mu.Unlock()
	if first {
		select {
		case pc.wake <- struct{}{}:
		default:
		}
	}
}

// place returns when a session starting now with packets every ptime should send its first:
// at the start of the slot, of the next ptime's, that the fewest of the pacer's sessions are
// due in (the soonest of those), at now's offset within its slot. Calls set up in a burst
// would otherwise crowd some slots and leave others empty: a slot whose sessions take longer
// than the slot delays every session of the next ones, by as much as the work varies from
// one packet time to the next. Measured at 1,000 calls on one pacer (BenchmarkConcurrentCalls,
// the calls started 20 µs apart by time.Sleep): 49 sessions a slot at the median, 60 at the
// 90th percentile, slots of 16.5 µs a session overrunning their end in over 10% of them.
func (pc *pacer) place(now, ptime int64) int64 {
	n := int(ptime / slot)
	if n <= 1 || n > maxPhases {
		return now
	}
	var counts [maxPhases]int32
	pc.mu.Lock()
	for _, e := range pc.heap {
		counts[int(e.due/slot%int64(n))]++
	}
	pc.mu.Unlock()
	cur := now / slot
	best := 0
	for d := 1; d < n; d++ {
		if counts[int((cur+int64(d))%int64(n))] < counts[int((cur+int64(best))%int64(n))] {
			best = d
		}
	}
	if best == 0 {
		return now
	}
	return (cur+int64(best))*slot + now%slot
}

// maxPhases bounds the slots of a packet time that place balances (maxPacketTime's).
const maxPhases = int(maxPacketTime / time.Millisecond)

// run is the pacing goroutine.
func (pc *pacer) run() {
	sc := pc.sc
	defer sc.wg.Done()
	mode := sc.waitMode
	holdP := false
	if mode == waitNanosleepHoldP {
		mode, holdP = waitNanosleep, true
	}
	if mode == waitNanosleep && !preciseThread() {
		mode, holdP = waitTimer, false
	}
	if mode == waitNanosleep {
		pc.tid.Store(int64(threadID()))
		if sc.rtPrio > 0 && realtimeThread(sc.rtPrio) {
			pc.rt = true
			sc.realtime.Add(1)
			holdP = holdP || runtime.GOMAXPROCS(0) > len(sc.pacers)
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	due := make([]schedEntry, 0, 256)
	target := int64(-1) // the slot start the pacer last waited for
	locked := mode == waitNanosleep
	yieldedAt := sc.now()
	for {
		pc.mu.Lock()
		now := sc.now()
		end := (now/slot + 1) * slot // the end of the current slot
		due = due[:0]
		for len(pc.heap) > 0 && pc.heap[0].due < end {
			due = append(due, pc.heap.pop()) // its session stays queued: the pacer owns it until re-pushed
		}
		wait := time.Duration(-1)
		if len(due) == 0 && len(pc.heap) > 0 {
			target = pc.heap[0].due / slot * slot // the start of its slot
			wait = time.Duration(target - now)
		}
		pc.mu.Unlock()

		if len(due) > 0 {
			// The heap pops the earliest first: how late this slot's work begins.
			pc.lag.add(time.Duration(max(now-due[0].due/slot*slot, 0)))
			if target >= 0 {
				pc.woke.add(time.Duration(max(now-target, 0)))
				target = -1
			}
			for _, d := range due {
				d.s.next = d.s.tick(d.due)
			}
			closing := sc.closing.Load()
			pc.mu.Lock()
			for i, d := range due {
				due[i] = schedEntry{}
				s := d.s
				if s.next <= 0 || closing || s.e.closing.Load() {
					s.queued = false
					continue
				}
				pc.heap.push(s, s.next)
			}
			pc.mu.Unlock()
			continue
		}
		if sc.closing.Load() {
			return
		}
		if locked && sc.yield != yieldNone && now-yieldedAt >= yieldEvery {
			pc.yieldSlot()
			yieldedAt = sc.now()
			continue
		}
		if wait >= 0 && wait <= tailWait && mode != waitTimer {
			// The precise tail: nothing can become due earlier in so short a time that
			// matters (a new session starting waits at most this long for its first packet).
			if mode == waitNanosleep {
				if holdP {
					napHoldingP(wait)
				} else {
					nap(wait)
				}
			} else {
				for end := sc.now() + int64(wait); sc.now() < end; {
					runtime.Gosched()
				}
			}
			continue
		}
		switch {
		case wait < 0:
			wait = time.Hour
		case mode != waitTimer:
			wait -= tailWait / 2
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-pc.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-sc.done:
			return
		}
		yieldedAt = sc.now() // the pacer parked: it went through the scheduler
	}
}

// pacingHist is a histogram of send-interval errors |actual interval − packet time| in 50 µs
// buckets up to 20 ms (the last bucket takes everything above), updated with atomics (by its
// pacer; a test may tick a session from its own goroutine).
type pacingHist struct {
	buckets [pacingBuckets]atomic.Uint64
	max     atomic.Int64
}

const (
	pacingBucket  = 50 * time.Microsecond
	pacingBuckets = 401
)

func (h *pacingHist) add(err time.Duration) {
	if err < 0 {
		err = -err
	}
	b := int(err / pacingBucket)
	if b >= len(h.buckets) {
		b = len(h.buckets) - 1
	}
	h.buckets[b].Add(1)
	for {
		m := h.max.Load()
		if int64(err) <= m || h.max.CompareAndSwap(m, int64(err)) {
			return
		}
	}
}

// PacingStats summarises send-interval errors: how far each packet's distance from the
// previous one of its session was from the packet time.
type PacingStats struct {
	Count    uint64
	P50, P99 time.Duration // upper bounds of the 50 µs buckets
	Max      time.Duration
}

func pacingSummary(counts *[pacingBuckets]uint64, maxErr time.Duration) PacingStats {
	var total uint64
	for _, c := range counts {
		total += c
	}
	ps := PacingStats{Count: total, Max: maxErr}
	if total == 0 {
		return ps
	}
	q := func(f float64) time.Duration {
		want := uint64(math.Ceil(f * float64(total)))
		var run uint64
		for i, c := range counts {
			run += c
			if run >= want {
				return time.Duration(i+1) * pacingBucket
			}
		}
		return ps.Max
	}
	ps.P50, ps.P99 = q(0.50), q(0.99)
	return ps
}

// Yielding: the Go runtime's monitor preempts a goroutine that has run on its P for 10 ms
// without passing through the scheduler, and a pacer that sleeps in nanosleep never does. A
// preempted goroutine locked to its thread cannot resume on that thread by itself: its P goes
// to another thread of the default policy, which must get a CPU, find the pacer and hand the
// P back (two wake-ups). Traced at 1,000 calls (load 7, one real-time pacer, GOMAXPROCS 4):
// 44 preemptions a second, the pacer stopped p50 58 µs, p90 0.8 ms, p99 6.9 ms, max 13 ms,
// mid-slot, every session after it in its slot and the next ones late by as much. So the
// pacer passes through the scheduler itself, at a slot's end, every yieldEvery: with
// yieldUnlocked it unlocks its thread for a Gosched, which resumes it on the same thread at
// once when nothing else is runnable (the thread keeps its P, no wake-up); if another thread
// took it, the pacer moves its real-time policy from the old thread to the new one.
const (
	yieldNone     = iota
	yieldLocked   // runtime.Gosched while locked (the benchmark's comparison)
	yieldUnlocked // unlock, Gosched, lock again

	yieldEvery = 4 * int64(time.Millisecond)
)

// yieldSlot passes through the Go scheduler between slots (see yieldUnlocked).
func (pc *pacer) yieldSlot() {
	sc := pc.sc
	pc.yields.Add(1)
	if sc.yield == yieldLocked {
		runtime.Gosched()
		return
	}
	tid := threadID()
	runtime.UnlockOSThread()
	runtime.Gosched()
	runtime.LockOSThread()
	if now := threadID(); now != tid {
		pc.moved.Add(1)
		prio := 0
		if pc.rt {
			prio = sc.rtPrio
		}
		movePacerThread(tid, prio)
		pc.delayBase.Add(int64(threadRunDelay(tid) - threadRunDelay(now)))
		pc.tid.Store(int64(now))
	}
}
