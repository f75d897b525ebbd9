//go:build linux

package media

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// On Linux the pacer reads each session's RTP socket itself, without a reader goroutine: at
// every tick it takes what the kernel queued with one non-blocking recvmmsg, and the kernel's
// receive timestamp (SO_TIMESTAMPNS) gives each packet its true arrival time for RFC 3550
// jitter. A thousand calls then cost no goroutine wake-ups per packet. Everything is
// preallocated in the session: the message header, the address and control buffers, and the
// callback (a method value bound once).

// rxBatch is how many datagrams one recvmmsg takes: a 20 ms session finds one or two queued
// at its tick, more only after a stall or from an impaired peer (the loop goes on until the
// socket is empty).
const rxBatch = 4

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
}

// poller is a session's receive state for polling.
type poller struct {
	rc    syscall.RawConn
	fn    func(fd uintptr) bool
	msgs  [rxBatch]mmsghdr
	iov   [rxBatch]syscall.Iovec
	name  [rxBatch]syscall.RawSockaddrInet6
	oob   [rxBatch][64]byte
	buf   [rxBatch][slotSize]byte
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

// recvAll is the RawConn.Read callback: one recvmmsg takes up to rxBatch datagrams (one system
// call per tick where recvmsg needed a second one to learn the socket was empty); it goes on
// only while batches come back full, and returns true so that Read never blocks.
func (s *Session) recvAll(fd uintptr) bool {
	p := &s.poll
	for {
		for i := range p.msgs {
			h := &p.msgs[i].hdr
			p.iov[i].Base = &p.buf[i][0]
			p.iov[i].SetLen(slotSize)
			h.Name = (*byte)(unsafe.Pointer(&p.name[i]))
			h.Namelen = uint32(unsafe.Sizeof(p.name[i]))
			h.Iov = &p.iov[i]
			h.Iovlen = 1
			h.Control = &p.oob[i][0]
			h.SetControllen(len(p.oob[i]))
			h.Flags = 0
		}
		n, _, errno := syscall.Syscall6(syscall.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&p.msgs[0])), rxBatch, syscall.MSG_DONTWAIT, 0, 0)
		if errno != 0 {
			return true // EAGAIN: empty (or an error: the next tick tries again)
		}
		for i := 0; i < int(n); i++ {
			at := p.mono0
			if ts, ok := p.kernelTime(i); ok {
				at = p.mono0 - (p.wall0 - ts)
			}
			s.receive(p.buf[i][:p.msgs[i].n], p.from(i), at)
		}
		if int(n) < rxBatch {
			return true
		}
	}
}

// preciseThread prepares the calling pacer goroutine for precise waits: it keeps its own OS
// thread, whose timer slack (prctl PR_SET_TIMERSLACK, 50 µs by default) it lowers to 10 µs.
func preciseThread() bool {
	runtime.LockOSThread()
	const prSetTimerslack = 29
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetTimerslack, uintptr(10*time.Microsecond), 0, 0, 0, 0)
	return errno == 0
}

// nap sleeps d with nanosleep(2) on the pacer's thread (the runtime hands the thread's P to
// other goroutines meanwhile).
func nap(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}

// from decodes the sender's address.
func (p *poller) from(i int) netip.AddrPort {
	name := &p.name[i]
	switch name.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(name))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)
	case syscall.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&name.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(name.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// kernelTime finds the SCM_TIMESTAMPNS control message (wall clock, ns).
func (p *poller) kernelTime(i int) (int64, bool) {
	cl := int(p.msgs[i].hdr.Controllen)
	b := p.oob[i][:min(cl, len(p.oob[i]))]
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
