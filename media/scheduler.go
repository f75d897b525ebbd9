package media

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The pacers: a few goroutines per engine (one per core) send every session's packets when
// they are due. Each pacer's schedule is a min-heap of its sessions by due time (O(log n) per
// packet, no timer per session); the goroutine sleeps until the earliest deadline, then runs
// every session whose deadline has passed. A session's next deadline is its last one plus its packet time, so
// lateness of one tick is not carried into the next (no drift).

// schedHeap is a min-heap of sessions by due; each session knows its index (-1: not queued).
type schedHeap []*Session

func (h schedHeap) less(i, j int) bool { return h[i].due < h[j].due }

func (h schedHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = i
	h[j].hidx = j
}

func (h *schedHeap) push(s *Session) {
	s.hidx = len(*h)
	*h = append(*h, s)
	h.up(s.hidx)
}

func (h *schedHeap) pop() *Session {
	old := *h
	n := len(old) - 1
	old.swap(0, n)
	s := old[n]
	old[n] = nil
	*h = old[:n]
	if n > 0 {
		h.down(0)
	}
	s.hidx = -1
	return s
}

func (h *schedHeap) remove(s *Session) {
	i := s.hidx
	if i < 0 || i >= len(*h) || (*h)[i] != s {
		return
	}
	old := *h
	n := len(old) - 1
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	if i != n {
		h.down(i)
		h.up(i)
	}
	s.hidx = -1
}

func (h schedHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h schedHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			return
		}
		h.swap(i, j)
		i = j
	}
}

// pacer is one pacing goroutine and its share of the engine's sessions (a shard). An engine
// runs Pacers of them (GOMAXPROCS by default), so a thousand calls use every core; a session
// stays on the pacer it was given at Open, so its packets never race each other.
type pacer struct {
	e    *Engine
	wake chan struct{}

	// mu guards the heap and the schedule fields of the sessions on this pacer (Session.hidx,
	// due, next, queued).
	mu   sync.Mutex
	heap schedHeap

	// load is the number of sessions on this pacer (guarded by Engine.mu), for balancing.
	load int
}

// Waiting: the Go runtime's timers wake late by up to a millisecond for short waits on Linux
// (the netpoller sleeps in whole milliseconds), which alone would put the send-interval
// error's p99 near 1 ms. The pacer therefore sleeps on a Go timer (interruptible by a new
// session) until it is within tailWait of the next deadline, then waits the rest precisely:
// with nanosleep on its own OS thread, whose timer slack it lowers (waitNanosleep, the default
// on Linux), or by spinning with runtime.Gosched (waitSpin, for the benchmark's comparison).
// waitTimer uses the Go timer alone. Sessions due within lookahead of now are sent in the
// same pass: one wake-up serves a cluster of deadlines.
const (
	waitTimer = iota
	waitNanosleep
	waitSpin

	tailWait  = 1500 * time.Microsecond
	lookahead = 50 * time.Microsecond
)

// pick returns the least loaded pacer for a new session (under Engine.mu).
func (e *Engine) pickLocked() *pacer {
	best := e.pacers[0]
	for _, pc := range e.pacers[1:] {
		if pc.load < best.load {
			best = pc
		}
	}
	best.load++
	return best
}

// schedule queues s at due unless it is queued or being run (the pacer re-queues it then).
func (e *Engine) schedule(s *Session, due int64) {
	pc := s.pc
	pc.mu.Lock()
	if s.queued || e.closing.Load() {
		pc.mu.Unlock()
		return
	}
	s.queued = true
	s.due = due
	pc.heap.push(s)
	first := s.hidx == 0
	pc.mu.Unlock()
	if first {
		select {
		case pc.wake <- struct{}{}:
		default:
		}
	}
}

// unschedule takes a closing session off its pacer.
func (pc *pacer) unschedule(s *Session) {
	pc.mu.Lock()
	pc.heap.remove(s)
	pc.mu.Unlock()
}

// run is the pacing goroutine.
func (pc *pacer) run() {
	e := pc.e
	defer e.wg.Done()
	mode := e.waitMode
	if mode == waitNanosleep && !preciseThread() {
		mode = waitTimer
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	due := make([]*Session, 0, 256)
	for {
		pc.mu.Lock()
		now := e.now()
		due = due[:0]
		for len(pc.heap) > 0 && pc.heap[0].due <= now+int64(lookahead) {
			due = append(due, pc.heap.pop()) // stays queued: the pacer owns it until re-pushed
		}
		wait := time.Duration(-1)
		if len(due) == 0 && len(pc.heap) > 0 {
			wait = time.Duration(pc.heap[0].due - now)
		}
		pc.mu.Unlock()

		if len(due) > 0 {
			for _, s := range due {
				s.next = s.tick(s.due)
			}
			closing := e.closing.Load()
			pc.mu.Lock()
			for i, s := range due {
				due[i] = nil
				if s.next <= 0 || closing {
					s.queued = false
					continue
				}
				s.due = s.next
				pc.heap.push(s)
			}
			pc.mu.Unlock()
			continue
		}
		if e.closing.Load() {
			return
		}
		if wait >= 0 && wait <= tailWait && mode != waitTimer {
			// The precise tail: nothing can become due earlier in so short a time that
			// matters (a new session starting waits at most this long for its first packet).
			if mode == waitNanosleep {
				nap(wait)
			} else {
				for end := e.now() + int64(wait); e.now() < end; {
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
		case <-e.done:
			return
		}
	}
}

// pacingHist is a histogram of send-interval errors |actual interval − packet time| in 50 µs
// buckets up to 20 ms (the last bucket takes everything above), updated with atomics.
type pacingHist struct {
	buckets [401]atomic.Uint64
	count   atomic.Uint64
	max     atomic.Int64
}

const pacingBucket = 50 * time.Microsecond

func (h *pacingHist) add(err time.Duration) {
	if err < 0 {
		err = -err
	}
	b := int(err / pacingBucket)
	if b >= len(h.buckets) {
		b = len(h.buckets) - 1
	}
	h.buckets[b].Add(1)
	h.count.Add(1)
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

func (h *pacingHist) stats() PacingStats {
	var counts [401]uint64
	var total uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	ps := PacingStats{Count: total, Max: time.Duration(h.max.Load())}
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
