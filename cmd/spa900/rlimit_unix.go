//go:build unix

package main

import "syscall"

// raiseOpenFiles raises the soft limit of open files to the hard limit (the Go runtime does so
// at start on most systems; this makes sure) and returns the limits and the soft one before.
func raiseOpenFiles() (soft, hard, was uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, 0, err
	}
	was = uint64(lim.Cur)
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	return uint64(lim.Cur), uint64(lim.Max), was, nil
}
