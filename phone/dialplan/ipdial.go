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

// ipForm returns form i of the four: 4 octets, user + 4, 4 + port, user + 4 + port.
func ipForm(i int) string {
	switch i {
	case 0:
		return ipForm4
	case 1:
		return ipFormUser
	case 2:
		return ipFormPort
	default:
		return ipFormFull
	}
}

// ipDial follows the keys of a phase against the four forms at once, one key at a time, and
// says whether they can still become an IP dialling string (live), whether they are one
// (complete), and whether one more key keeps them live (ext).
type ipDial struct {
	forms               [4]ipFormState
	live, complete, ext bool
}

// ipFormState is where the keys stand in one form: the slot being filled and its digits.
type ipFormState struct {
	dead              bool
	slot, val, digits int
	lead              byte // the group's first digit
}

func (d *ipDial) reset() {
	*d = ipDial{}
	d.update()
}

func (d *ipDial) key(b byte) {
	for i := range d.forms {
		d.forms[i].key(ipForm(i), b)
	}
	d.update()
}

func (f *ipFormState) key(form string, b byte) {
	if f.dead {
		return
	}
	switch {
	case b == '*':
		if !ipSlotFull(form[f.slot], f.val, f.digits, f.lead) || f.slot+1 >= len(form) {
			f.dead = true
			return
		}
		f.slot, f.val, f.digits, f.lead = f.slot+1, 0, 0, 0
	case b >= '0' && b <= '9':
		if f.digits == 0 {
			f.lead = b
		}
		f.digits++
		if f.digits <= 6 {
			f.val = f.val*10 + int(b-'0')
		}
		f.dead = !ipSlotStart(form[f.slot], f.val, f.digits, f.lead)
	default:
		f.dead = true
	}
}

func (d *ipDial) update() {
	d.live, d.complete, d.ext = false, false, false
	for i := range d.forms {
		f := &d.forms[i]
		if f.dead {
			continue
		}
		form := ipForm(i)
		slot := form[f.slot]
		full := ipSlotFull(slot, f.val, f.digits, f.lead)
		d.live = true
		d.complete = d.complete || full && f.slot == len(form)-1
		if d.ext || full && f.slot+1 < len(form) {
			d.ext = true
			continue
		}
		switch slot {
		case 'U':
			d.ext = f.digits < ipMaxUser
		case 'O':
			d.ext = f.digits < 3 && f.val*10 <= 255
		default:
			for k := byte('1'); k <= '9' && !d.ext && f.digits < 5; k++ {
				lead := f.lead
				if f.digits == 0 {
					lead = k
				}
				d.ext = ipSlotStart(slot, f.val*10+int(k-'0'), f.digits+1, lead)
			}
			// '0' extends a port group only after its first digit.
			d.ext = d.ext || f.digits > 0 && f.digits < 5 && ipSlotStart(slot, f.val*10, f.digits+1, f.lead)
		}
	}
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
