//go:build !unix

package sip

import "syscall"

// reuseAddr does nothing where SO_REUSEADDR means something else: the range's ports are then
// tried as they are.
func reuseAddr(_, _ string, _ syscall.RawConn) error { return nil }
