package media

import (
	"math"
	"sync/atomic"
	"time"
)

// The pacer: one goroutine per engine sends every session's packets when they are due. The
// schedule is a min-heap of sessions by due time (O(log n) per packet, no timer per session);
// the goroutine sleeps on one timer until the earliest deadline, then runs every session whose
// deadline has passed. A session's next deadline is its last one plus its packet time, so
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

// schedule queues s at due unless it is queued or being run (the pacer re-queues it then).
func (e *Engine) schedule(s *Session, due int64) {
	e.mu.Lock()
	if s.queued || e.closed {
		e.mu.Unlock()
		return
	}
	s.queued = true
	s.due = due
	e.heap.push(s)
	first := s.hidx == 0
	e.mu.Unlock()
	if first {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
}

// pace is the pacing goroutine.
func (e *Engine) pace() {
	defer e.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	due := make([]*Session, 0, 256)
	for {
		e.mu.Lock()
		now := e.now()
		due = due[:0]
		for len(e.heap) > 0 && e.heap[0].due <= now {
			due = append(due, e.heap.pop()) // stays queued: the pacer owns it until re-pushed
		}
		wait := time.Duration(-1)
		if len(due) == 0 && len(e.heap) > 0 {
			wait = time.Duration(e.heap[0].due - now)
		}
		e.mu.Unlock()

		if len(due) > 0 {
			for i, s := range due {
				s.next = s.tick(s.due)
				due[i] = s
			}
			e.mu.Lock()
			for i, s := range due {
				due[i] = nil
				if s.next <= 0 || e.closed {
					s.queued = false
					continue
				}
				s.due = s.next
				e.heap.push(s)
			}
			e.mu.Unlock()
			continue
		}
		if wait < 0 {
			wait = time.Hour
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-e.wake:
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
