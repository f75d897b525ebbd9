package dialplan

import "strconv"

// IP dialling (SPA-BEHAVIOUR §8.5, §8.7): with Enable_IP_Dialing_n_ the user may dial
// [user-id@]a.b.c.d[:port], entering '*' for each of '@', '.' and ':'. The user id is numeric,
// a..d are 0-255, the port is above 255 (so that "a*b*c*d*n" is a port when n > 255 and a user
// id before the address otherwise) and defaults to 5060.
//
// The slots of the four forms: U user id, O octet, P port.
const (
	ipForm4     = "OOOO"
	ipFormUser  = "UOOOO"
	ipFormPort  = "OOOOP"
	ipFormFull  = "UOOOOP"
	ipMaxUser   = 32 // digits of a user id; the Phone data type holds 39 characters (§8.8)
	ipPortMin   = 256
	ipPortMax   = 65535
	defaultPort = 5060
)

// ipStatus reports whether keys can still become an IP dialling string (live), whether they
// are one (complete), and whether one more key keeps them live (ext).
func ipStatus(keys []byte) (live, complete, ext bool) {
	live, complete = ipMatch(keys, 0)
	if !live {
		return false, false, false
	}
	const next = "0123456789*"
	for i := 0; i < len(next); i++ {
		if l, _ := ipMatch(keys, next[i]); l {
			return live, complete, true
		}
	}
	return live, complete, false
}

// ipMatch is ipStatus's test for keys followed by extra (0: nothing).
func ipMatch(keys []byte, extra byte) (live, complete bool) {
	for _, form := range [...]string{ipForm4, ipFormUser, ipFormPort, ipFormFull} {
		l, c := ipFormMatch(form, keys, extra)
		live = live || l
		complete = complete || c
	}
	return live, complete
}

// ipFormMatch checks keys+extra against one form: every group but the last must fill its slot,
// the last must be the start of a value of its slot (complete: fill it, and be the last slot).
func ipFormMatch(form string, keys []byte, extra byte) (live, complete bool) {
	n := len(keys)
	if extra != 0 {
		n++
	}
	slot, val, digits := 0, 0, 0
	lead := byte(0)
	for i := 0; i < n; i++ {
		b := extra
		if i < len(keys) {
			b = keys[i]
		}
		switch {
		case b == '*':
			if !ipSlotFull(form[slot], val, digits, lead) || slot+1 >= len(form) {
				return false, false
			}
			slot, val, digits, lead = slot+1, 0, 0, 0
		case b >= '0' && b <= '9':
			if digits == 0 {
				lead = b
			}
			digits++
			if digits <= 6 {
				val = val*10 + int(b-'0')
			}
			if !ipSlotStart(form[slot], val, digits, lead) {
				return false, false
			}
		default:
			return false, false
		}
	}
	return true, slot == len(form)-1 && ipSlotFull(form[slot], val, digits, lead)
}

// ipSlotStart reports whether a group of digits (value val, first digit lead) can begin a value
// of the slot.
func ipSlotStart(slot byte, val, digits int, lead byte) bool {
	switch slot {
	case 'U':
		return digits <= ipMaxUser
	case 'O':
		return digits <= 3 && val <= 255
	default: // 'P': some completion of the digits lies in ipPortMin..ipPortMax
		if lead == '0' || digits > 5 {
			return false
		}
		lo, hi := val, val
		for d := digits; d <= 5; d++ {
			if hi >= ipPortMin && lo <= ipPortMax {
				return true
			}
			lo, hi = lo*10, hi*10+9
		}
		return false
	}
}

// ipSlotFull reports whether a group fills its slot.
func ipSlotFull(slot byte, val, digits int, lead byte) bool {
	if digits == 0 {
		return false
	}
	switch slot {
	case 'U':
		return digits <= ipMaxUser
	case 'O':
		return digits <= 3 && val <= 255
	default:
		return lead != '0' && digits <= 5 && val >= ipPortMin && val <= ipPortMax
	}
}

// ipSplit takes a complete IP dialling string apart: the user id (nil when absent), the dotted
// address with leading zeros dropped, and the port.
func ipSplit(keys []byte) (user []byte, host string, port int) {
	var groups [6][]byte
	k, start := 0, 0
	for i := 0; i <= len(keys); i++ {
		if i == len(keys) || keys[i] == '*' {
			if k < len(groups) {
				groups[k] = keys[start:i]
			}
			k++
			start = i + 1
		}
	}
	octets := groups[:4]
	port = defaultPort
	switch k {
	case 5:
		if last, _ := strconv.Atoi(string(groups[4])); last >= ipPortMin {
			port = last
		} else {
			user, octets = groups[0], groups[1:5]
		}
	case 6:
		user, octets = groups[0], groups[1:5]
		port, _ = strconv.Atoi(string(groups[5]))
	}
	buf := make([]byte, 0, 15)
	for i, o := range octets {
		if i > 0 {
			buf = append(buf, '.')
		}
		v, _ := strconv.Atoi(string(o))
		buf = strconv.AppendInt(buf, int64(v), 10)
	}
	return user, string(buf), port
}
