//go:build linux

package media

import (
	"encoding/binary"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// On Linux the pacer reads and writes each session's RTP socket itself, without a reader
// goroutine: at every tick it takes what the kernel queued with one non-blocking recvmmsg, and
// the kernel's receive timestamp (SO_TIMESTAMPNS) gives each packet its true arrival time for
// RFC 3550 jitter. A thousand calls then cost no goroutine wake-ups per packet. Everything is
// preallocated in the session: the message headers, the address and control buffers, the
// destination's sockaddr.
//
// The socket is taken out of the Go runtime's netpoller: the pacer never waits on it, and a
// socket registered with epoll costs the kernel an epoll callback (and often a wake-up of the
// runtime's epoll_wait thread, then a netpoll pass over it) on every datagram that arrives in
// an empty queue — a third of the receive path's CPU at a thousand calls. initPoll duplicates
// the bound socket's descriptor and closes the net.UDPConn (which deregisters it from epoll);
// the duplicate, non-blocking, is read with recvmmsg and written with sendto as raw system
// calls (neither blocks; a send that would block is counted as a send error, as a full
// interface queue drops a datagram).

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
	fd    int // the RTP socket, outside the netpoller; -1 once closed
	v6    bool
	dst   netip.AddrPort // the destination sa was built for
	sa4   syscall.RawSockaddrInet4
	sa6   syscall.RawSockaddrInet6
	msgs  [rxBatch]mmsghdr // set up by initPoll; recvmmsg changes the lengths of those it fills
	dirty int              // headers from msgs[0] whose lengths the last recvmmsg may have changed
	iov   [rxBatch]syscall.Iovec
	name  [rxBatch]syscall.RawSockaddrInet6
	oob   [rxBatch][64]byte
	buf   [rxBatch][slotSize]byte
	ok    bool
	wall0 int64 // wall clock at the poll, ns
	mono0 int64 // engine clock at the poll
}

// initPoll switches the session to polling on a descriptor of its own; false leaves it to a
// reader goroutine on the net.UDPConn.
func (s *Session) initPoll() bool {
	rc, err := s.rtp.SyscallConn()
	if err != nil {
		return false
	}
	fd, v6 := -1, false
	var serr error
	if err := rc.Control(func(f uintptr) {
		if serr = syscall.SetsockoptInt(int(f), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); serr != nil {
			return
		}
		var sa syscall.Sockaddr
		if sa, serr = syscall.Getsockname(int(f)); serr != nil {
			return
		}
		_, v6 = sa.(*syscall.SockaddrInet6)
		// F_DUPFD_CLOEXEC: the duplicate shares the open file (port, options, O_NONBLOCK).
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, f, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			serr = e
			return
		}
		fd = int(r)
	}); err != nil || serr != nil {
		if fd >= 0 {
			syscall.Close(fd)
		}
		return false
	}
	s.rtp.Close() // deregisters the socket from epoll; the duplicate keeps it open and bound
	p := &s.poll
	p.fd, p.v6, p.ok = fd, v6, true
	for i := range p.msgs {
		h := &p.msgs[i].hdr
		p.iov[i].Base = &p.buf[i][0]
		p.iov[i].SetLen(slotSize)
		h.Name = (*byte)(unsafe.Pointer(&p.name[i]))
		h.Iov = &p.iov[i]
		h.Iovlen = 1
		h.Control = &p.oob[i][0]
	}
	p.dirty = rxBatch
	return true
}

// pollRTP takes every queued datagram (on the pacer, under s.mu).
func (s *Session) pollRTP() {
	p := &s.poll
	p.wall0 = time.Now().UnixNano()
	p.mono0 = s.e.now()
	s.recvAll()
}

// writeRaw sends one datagram on the session's descriptor (on the pacer, under s.mu).
func (s *Session) writeRaw(pkt []byte, dst netip.AddrPort) error {
	p := &s.poll
	if p.fd < 0 {
		return syscall.EBADF
	}
	if dst != p.dst && !p.setDest(dst) {
		return syscall.EAFNOSUPPORT // an IPv6 destination for an IPv4 socket
	}
	sa, salen := unsafe.Pointer(&p.sa4), unsafe.Sizeof(p.sa4)
	if p.v6 {
		sa, salen = unsafe.Pointer(&p.sa6), unsafe.Sizeof(p.sa6)
	}
	_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(p.fd), uintptr(unsafe.Pointer(&pkt[0])), uintptr(len(pkt)), 0, uintptr(sa), salen)
	if e != 0 {
		return e
	}
	return nil
}

// setDest builds the destination's sockaddr for the socket's family (an IPv4 destination of
// an IPv6 socket is v4-mapped); false for an IPv6 destination of an IPv4 socket.
func (p *poller) setDest(dst netip.AddrPort) bool {
	port := dst.Port()
	if p.v6 {
		p.sa6 = syscall.RawSockaddrInet6{Family: syscall.AF_INET6, Addr: dst.Addr().As16()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&p.sa6.Port))[:], port)
		p.dst = dst
		return true
	}
	a := dst.Addr().Unmap()
	if !a.Is4() {
		return false
	}
	p.sa4 = syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: a.As4()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&p.sa4.Port))[:], port)
	p.dst = dst
	return true
}

// closeRTP closes the session's RTP socket (after the pacer let go of it: s.closed is set).
func (s *Session) closeRTP() error {
	if !s.poll.ok {
		return s.rtp.Close()
	}
	s.mu.Lock()
	fd := s.poll.fd
	s.poll.fd = -1
	s.mu.Unlock()
	if fd < 0 {
		return nil
	}
	return syscall.Close(fd)
}

// recvAll takes the queued datagrams: one recvmmsg takes up to rxBatch (one system call per
// tick where recvmsg needed a second one to learn the socket was empty); it goes on only while
// batches come back full.
func (s *Session) recvAll() {
	p := &s.poll
	if p.fd < 0 {
		return
	}
	for {
		// Only the headers the last call filled have other lengths (and the one after them,
		// which it tried): a tick that takes one datagram rewrites two, not the batch's four.
		for i := range p.msgs[:p.dirty] {
			h := &p.msgs[i].hdr
			h.Namelen = uint32(unsafe.Sizeof(p.name[i]))
			h.SetControllen(len(p.oob[i]))
			h.Flags = 0
		}
		n, _, errno := syscall.RawSyscall6(syscall.SYS_RECVMMSG, uintptr(p.fd), uintptr(unsafe.Pointer(&p.msgs[0])), rxBatch, syscall.MSG_DONTWAIT, 0, 0)
		if errno != 0 {
			p.dirty = 1
			return // EAGAIN: empty (or an error: the next tick tries again)
		}
		p.dirty = min(int(n)+1, rxBatch)
		for i := 0; i < int(n); i++ {
			at := p.mono0
			if ts, ok := p.kernelTime(i); ok {
				at = p.mono0 - (p.wall0 - ts)
			}
			s.receive(p.buf[i][:p.msgs[i].n], p.from(i), at)
		}
		if int(n) < rxBatch {
			return
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

// realtimeThread puts the calling (locked) thread in SCHED_FIFO at prio; false where it may
// not (no CAP_SYS_NICE).
func realtimeThread(prio int) bool {
	const schedFIFO = 1
	param := struct{ prio int32 }{int32(prio)}
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, schedFIFO, uintptr(unsafe.Pointer(&param)))
	return errno == 0
}

// movePacerThread gives the calling (locked) thread what a pacer's thread has, the timer
// slack and, with prio > 0, the real-time policy, and returns thread old (the thread of the
// process the pacer left) to the default policy.
func movePacerThread(old, prio int) {
	const prSetTimerslack = 29
	syscall.RawSyscall6(syscall.SYS_PRCTL, prSetTimerslack, uintptr(10*time.Microsecond), 0, 0, 0, 0)
	if prio <= 0 {
		return
	}
	realtimeThread(prio)
	param := struct{ prio int32 }{0}
	syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(old), 0, uintptr(unsafe.Pointer(&param))) // SCHED_OTHER
}

// threadID is the calling thread's id (gettid).
func threadID() int { return syscall.Gettid() }

// threadRunDelay is the time thread tid of this process spent runnable, waiting for a CPU
// (the second field of /proc/self/task/TID/schedstat); 0 when it cannot be read.
func threadRunDelay(tid int) time.Duration {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/schedstat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	ns, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return time.Duration(ns)
}

// nap sleeps d with nanosleep(2) on the pacer's thread (the runtime hands the thread's P to
// other goroutines meanwhile).
func nap(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}

// napHoldingP sleeps d with nanosleep(2) as a raw system call: the goroutine keeps its P.
func napHoldingP(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
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
