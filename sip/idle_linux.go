//go:build linux

package sip

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// IdleWatch waits, on one goroutine, for the first datagram of many idle extensions: a
// fleet's lines without a proxy listen for direct IP calls and rarely hear one, and a
// goroutine parked on each socket cost its stack (4-8 KiB in a busy fleet: 12,000 lines, 60
// MB). Each idle socket is in an epoll set of its own (one shot), itself waited on in the
// runtime's poller; the first datagram, the agent's first request or its Close takes the
// socket out, and the agent then serves on a goroutine of its own (Agent.Start). Build it
// with [NewIdleWatch]; Close it once no agent uses it.
type IdleWatch struct {
	ep   *os.File // the epoll set, in the runtime's poller
	epfd int

	mu      sync.Mutex
	next    uint64
	waiting map[uint64]*Agent // by the token in the socket's event
	done    chan struct{}     // closed when the watch's goroutine has returned
}

// NewIdleWatch starts a watch.
func NewIdleWatch() (*IdleWatch, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("sip: idle watch: %w", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("sip: idle watch: %w", err)
	}
	w := &IdleWatch{ep: os.NewFile(uintptr(fd), "sip-idle-epoll"), epfd: fd, waiting: map[uint64]*Agent{}, done: make(chan struct{})}
	rc, err := w.ep.SyscallConn()
	if err != nil {
		w.ep.Close()
		return nil, fmt.Errorf("sip: idle watch: %w", err)
	}
	go w.run(rc)
	return w, nil
}

// Close stops the watch. Agents still waiting in it are not woken: close them first.
func (w *IdleWatch) Close() error {
	err := w.ep.Close()
	<-w.done
	return err
}

// run hands every socket that became readable to its agent, until the watch closes.
func (w *IdleWatch) run(rc syscall.RawConn) {
	defer close(w.done)
	var evs [64]syscall.EpollEvent
	for {
		var ready []*Agent
		err := rc.Read(func(fd uintptr) bool {
			n, err := syscall.EpollWait(int(fd), evs[:], 0)
			if err != nil || n <= 0 {
				return false // nothing ready (EINTR included): park until the set is readable
			}
			w.mu.Lock()
			for _, ev := range evs[:n] {
				tok := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
				if a := w.waiting[tok]; a != nil {
					delete(w.waiting, tok)
					w.ctl(syscall.EPOLL_CTL_DEL, a, 0)
					ready = append(ready, a)
				}
			}
			w.mu.Unlock()
			return true
		})
		for _, a := range ready {
			a.awake()
		}
		if err != nil {
			return // the watch is closed
		}
	}
}

// add puts a's socket in the set; it returns the token remove takes it out by.
func (w *IdleWatch) add(a *Agent) (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next++
	tok := w.next
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLONESHOT, Fd: int32(uint32(tok)), Pad: int32(uint32(tok >> 32))}
	if err := w.ctlEvent(syscall.EPOLL_CTL_ADD, a, &ev); err != nil {
		return 0, err
	}
	w.waiting[tok] = a
	return tok, nil
}

// remove takes the socket of tok out of the set, if it is still there. The agent calls it
// before it closes the socket.
func (w *IdleWatch) remove(tok uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a := w.waiting[tok]; a != nil {
		delete(w.waiting, tok)
		w.ctl(syscall.EPOLL_CTL_DEL, a, 0)
	}
}

func (w *IdleWatch) ctl(op int, a *Agent, events uint32) {
	w.ctlEvent(op, a, &syscall.EpollEvent{Events: events})
}

// ctlEvent changes the set for a's socket, on its descriptor while it is sure to be open.
func (w *IdleWatch) ctlEvent(op int, a *Agent, ev *syscall.EpollEvent) error {
	sc, ok := a.conn.PacketConn.(syscall.Conn)
	if !ok {
		return errors.New("sip: idle watch: not a system socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = syscall.EpollCtl(w.epfd, op, int(fd), ev) }); err != nil {
		return err
	}
	return cerr
}
