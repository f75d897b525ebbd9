package sip

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// The shapes of the identifiers the device puts in its messages (SPA-BEHAVIOUR §13.10,
// [obs] in vendor traces):
//
//   - Via branch: "z9hG4bK-" and 8 lower-case hex digits;
//   - Call-ID: "<8 hex>-<8 hex>@<local IP>";
//   - tags: 16 hex digits, then "o" (a dialog the phone originated) or "i" (one it answered)
//     and the extension's 0-based index: "e676b37bae382029o1";
//   - CSeq: a random-looking start for each new dialog or request outside one.

// newBranch returns a Via branch in the device's shape (RFC 3261 §8.1.1.7 magic cookie).
func newBranch() string {
	return fmt.Sprintf("z9hG4bK-%08x", rand.Uint32())
}

// newCallID returns a Call-ID in the device's shape.
func newCallID(ip string) string {
	return fmt.Sprintf("%08x-%08x@%s", rand.Uint32(), rand.Uint32(), ip)
}

// stableCallID is the REGISTER Call-ID derived from seed (the MAC) and the extension, the
// same at every boot (Random_REG_CID_On_Reboot = No).
func stableCallID(seed string, ext int, ip string) string {
	sum := sha256.Sum256([]byte(seed + "/reg/" + strconv.Itoa(ext)))
	return fmt.Sprintf("%08x-%08x@%s", binary.BigEndian.Uint32(sum[0:4]), binary.BigEndian.Uint32(sum[4:8]), ip)
}

// newTag returns a From or To tag: dir is 'o' for a dialog the phone originates, 'i' for one
// it answers; ext is 1-based.
func newTag(dir byte, ext int) string {
	return fmt.Sprintf("%016x%c%d", rand.Uint64(), dir, max(ext-1, 0))
}

// clockCSeq is the first REGISTER CSeq of a boot whose Call-ID is the same at every boot:
// the seconds since 2020, which grow faster than a phone's registrations ever do, so a
// registrar that still holds the previous boot's binding never sees the sequence go back.
func clockCSeq(now time.Time) uint32 {
	return uint32(max(now.Unix()-1577836800, 1) & 0x3fffffff)
}

// newCSeq returns the first sequence number of a new dialog or out-of-dialog request.
func newCSeq() uint32 { return 1 + rand.Uint32N(65000) }
