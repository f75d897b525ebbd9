package phone

import (
	"sync"

	"github.com/spa900/spa900/provisioning/config"
)

// lender lends the buffers of a resync (the profile's bytes, its changes) from one that
// ended to the next, across the units of a fleet, which share one: in a storm every phone's
// resync needs the same, and a new 10 KB body and 20 KB of changes for each were a fifth of
// what a storm of 2,000 phones allocated. What it keeps goes with the garbage collector's
// cycles (sync.Pool): an idle fleet holds none. A nil lender lends nothing (a single phone:
// one resync at a time, whose buffers would be kept between resyncs for nothing).
type lender struct {
	bodies  sync.Pool // *resyncBuffer
	changes sync.Pool // *[]config.Change
}

// maxLentBody and maxLentChanges bound what the lender keeps to lend: a profile of the usual
// sizes (the full SPA962 export is about 80 KB and 1,300 changes), not a firmware image.
const (
	maxLentBody    = 256 << 10
	maxLentChanges = 4096
)

// resyncBuffer is a body buffer lent by a lender.
type resyncBuffer struct{ b []byte }

// body lends a body buffer: nil without a lender.
func (l *lender) body() *resyncBuffer {
	if l == nil {
		return nil
	}
	if rb, _ := l.bodies.Get().(*resyncBuffer); rb != nil {
		return rb
	}
	return &resyncBuffer{b: make([]byte, 0, 16<<10)}
}

// putBody takes back a body buffer, now holding b (a body read into it, or one that did not
// fit and took its place).
func (l *lender) putBody(rb *resyncBuffer, b []byte) {
	if l == nil || rb == nil {
		return
	}
	if cap(b) > cap(rb.b) && cap(b) <= maxLentBody {
		rb.b = b
	}
	rb.b = rb.b[:0]
	l.bodies.Put(rb)
}

// changeBuffer lends a buffer for a profile's changes: nil without a lender.
func (l *lender) changeBuffer() *[]config.Change {
	if l == nil {
		return nil
	}
	if cb, _ := l.changes.Get().(*[]config.Change); cb != nil {
		return cb
	}
	return new([]config.Change)
}

// putChanges takes back a change buffer, now holding c (the changes decoded into it, or ones
// that did not fit and took its place). Its strings are cleared: what is lent keeps no
// profile alive.
func (l *lender) putChanges(cb *[]config.Change, c []config.Change) {
	if l == nil || cb == nil {
		return
	}
	clear((*cb)[:cap(*cb)]) // also what a decode that failed wrote
	if cap(c) > cap(*cb) && cap(c) <= maxLentChanges {
		clear(c)
		*cb = c
	}
	*cb = (*cb)[:0]
	l.changes.Put(cb)
}
