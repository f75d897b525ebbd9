package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"
)

// A small io_uring (io_uring_setup(2), io_uring_enter(2)) for BenchmarkSyscallFloor: it asks
// whether submitting the sends and receives of many sessions' sockets in one kernel entry
// lowers the cost of a packet below one sendto and one recvmmsg each. No Go io_uring library
// could be had from the module proxy, so it is written here on the raw system calls, test-only
// until the figures say the engine should use it.
//
// The rings are the kernel's memory, mapped into the process (MAP_SHARED). The kernel reads the
// message headers, iovecs, addresses and buffers an SQE points to when it runs the request,
// which may be after io_uring_enter returns (a receive with nothing queued waits for data), so
// whoever queues an SQE pins what it points to ([uring.pin]) for the ring's lifetime: Go's
// garbage collector never moves heap objects, and a pinned one is also kept alive. Every
// request here is non-blocking (MSG_DONTWAIT: the kernel completes it with -EAGAIN rather
// than waiting), so each has completed by the time submit returns with the completions it
// waited for.

const (
	sysIOUringSetup = 425
	sysIOUringEnter = 426

	uringOffSQRing = 0
	uringOffCQRing = 0x8000000
	uringOffSQEs   = 0x10000000

	uringFeatSingleMmap = 1 << 0

	uringSetupSubmitAll    = 1 << 7
	uringSetupCoopTaskrun  = 1 << 8
	uringSetupSingleIssuer = 1 << 12
	uringSetupDeferTaskrun = 1 << 13

	uringEnterGetEvents = 1 << 0

	uringOpSendmsg = 9
	uringOpRecvmsg = 10
)

type uringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type uringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  uringSQOffsets
	cqOff                                                                  uringCQOffsets
}

// uringSQE is struct io_uring_sqe (64 bytes).
type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32 // msg_flags for sendmsg/recvmsg
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

// uringCQE is struct io_uring_cqe (16 bytes, the ring is not set up with 32-byte CQEs).
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// uring is one ring, used by one goroutine that keeps its OS thread locked from newUring to
// close: with SINGLE_ISSUER the kernel refuses (EEXIST) a submission from any other thread.
type uring struct {
	fd             int
	sqRing, cqRing []byte // cqRing aliases sqRing with IORING_FEAT_SINGLE_MMAP
	sqes           []uringSQE
	sqesMem        []byte
	sqHead, sqTail *uint32
	sqMask         uint32
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []uringCQE
	pending        uint32 // SQEs queued since the last submit
	flags          uint32 // the setup flags the kernel took
	pinner         runtime.Pinner
}

// errUringFull is returned by sqe when every submission slot is queued.
var errUringFull = errors.New("io_uring: submission queue full")

// newUring sets up a ring of at least entries submission slots (twice as many completion
// slots). It tries the cheapest setup first (one issuer, completions run when it asks for
// them) and falls back to the plain one on kernels without those flags.
func newUring(entries uint32) (*uring, error) {
	var p uringParams
	fd := -1
	for _, flags := range []uint32{
		uringSetupSubmitAll | uringSetupCoopTaskrun | uringSetupSingleIssuer | uringSetupDeferTaskrun,
		uringSetupSubmitAll | uringSetupCoopTaskrun,
		0,
	} {
		p = uringParams{flags: flags}
		r, _, e := syscall.Syscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
		if e == 0 {
			fd = int(r)
			break
		}
		if e != syscall.EINVAL {
			return nil, fmt.Errorf("io_uring_setup: %w", e)
		}
	}
	if fd < 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", syscall.EINVAL)
	}
	r := &uring{fd: fd, flags: p.flags}
	if err := r.mapRings(&p); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *uring) mapRings(p *uringParams) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(uringCQE{}))
	if p.features&uringFeatSingleMmap != 0 {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sqRing, err = syscall.Mmap(r.fd, uringOffSQRing, sqSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
		return fmt.Errorf("io_uring: mapping the submission ring: %w", err)
	}
	r.cqRing = r.sqRing
	if p.features&uringFeatSingleMmap == 0 {
		if r.cqRing, err = syscall.Mmap(r.fd, uringOffCQRing, cqSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
			r.cqRing = nil
			return fmt.Errorf("io_uring: mapping the completion ring: %w", err)
		}
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(uringSQE{}))
	if r.sqesMem, err = syscall.Mmap(r.fd, uringOffSQEs, sqeSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
		return fmt.Errorf("io_uring: mapping the submission entries: %w", err)
	}
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&r.sqesMem[0])), p.sqEntries)
	r.sqHead = (*uint32)(unsafe.Pointer(&r.sqRing[p.sqOff.head]))
	r.sqTail = (*uint32)(unsafe.Pointer(&r.sqRing[p.sqOff.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&r.sqRing[p.sqOff.ringMask]))
	// The index array maps ring slot i to SQE i, once: the SQEs are filled in ring order.
	array := unsafe.Slice((*uint32)(unsafe.Pointer(&r.sqRing[p.sqOff.array])), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.cqHead = (*uint32)(unsafe.Pointer(&r.cqRing[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&r.cqRing[p.cqOff.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&r.cqRing[p.cqOff.ringMask]))
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&r.cqRing[p.cqOff.cqes])), p.cqEntries)
	return nil
}

// pin keeps the object ptr points to where it is and alive while the ring lives, so that an
// SQE may carry its address (and a message header may carry the addresses of others pinned).
func (r *uring) pin(ptr any) { r.pinner.Pin(ptr) }

// sqe returns the next free submission entry, zeroed, for the caller to fill before submit.
func (r *uring) sqe() (*uringSQE, error) {
	head := atomic.LoadUint32(r.sqHead)
	tail := *r.sqTail + r.pending
	if tail-head >= uint32(len(r.sqes)) {
		return nil, errUringFull
	}
	e := &r.sqes[tail&r.sqMask]
	*e = uringSQE{}
	r.pending++
	return e, nil
}

// prepMsg queues a sendmsg or recvmsg of h on fd; h and everything it points to must be pinned.
func (r *uring) prepMsg(op uint8, fd int, h *syscall.Msghdr, msgFlags uint32, userData uint64) error {
	e, err := r.sqe()
	if err != nil {
		return err
	}
	e.opcode = op
	e.fd = int32(fd)
	e.addr = uint64(uintptr(unsafe.Pointer(h)))
	e.len = 1
	e.opFlags = msgFlags
	e.userData = userData
	return nil
}

// submit hands the queued SQEs to the kernel and waits until wait completions are ready, in
// one io_uring_enter. It returns how many SQEs the kernel took.
func (r *uring) submit(wait uint32) (int, error) {
	n := r.pending
	atomic.StoreUint32(r.sqTail, *r.sqTail+n) // release: the SQEs are written before the tail
	r.pending = 0
	flags := uintptr(0)
	if wait > 0 || r.flags&uringSetupDeferTaskrun != 0 {
		flags = uringEnterGetEvents
	}
	for {
		got, _, e := syscall.RawSyscall6(sysIOUringEnter, uintptr(r.fd), uintptr(n), uintptr(wait), flags, 0, 0)
		if e == syscall.EINTR {
			n -= uint32(got)
			continue
		}
		if e != 0 {
			return int(got), fmt.Errorf("io_uring_enter: %w", e)
		}
		return int(got), nil
	}
}

// reap calls f with every completion ready and frees their slots; it returns how many.
func (r *uring) reap(f func(userData uint64, res int32)) int {
	head := *r.cqHead
	tail := atomic.LoadUint32(r.cqTail) // acquire: the CQEs are written before the tail
	n := 0
	for ; head != tail; head++ {
		c := &r.cqes[head&r.cqMask]
		f(c.userData, c.res)
		n++
	}
	atomic.StoreUint32(r.cqHead, head)
	return n
}

// close unmaps the rings, closes the ring's descriptor and unpins what was pinned for it.
func (r *uring) close() {
	if r.sqesMem != nil {
		syscall.Munmap(r.sqesMem)
		r.sqesMem, r.sqes = nil, nil
	}
	if r.cqRing != nil && len(r.cqRing) > 0 && &r.cqRing[0] != &r.sqRing[0] {
		syscall.Munmap(r.cqRing)
	}
	if r.sqRing != nil {
		syscall.Munmap(r.sqRing)
	}
	r.sqRing, r.cqRing = nil, nil
	if r.fd >= 0 {
		syscall.Close(r.fd)
		r.fd = -1
	}
	r.pinner.Unpin()
}

// TestUringSendAndReceiveAcrossSockets: the floor benchmark's ring sends three datagrams from
// three sockets in one submit, receives them on their three sockets in the next, each intact
// and from its sender; a receive on an empty socket completes at once with EAGAIN
// (MSG_DONTWAIT); a full submission queue says so instead of overwriting a queued entry.
func TestUringSendAndReceiveAcrossSockets(t *testing.T) {
	runtime.LockOSThread() // the ring's one issuer is this thread
	defer runtime.UnlockOSThread()
	r, err := newUring(4)
	if errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM) {
		t.Skip("io_uring not available to this process:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	type end struct {
		fd, port int
		sa       syscall.RawSockaddrInet4
		name     syscall.RawSockaddrInet6
		h        syscall.Msghdr
		io       syscall.Iovec
		buf      [64]byte
	}
	const n = 3
	tx, rx := new([n]end), new([n]end)
	r.pin(tx)
	r.pin(rx)
	for i := range n {
		tx[i].fd, tx[i].port = floorSocket(t, false)
		rx[i].fd, rx[i].port = floorSocket(t, false)
		tx[i].sa = syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&tx[i].sa.Port))[:], uint16(rx[i].port))
	}
	reap := func(want int) map[uint64]int32 {
		t.Helper()
		got := map[uint64]int32{}
		r.reap(func(ud uint64, res int32) { got[ud] = res })
		if len(got) != want {
			t.Fatalf("%d completions, want %d: %v", len(got), want, got)
		}
		return got
	}
	recvAll := func() {
		t.Helper()
		for i := range n {
			e := &rx[i]
			e.io.Base = &e.buf[0]
			e.io.SetLen(len(e.buf))
			e.h = syscall.Msghdr{Name: (*byte)(unsafe.Pointer(&e.name)), Namelen: uint32(unsafe.Sizeof(e.name)), Iov: &e.io, Iovlen: 1}
			if err := r.prepMsg(uringOpRecvmsg, e.fd, &e.h, syscall.MSG_DONTWAIT, uint64(10+i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.submit(n); err != nil {
			t.Fatal(err)
		}
	}

	recvAll()
	for ud, res := range reap(n) {
		if res != -int32(syscall.EAGAIN) {
			t.Errorf("receive %d on an empty socket: %d, want -EAGAIN", ud, res)
		}
	}

	for i := range n {
		e := &tx[i]
		copy(e.buf[:], bytes.Repeat([]byte{byte('a' + i)}, 20+i))
		e.io.Base = &e.buf[0]
		e.io.SetLen(20 + i)
		e.h = syscall.Msghdr{Name: (*byte)(unsafe.Pointer(&e.sa)), Namelen: uint32(unsafe.Sizeof(e.sa)), Iov: &e.io, Iovlen: 1}
		if err := r.prepMsg(uringOpSendmsg, e.fd, &e.h, syscall.MSG_DONTWAIT, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC() // the pinned headers and buffers stay where the SQEs say
	if got, err := r.submit(n); err != nil || got != n {
		t.Fatalf("submit: %d, %v", got, err)
	}
	for ud, res := range reap(n) {
		if res != int32(20+ud) {
			t.Errorf("send %d: %d, want %d", ud, res, 20+ud)
		}
	}

	recvAll()
	for ud, res := range reap(n) {
		i := int(ud - 10)
		if res != int32(20+i) {
			t.Fatalf("receive %d: %d, want %d", i, res, 20+i)
		}
		if want := bytes.Repeat([]byte{byte('a' + i)}, 20+i); !bytes.Equal(rx[i].buf[:res], want) {
			t.Errorf("socket %d received %q, want %q", i, rx[i].buf[:res], want)
		}
		from := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&rx[i].name))
		if port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&from.Port))[:]); int(port) != tx[i].port {
			t.Errorf("socket %d received from port %d, want %d", i, port, tx[i].port)
		}
	}

	for i := range len(r.sqes) {
		if _, err := r.sqe(); err != nil {
			t.Fatalf("entry %d of %d: %v", i, len(r.sqes), err)
		}
	}
	if _, err := r.sqe(); !errors.Is(err, errUringFull) {
		t.Errorf("an entry past the queue's %d: %v, want errUringFull", len(r.sqes), err)
	}
	r.pending = 0 // nothing was filled in: never submitted
}
