//go:build !linux

package media

import "time"

// poller is empty where the pacer cannot poll: a reader goroutine hands packets over.
type poller struct{ ok bool }

func (s *Session) initPoll() bool { return false }

func (s *Session) pollRTP() {}

// preciseThread reports whether the pacer can wait precisely on its own thread; not here.
func preciseThread() bool { return false }

// nap is never called where preciseThread is false.
func nap(d time.Duration) { time.Sleep(d) }
