//go:build !unix

package main

import "errors"

// raiseOpenFiles is not available here: the limit of open files is not known.
func raiseOpenFiles() (soft, hard, was uint64, err error) {
	return 0, 0, 0, errors.New("no open file limit on this system")
}
