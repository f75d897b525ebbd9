package main

import (
	"errors"
	"net"
	"net/netip"
)

// ipAuto is the --ip value that takes the host's (the container's) own address.
const ipAuto = "auto"

// errNoAddress says that --ip auto found no address to take.
var errNoAddress = errors.New("no up interface has a non-loopback address")

// resolveIP turns an --ip value into the phone's address. "auto" takes the first address of
// the first up, non-loopback interface, IPv4 before IPv6 and never a link-local one: in a
// container that is the container's own address, which a PBX and a provisioning server can
// reach, so that SIP Contact, SDP and $IP carry it. Anything else must be an IP address.
func resolveIP(v string) (netip.Addr, error) {
	if v != ipAuto {
		return netip.ParseAddr(v)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, err
	}
	var v6 netip.Addr
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			ip := pfx.Addr().Unmap()
			if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
				continue
			}
			if ip.Is4() {
				return ip, nil
			}
			if !v6.IsValid() {
				v6 = ip
			}
		}
	}
	if v6.IsValid() {
		return v6, nil
	}
	return netip.Addr{}, errNoAddress
}
