//go:build !linux

package sip

import "errors"

// IdleWatch waits for the first datagram of many idle extensions on one goroutine where the
// system has epoll (Linux); elsewhere [NewIdleWatch] fails and each agent waits on a
// goroutine of its own.
type IdleWatch struct{}

// NewIdleWatch fails: no epoll here.
func NewIdleWatch() (*IdleWatch, error) {
	return nil, errors.New("sip: idle watch: needs epoll (Linux)")
}

// Close does nothing.
func (w *IdleWatch) Close() error { return nil }

func (w *IdleWatch) add(*Agent) (uint64, error) { return 0, errors.New("sip: idle watch: needs epoll") }
func (w *IdleWatch) remove(uint64)              {}
