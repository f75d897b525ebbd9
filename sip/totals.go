package sip

import (
	"bytes"
	"sync/atomic"
)

// Totals count the SIP messages of many agents by direction and kind, for metrics: a fleet
// gives all its phones' agents one Totals ([Config.Totals]), which, unlike the per-boot
// [Counters] of the Phone Status section, never go back to zero while the process runs.
//
// The kind of a message is read from its first bytes: the request method (one of a fixed
// set, [MessageKinds]), the class of a response (1xx … 6xx), "keepalive" for a NAT keep-alive
// of blank lines, and "other" for anything else (an unknown method, a stream read that starts
// inside a message). The label values are therefore bounded whatever a peer sends. The zero
// value is ready; it is safe for concurrent use.
type Totals struct {
	n [2][numKinds]atomic.Uint64 // [0 sent, 1 received][kind]
}

// MessageKinds are the kinds [Totals] counts, in the order [Totals.Each] reports them.
var MessageKinds = [...]string{
	"REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "NOTIFY", "SUBSCRIBE", "REFER",
	"INFO", "MESSAGE", "PRACK", "UPDATE", "PUBLISH",
	"1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "keepalive", "other",
}

const (
	numKinds      = len(MessageKinds)
	kindResponse  = 14 // index of "1xx"
	kindKeepAlive = numKinds - 2
	kindOther     = numKinds - 1
)

// messageKind returns the index in MessageKinds of the message that b starts.
func messageKind(b []byte) int {
	if isKeepAlive(b) {
		return kindKeepAlive
	}
	if bytes.HasPrefix(b, []byte("SIP/2.0 ")) {
		if len(b) > 8 && b[8] >= '1' && b[8] <= '6' {
			return kindResponse + int(b[8]-'1')
		}
		return kindOther
	}
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 || sp > 10 {
		return kindOther
	}
	m := b[:sp]
	for i := range kindResponse {
		if string(m) == MessageKinds[i] {
			return i
		}
	}
	return kindOther
}

func (t *Totals) count(dir int, b []byte) {
	if t != nil {
		t.n[dir][messageKind(b)].Add(1)
	}
}

// Each calls fn with every direction ("sent", "received") and kind, and the messages
// counted.
func (t *Totals) Each(fn func(direction, kind string, n uint64)) {
	for d, dir := range [2]string{"sent", "received"} {
		for k, kind := range MessageKinds {
			fn(dir, kind, t.n[d][k].Load())
		}
	}
}
