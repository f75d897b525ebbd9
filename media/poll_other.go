//go:build !linux

package media

import (
	"net/netip"
	"time"
)

// poller is empty where the pacer cannot poll: a reader goroutine hands packets over.
type poller struct{ ok bool }

func (s *Session) initPoll() bool { return false }

func (s *Session) pollRTP() {}

func (s *Session) writeRaw([]byte, netip.AddrPort) error { return ErrClosed }

func (s *Session) closeRTP() error { return s.rtp.Close() }

// preciseThread reports whether the pacer can wait precisely on its own thread; not here.
func preciseThread() bool { return false }

// realtimeThread is not done here.
func realtimeThread(int) bool { return false }

// movePacerThread is not done here (pacers do not lock threads).
func movePacerThread(int, int) {}

// threadID is unused where preciseThread is false.
func threadID() int { return 0 }

// threadRunDelay is not known here.
func threadRunDelay(int) time.Duration { return 0 }

func napHoldingP(d time.Duration) { time.Sleep(d) }

// nap is never called where preciseThread is false.
func nap(d time.Duration) { time.Sleep(d) }
