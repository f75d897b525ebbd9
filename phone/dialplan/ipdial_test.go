package dialplan

import "testing"

func TestIPDial(t *testing.T) {
	tests := []struct {
		keys                string
		live, complete, ext bool
	}{
		{"", true, false, true},
		{"1234567", true, false, true}, // a user id, or the first octet's start
		{"192*168*1", true, false, true},
		{"192*168*1*1", true, true, true},       // may go on: 1x, 1xx, a port, or this was user*a*b*c
		{"192*168*1*255", true, true, true},     // a port or (user 192) a fourth octet may follow
		{"192*168*1*10*5060", true, true, true}, // port 5060, and 50600-50609 are ports too
		{"1234*10*0*0*1*5061", true, true, true},
		{"1234*10*0*0*1*65535", true, true, false},
		{"1234*10*0*0*1*6553", true, true, true},
		{"1234*10*0*0*1*65536", false, false, false},
		{"1*2*3*4*255", true, true, true},    // 1*2*3*4 with port 255x, or user 1 and octet 255
		{"1*2*3*4*0", true, true, true},      // user 1 and octet 0 (00, 0x and a port may follow)
		{"1*2*3*4*0*0", false, false, false}, // a port never starts with 0
		{"256*1", true, false, true},         // user 256
		{"1*256", false, false, false},       // 256 is no octet, and 1 can only be a user before octets
		{"*", false, false, false},
		{"1**", false, false, false},
		{"1*2*3*4*5*6*7", false, false, false},
		{"12#", false, false, false},
		{"1000*1*1*1*1*1", true, false, true}, // port 1… is only the start of one
	}
	for _, tt := range tests {
		var d ipDial
		d.reset()
		for i := 0; i < len(tt.keys); i++ {
			d.key(tt.keys[i])
		}
		if d.live != tt.live || d.complete != tt.complete || d.ext != tt.ext {
			t.Errorf("%q: live %v complete %v ext %v, want %v %v %v", tt.keys, d.live, d.complete, d.ext, tt.live, tt.complete, tt.ext)
		}
	}
}

func TestIPSplit(t *testing.T) {
	tests := []struct {
		keys, user, host string
		port             int
	}{
		{"192*168*1*10", "", "192.168.1.10", 5060},
		{"010*0*00*001", "", "10.0.0.1", 5060},
		{"100*10*0*0*300", "", "100.10.0.0", 300},
		{"100*10*0*0*25", "100", "10.0.0.25", 5060},
		{"1234*10*0*0*1*5061", "1234", "10.0.0.1", 5061},
	}
	for _, tt := range tests {
		user, host, port := ipSplit([]byte(tt.keys))
		if string(user) != tt.user || host != tt.host || port != tt.port {
			t.Errorf("ipSplit(%q) = %q, %q, %d, want %q, %q, %d", tt.keys, user, host, port, tt.user, tt.host, tt.port)
		}
	}
}
