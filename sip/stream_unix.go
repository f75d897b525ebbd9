//go:build unix

package sip

import "syscall"

// reuseAddr sets SO_REUSEADDR on a socket the agent connects from, so that a port of the
// SIP_TCP_Port range still in TIME_WAIT after a closed connection, or in use by a connection
// to another destination, can be the source of a new one (Linux refuses it only when a
// listener holds the port, or the same destination is connected from it already).
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}
