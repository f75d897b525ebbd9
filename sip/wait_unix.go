//go:build unix

package sip

import (
	"net"
	"syscall"
)

// waitReadable returns when the socket has a datagram to read (or a read error to report),
// reading nothing and holding no buffer: the goroutine parks in the runtime's poller, which
// wakes it at the next arrival. A read deadline interrupts it (os.ErrDeadlineExceeded).
func waitReadable(pc net.PacketConn) error {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var b [1]byte
	return rc.Read(func(fd uintptr) bool {
		// A datagram that was queued before the wait began raises no new readiness edge:
		// look, without taking it, before parking.
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
	})
}
