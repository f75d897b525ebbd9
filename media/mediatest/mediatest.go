// Package mediatest holds checks that tests of recorded audio share (media's own and the
// phone's peer tests).
package mediatest

// FindInOrder looks for each audible packet of packets (decoded samples, in sending order) in
// recording, sample for sample and in order. Silent packets match anywhere and are not
// counted; a gap in the recording (silence a stalled playout inserted between two packets)
// does not shift what follows out of the comparison. It returns how many audible packets
// there were and how many of them the recording holds.
func FindInOrder(recording []int16, packets [][]int16) (found, audible int) {
	pos := 0
	for _, want := range packets {
		if !Loud(want) {
			continue
		}
		audible++
		if at := indexOf(recording[pos:], want); at >= 0 {
			found++
			pos += at + len(want)
		}
	}
	return found, audible
}

// Loud reports whether x holds a sample above the noise floor of G.711 silence (±256).
func Loud(x []int16) bool {
	for _, v := range x {
		if v > 256 || v < -256 {
			return true
		}
	}
	return false
}

// indexOf finds want in x: the index of its first sample, or -1.
func indexOf(x, want []int16) int {
	if len(want) == 0 {
		return 0
	}
	for i := 0; i+len(want) <= len(x); i++ {
		if x[i] != want[0] {
			continue
		}
		j := 1
		for j < len(want) && x[i+j] == want[j] {
			j++
		}
		if j == len(want) {
			return i
		}
	}
	return -1
}
