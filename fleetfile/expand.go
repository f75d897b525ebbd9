package fleetfile

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spa900/spa900/provisioning/config"
)

// Options are what the fleet's command line adds to a file's rows.
type Options struct {
	// Ordinal is the replica (--ordinal): its phones' index and MACs are shifted past those
	// of the replicas before it.
	Ordinal int
	// Model is the model of rows without one (--model).
	Model string
	// MAC is the first MAC of the phones whose row gives none (--mac); nil: generated.
	MAC net.HardwareAddr
	// IP is the first address of the phones whose row gives none (--ip), counted up by row;
	// with SharedIP every such phone takes it.
	IP       netip.Addr
	SharedIP bool
	// Auto is the host's own address, for ip: auto; invalid when it has none.
	Auto netip.Addr
	// HTTPPort is the port of the web servers of phones whose row gives no http; phones on
	// a shared address count up from it.
	HTTPPort int
}

// Phone is one expanded phone.
type Phone struct {
	// Index is its number among all replicas' phones; Row its number in this fleet.
	Index, Row int
	// Where is the row it comes from, "fleet.yaml:12".
	Where string
	// Model is its model.
	Model string
	// MAC is its MAC ("" to generate one), IP its address, HTTP its web server's HOST:PORT.
	MAC, IP, HTTP string
	// Name is a name for its log lines; "" for none.
	Name string
	// Seed seeds its random delays; 0 for none (boot time and MAC).
	Seed uint64
	// Set are its factory defaults as NAME=VALUE, the templates expanded, in file order.
	Set []string
}

// Expand returns the phones of the spec for one replica, checked: parameter names and values
// against each phone's model, no MAC and no web server address given twice.
func (s *Spec) Expand(o Options) ([]Phone, error) {
	if o.Ordinal < 0 {
		return nil, fmt.Errorf("%w: ordinal %d is negative", ErrFleetFile, o.Ordinal)
	}
	count := s.Phones()
	phones := make([]Phone, 0, count)
	// Replica 0's MACs first: their span is the stride between replicas.
	macs := make([]uint64, count)
	hasMAC := make([]bool, count)
	var lo, hi uint64
	first := true
	row := 0
	for _, r := range s.Rows {
		for k := 0; k < r.Count; k++ {
			var m uint64
			switch {
			case r.MAC != nil:
				m = macNumber(r.MAC) + uint64(k)
			case o.MAC != nil:
				m = macNumber(o.MAC) + uint64(row)
			default:
				row++
				continue
			}
			if m >= 1<<48 {
				return nil, errAt(r.Where, "mac", "the row's MACs run past ff:ff:ff:ff:ff:ff")
			}
			macs[row], hasMAC[row] = m, true
			if first || m < lo {
				lo = m
			}
			if first || m > hi {
				hi = m
			}
			first = false
			row++
		}
	}
	stride := hi - lo + 1
	if !first && uint64(o.Ordinal) > ((1<<48)-1-hi)/stride {
		return nil, fmt.Errorf("%w: %s: ordinal %d puts the MACs past ff:ff:ff:ff:ff:ff", ErrFleetFile, s.File, o.Ordinal)
	}

	byMAC := map[string]string{}
	byHTTP := map[string]string{}
	baseIP := o.IP // the fleet's range: phone row has --ip + row
	row = 0
	for _, r := range s.Rows {
		model := r.Model
		if model == "" {
			model = o.Model
		}
		m, err := config.LookupModel(model)
		if err != nil {
			return nil, errAt(r.Where, "model", "%v", err)
		}
		if r.Model == "" {
			if err := r.checkNames(m.Name); err != nil {
				return nil, err
			}
		}
		cat := config.CatalogFor(m)
		var rowIP netip.Addr
		switch r.IP {
		case "auto":
			if !o.Auto.IsValid() {
				return nil, errAt(r.Where, "ip", "auto: this host has no non-loopback address")
			}
			rowIP = o.Auto
		case "":
		default:
			rowIP = netip.MustParseAddr(r.IP)
		}
		for k := 0; k < r.Count; k++ {
			curBase := baseIP
			if baseIP.IsValid() {
				baseIP = baseIP.Next()
			}
			p := Phone{Index: o.Ordinal*count + row, Row: row, Where: r.Where, Model: m.Name}
			if hasMAC[row] {
				p.MAC = macString(macs[row] + uint64(o.Ordinal)*stride)
			}
			shared := false
			switch {
			case r.IP == "auto":
				p.IP, shared = rowIP.String(), true
			case r.IP != "":
				if !rowIP.IsValid() {
					return nil, errAt(r.Where, "ip", "the row's addresses run out")
				}
				p.IP = rowIP.String()
				rowIP = rowIP.Next()
			case o.SharedIP:
				p.IP, shared = o.IP.String(), true
			default:
				if !curBase.IsValid() {
					return nil, errAt(r.Where, "ip", "--ip %s leaves no room for phone %d", o.IP, row+1)
				}
				p.IP = curBase.String()
			}
			vars := Vars{Index: int64(p.Index), Row: int64(row), Ordinal: int64(o.Ordinal), Count: int64(count),
				MAC: strings.ToUpper(strings.ReplaceAll(p.MAC, ":", "")), IP: p.IP}
			if p.HTTP, err = httpAddr(r, p.IP, shared, o.HTTPPort, row, vars); err != nil {
				return nil, err
			}
			if r.Name != nil {
				if p.Name, err = r.Name.Expand(vars); err != nil {
					return nil, errAt(r.at["name"], "name", "%v", err)
				}
			}
			if r.Seed != nil {
				text, err := r.Seed.Expand(vars)
				if err == nil {
					p.Seed, err = strconv.ParseUint(text, 0, 64)
				}
				if err != nil {
					return nil, errAt(r.at["seed"], "seed", "%v", err)
				}
			}
			for _, st := range r.Set {
				v, err := st.Value.Expand(vars)
				if err != nil {
					return nil, errAt(st.Where, "set."+st.Name, "phone %d: %v", p.Index, err)
				}
				prm, _ := cat.Lookup(st.Name)
				if _, err := prm.Normalize(v); err != nil {
					return nil, errAt(st.Where, "set."+st.Name, "phone %d: %v", p.Index, err)
				}
				p.Set = append(p.Set, st.Name+"="+v)
			}
			if p.MAC != "" {
				if other, dup := byMAC[p.MAC]; dup {
					return nil, errAt(r.Where, "mac", "%s is also the MAC of a phone of %s", p.MAC, other)
				}
				byMAC[p.MAC] = r.Where
			}
			if other, dup := byHTTP[p.HTTP]; dup {
				return nil, errAt(r.Where, "http", "%s is also the web server of a phone of %s", p.HTTP, other)
			}
			byHTTP[p.HTTP] = r.Where
			phones = append(phones, p)
			row++
		}
	}
	return phones, nil
}

// httpAddr is a phone's web server address: the row's http (PORT or HOST:PORT, a template),
// else the fleet's port on the phone's address, counted up by row when the address is shared.
func httpAddr(r Row, ip string, shared bool, port, row int, vars Vars) (string, error) {
	if r.HTTP == nil {
		if shared {
			port += row
		}
		if port < 1 || port > 65535 {
			return "", errAt(r.Where, "http", "--http-port leaves no port for phone %d on %s", row+1, ip)
		}
		return net.JoinHostPort(ip, strconv.Itoa(port)), nil
	}
	text, err := r.HTTP.Expand(vars)
	if err != nil {
		return "", errAt(r.at["http"], "http", "%v", err)
	}
	host, ps := ip, text
	if h, p, err := net.SplitHostPort(text); err == nil {
		host, ps = h, p
	}
	n, err := strconv.Atoi(ps)
	if err != nil || n < 1 || n > 65535 {
		return "", errAt(r.at["http"], "http", "phone %d: %q is not PORT or HOST:PORT", vars.Index, text)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

func macNumber(mac net.HardwareAddr) uint64 {
	var b [8]byte
	copy(b[2:], mac)
	return binary.BigEndian.Uint64(b[:])
}

func macString(n uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return net.HardwareAddr(b[2:]).String()
}
