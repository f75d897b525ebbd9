package media

import (
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"unsafe"
)

// BenchmarkSyscallFloor is the floor under BenchmarkConcurrentCalls: the bare system calls of
// one packet of one call, in a loop with nothing else — sendto from one socket of a pair to the
// other on loopback, then the receive the pacer does at a tick (recvmsg until EAGAIN, as the
// engine once did, or one recvmmsg, as it does now). cpu-ns/packet is what one core pays per
// packet sent and received; 1e9 over it is the most packets per second one core can carry
// with one system call per packet and direction, whatever the engine around them does. On
// loopback the sender's sendto also runs the receiver's UDP input (the softirq runs inline),
// so it is the dearer call. The sockets are the engine's kind: raw descriptors outside the Go
// netpoller ("netpoller" variants: net.UDPConn sockets, registered with epoll, for the
// comparison), called with RawSyscall. "syscall-entry" is the price of entering the kernel at
// all (getppid), which every packet pays twice. "io_uring" batches instead: the sends of a
// batch of sessions (as many as a pacer's slot holds at 1,000 calls: 25-50) and the receives
// of the previous batch in one io_uring_enter, each operation on its own socket (uringFloor).
//
// Measured on the 2-core VM, loaded (load 12-21, two runs of -count 3-4), 1,000 sockets:
// sendto+recvmmsg 3.1-4.0 µs of CPU a packet sent and received, io_uring batched 2.7-3.9
// (batch 25 and 50 alike, batch 1 2.6-4.6): at best 10-15% less, within the noise of the
// load. Entering the kernel costs 0.1 µs, twice a packet; the rest is the UDP and loopback
// path, which io_uring runs all the same, plus its own work per operation.
//
//	go test -run '^$' -bench SyscallFloor -benchtime 100000x ./media
func BenchmarkSyscallFloor(b *testing.B) {
	b.Run("syscall-entry", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu0 := threadCPU()
		for i := 0; i < b.N; i++ {
			syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
		}
		b.ReportMetric(float64(threadCPU()-cpu0)/float64(b.N), "cpu-ns/call")
	})
	for _, mode := range []string{"sendto", "sendto+recvmsg-until-EAGAIN", "sendto+recvmmsg"} {
		for _, n := range []int{1, 1000} {
			for _, np := range []bool{false, true} {
				name := mode + "/sockets=" + strconv.Itoa(n)
				if np {
					name += "/netpoller"
				}
				b.Run(name, func(b *testing.B) { syscallFloor(b, mode, n, np) })
			}
		}
	}
	for _, n := range []int{1000} {
		for _, batch := range []int{1, 25, 50} {
			b.Run("io_uring/sockets="+strconv.Itoa(n)+"/batch="+strconv.Itoa(batch), func(b *testing.B) { uringFloor(b, n, batch) })
		}
	}
}

func syscallFloor(b *testing.B, mode string, n int, netpoller bool) {
	type pair struct {
		tx, rx int
		dst    syscall.RawSockaddrInet4
	}
	pairs := make([]pair, n)
	for i := range pairs {
		tx, _ := floorSocket(b, netpoller)
		rx, port := floorSocket(b, netpoller)
		pairs[i] = pair{tx: tx, rx: rx, dst: syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: [4]byte{127, 0, 0, 1}}}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&pairs[i].dst.Port))[:], uint16(port))
	}
	pkt := make([]byte, rtpHeaderLen+160)
	var msgs [rxBatch]mmsghdr
	var iovs [rxBatch]syscall.Iovec
	var bufs [rxBatch][slotSize]byte
	var name syscall.RawSockaddrInet6
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &pairs[i%n]
		if _, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(p.tx), uintptr(unsafe.Pointer(&pkt[0])), uintptr(len(pkt)), 0,
			uintptr(unsafe.Pointer(&p.dst)), unsafe.Sizeof(p.dst)); e != 0 {
			b.Fatal(e)
		}
		switch mode {
		case "sendto+recvmsg-until-EAGAIN":
			for {
				iovs[0].Base = &bufs[0][0]
				iovs[0].SetLen(slotSize)
				h := &msgs[0].hdr
				h.Name = (*byte)(unsafe.Pointer(&name))
				h.Namelen = uint32(unsafe.Sizeof(name))
				h.Iov, h.Iovlen = &iovs[0], 1
				if _, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, uintptr(p.rx), uintptr(unsafe.Pointer(h)), syscall.MSG_DONTWAIT); e != 0 {
					break
				}
			}
		case "sendto+recvmmsg":
			for k := range msgs {
				iovs[k].Base = &bufs[k][0]
				iovs[k].SetLen(slotSize)
				msgs[k].hdr.Iov, msgs[k].hdr.Iovlen = &iovs[k], 1
			}
			syscall.RawSyscall6(syscall.SYS_RECVMMSG, uintptr(p.rx), uintptr(unsafe.Pointer(&msgs[0])), rxBatch, syscall.MSG_DONTWAIT, 0, 0)
		}
	}
	b.StopTimer()
	cpu := float64(threadCPU()-cpu0) / float64(b.N)
	b.ReportMetric(cpu, "cpu-ns/packet")
	b.ReportMetric(1e9/cpu, "packets/s/core")
}

// floorSocket is a non-blocking UDP socket on 127.0.0.1 and its port: a descriptor of its own
// (the engine's kind), or a net.UDPConn's, registered with the netpoller.
func floorSocket(b testing.TB, netpoller bool) (fd, port int) {
	if netpoller {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Skip("sockets:", err)
		}
		b.Cleanup(func() { c.Close() })
		rc, err := c.SyscallConn()
		if err != nil {
			b.Fatal(err)
		}
		rc.Control(func(f uintptr) { fd = int(f) })
		return fd, c.LocalAddr().(*net.UDPAddr).Port
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Skip("sockets:", err)
	}
	b.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		b.Fatal(err)
	}
	return fd, sa.(*syscall.SockaddrInet4).Port
}

// uringFloor is the floor with io_uring: the packets of batch sessions (consecutive pairs of
// the n, as a pacer's slot holds) go out in one io_uring_enter of sendmsg SQEs, each on its
// own socket, together with the recvmsg SQEs (MSG_DONTWAIT) that take the previous batch's
// packets off their receiving sockets: one kernel entry for 2×batch operations, where the
// engine pays one sendto and one recvmmsg each.
func uringFloor(b *testing.B, n, batch int) {
	type pair struct {
		tx, rx     int
		dst        syscall.RawSockaddrInet4
		name       syscall.RawSockaddrInet6
		txh, rxh   syscall.Msghdr
		txio, rxio syscall.Iovec
		buf        [slotSize]byte
	}
	runtime.LockOSThread() // the ring's one issuer is this thread
	defer runtime.UnlockOSThread()
	r, err := newUring(uint32(4 * batch))
	if err != nil {
		b.Skip(err)
	}
	defer r.close()
	pkt := make([]byte, rtpHeaderLen+160)
	r.pin(&pkt[0])
	pairs := make([]pair, n)
	r.pin(&pairs[0])
	for i := range pairs {
		p := &pairs[i]
		tx, _ := floorSocket(b, false)
		rx, port := floorSocket(b, false)
		p.tx, p.rx = tx, rx
		p.dst = syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&p.dst.Port))[:], uint16(port))
		p.txio.Base = &pkt[0]
		p.txio.SetLen(len(pkt))
		p.txh.Name = (*byte)(unsafe.Pointer(&p.dst))
		p.txh.Namelen = uint32(unsafe.Sizeof(p.dst))
		p.txh.Iov, p.txh.Iovlen = &p.txio, 1
		p.rxio.Base = &p.buf[0]
		p.rxio.SetLen(slotSize)
		p.rxh.Iov, p.rxh.Iovlen = &p.rxio, 1
	}
	var failed error
	check := func(ud uint64, res int32) {
		if res != int32(len(pkt)) && failed == nil {
			failed = fmt.Errorf("op %#x: %d (%v)", ud, res, syscall.Errno(-res))
		}
	}
	cpu0 := threadCPU()
	b.ResetTimer()
	prev := -1 // the first pair of the batch sent last round
	for i := 0; i < b.N; i += batch {
		first := i % n
		ops := 0
		for k := 0; k < batch && i+k < b.N; k++ {
			p := &pairs[(first+k)%n]
			if err := r.prepMsg(uringOpSendmsg, p.tx, &p.txh, syscall.MSG_DONTWAIT, uint64(k)); err != nil {
				b.Fatal(err)
			}
			ops++
		}
		if prev >= 0 {
			for k := 0; k < batch; k++ {
				p := &pairs[(prev+k)%n]
				p.rxh.Name = (*byte)(unsafe.Pointer(&p.name))
				p.rxh.Namelen = uint32(unsafe.Sizeof(p.name))
				if err := r.prepMsg(uringOpRecvmsg, p.rx, &p.rxh, syscall.MSG_DONTWAIT, 1<<32|uint64(k)); err != nil {
					b.Fatal(err)
				}
				ops++
			}
		}
		if _, err := r.submit(uint32(ops)); err != nil {
			b.Fatal(err)
		}
		if got := r.reap(check); got != ops {
			b.Fatalf("%d completions for %d operations", got, ops)
		}
		if failed != nil {
			b.Fatal(failed)
		}
		prev = first
	}
	b.StopTimer()
	cpu := float64(threadCPU()-cpu0) / float64(b.N)
	b.ReportMetric(cpu, "cpu-ns/packet")
	b.ReportMetric(1e9/cpu, "packets/s/core")
}
