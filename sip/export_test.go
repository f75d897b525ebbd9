package sip

import "net/netip"

// StreamConns returns the local and remote addresses of the agent's live TCP or TLS
// connections (tests only).
func (a *Agent) StreamConns() (local, remote []netip.AddrPort) {
	if a.streams == nil {
		return nil, nil
	}
	a.streams.mu.Lock()
	defer a.streams.mu.Unlock()
	for r, c := range a.streams.live {
		l, _ := netip.ParseAddrPort(c.LocalAddr().String())
		local, remote = append(local, l), append(remote, r)
	}
	return local, remote
}

// StackBuilt reports whether the agent has built its sipgo stack (tests only).
func (a *Agent) StackBuilt() bool {
	a.stkMu.Lock()
	defer a.stkMu.Unlock()
	return a.stk != nil
}
