package media

import (
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
// engine did, or one recvmmsg, as it does now). cpu-ns/packet is what one core pays per
// packet sent and received; 1e9 over it is the most packets per second one core can carry
// with one system call per packet and direction, whatever the engine around them does. On
// loopback the sender's sendto also runs the receiver's UDP input (the softirq runs inline),
// so it is the dearer call.
//
//	go test -run '^$' -bench SyscallFloor -benchtime 100000x ./media
func BenchmarkSyscallFloor(b *testing.B) {
	for _, mode := range []string{"sendto", "sendto+recvmsg-until-EAGAIN", "sendto+recvmmsg"} {
		for _, n := range []int{1, 1000} {
			b.Run(mode+"/sockets="+strconv.Itoa(n), func(b *testing.B) { syscallFloor(b, mode, n) })
		}
	}
}

func syscallFloor(b *testing.B, mode string, n int) {
	type pair struct {
		tx, rx int
		dst    syscall.SockaddrInet4
	}
	pairs := make([]pair, n)
	for i := range pairs {
		tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Skip("sockets:", err)
		}
		rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Skip("sockets:", err)
		}
		b.Cleanup(func() { tx.Close(); rx.Close() })
		pairs[i] = pair{tx: rawFD(b, tx), rx: rawFD(b, rx),
			dst: syscall.SockaddrInet4{Port: rx.LocalAddr().(*net.UDPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}}
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
		if err := syscall.Sendto(p.tx, pkt, 0, &p.dst); err != nil {
			b.Fatal(err)
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
				if _, _, e := syscall.Syscall(syscall.SYS_RECVMSG, uintptr(p.rx), uintptr(unsafe.Pointer(h)), syscall.MSG_DONTWAIT); e != 0 {
					break
				}
			}
		case "sendto+recvmmsg":
			for k := range msgs {
				iovs[k].Base = &bufs[k][0]
				iovs[k].SetLen(slotSize)
				msgs[k].hdr.Iov, msgs[k].hdr.Iovlen = &iovs[k], 1
			}
			syscall.Syscall6(syscall.SYS_RECVMMSG, uintptr(p.rx), uintptr(unsafe.Pointer(&msgs[0])), rxBatch, syscall.MSG_DONTWAIT, 0, 0)
		}
	}
	b.StopTimer()
	cpu := float64(threadCPU()-cpu0) / float64(b.N)
	b.ReportMetric(cpu, "cpu-ns/packet")
	b.ReportMetric(1e9/cpu, "packets/s/core")
}

func rawFD(b *testing.B, c *net.UDPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var fd int
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}
