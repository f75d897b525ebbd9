//go:build linux

package media

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"time"
	"unsafe"
)

// On Linux the pacer reads each session's RTP socket itself, without a reader goroutine: at
// every tick it takes what the kernel queued with non-blocking recvmsg, and the kernel's
// receive timestamp (SO_TIMESTAMPNS) gives each packet its true arrival time for RFC 3550
// jitter. A thousand calls then cost no goroutine wake-ups per packet. Everything is
// preallocated in the session: the message header, the address and control buffers, and the
// callback (a method value bound once).

// poller is a session's receive state for polling.
type poller struct {
	rc    syscall.RawConn
	fn    func(fd uintptr) bool
	hdr   syscall.Msghdr
	iov   syscall.Iovec
	name  syscall.RawSockaddrInet6
	oob   [64]byte
	buf   [slotSize]byte
	ok    bool
	wall0 int64 // wall clock at the poll, ns
	mono0 int64 // engine clock at the poll
}

// initPoll switches the session to polling; false leaves it to a reader goroutine.
func (s *Session) initPoll() bool {
	rc, err := s.rtp.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return false
	}
	p := &s.poll
	p.rc = rc
	p.fn = s.recvAll
	p.ok = true
	return true
}

// pollRTP takes every queued datagram (on the pacer, under s.mu).
func (s *Session) pollRTP() {
	p := &s.poll
	p.wall0 = time.Now().UnixNano()
	p.mono0 = s.e.now()
	_ = p.rc.Read(p.fn) // an error means the socket closed: the session is closing
}

// recvAll is the RawConn.Read callback: it reads until the socket is empty and returns true
// so that Read never blocks.
func (s *Session) recvAll(fd uintptr) bool {
	p := &s.poll
	for {
		p.iov.Base = &p.buf[0]
		p.iov.SetLen(len(p.buf))
		p.hdr.Name = (*byte)(unsafe.Pointer(&p.name))
		p.hdr.Namelen = uint32(unsafe.Sizeof(p.name))
		p.hdr.Iov = &p.iov
		p.hdr.Iovlen = 1
		p.hdr.Control = &p.oob[0]
		p.hdr.SetControllen(len(p.oob))
		p.hdr.Flags = 0
		n, _, errno := syscall.Syscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&p.hdr)), syscall.MSG_DONTWAIT)
		if errno != 0 {
			return true // EAGAIN: empty (or an error: the next tick tries again)
		}
		at := p.mono0
		if ts, ok := p.kernelTime(); ok {
			at = p.mono0 - (p.wall0 - ts)
		}
		s.receive(p.buf[:n], p.from(), at)
	}
}

// from decodes the sender's address.
func (p *poller) from() netip.AddrPort {
	switch p.name.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&p.name))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)
	case syscall.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&p.name.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(p.name.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// kernelTime finds the SCM_TIMESTAMPNS control message (wall clock, ns).
func (p *poller) kernelTime() (int64, bool) {
	cl := int(p.hdr.Controllen)
	b := p.oob[:min(cl, len(p.oob))]
	const hdrLen = int(unsafe.Sizeof(syscall.Cmsghdr{}))
	for len(b) >= hdrLen {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < hdrLen || l > len(b) {
			return 0, false
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SO_TIMESTAMPNS && l >= hdrLen+int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&b[hdrLen]))
			return ts.Nano(), true
		}
		next := (l + 7) &^ 7
		if next > len(b) {
			return 0, false
		}
		b = b[next:]
	}
	return 0, false
}
