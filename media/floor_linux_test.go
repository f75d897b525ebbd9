package media

import (
	"encoding/binary"
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
// all (getppid), which every packet pays twice.
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
func floorSocket(b *testing.B, netpoller bool) (fd, port int) {
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
