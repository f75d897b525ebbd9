//go:build !linux

package media

// poller is empty where the pacer cannot poll: a reader goroutine hands packets over.
type poller struct{ ok bool }

func (s *Session) initPoll() bool { return false }

func (s *Session) pollRTP() {}
