//go:build !unix

package sip

import "net"

// waitReadable returns at once where a socket cannot be peeked at: the agent's stack is
// then built when it starts serving.
func waitReadable(net.PacketConn) error { return nil }
