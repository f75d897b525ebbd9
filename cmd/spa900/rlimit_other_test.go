//go:build !unix

package main

import "testing"

// raiseFileLimit: no open file limit to raise here.
func raiseFileLimit(tb testing.TB, want uint64) {}
