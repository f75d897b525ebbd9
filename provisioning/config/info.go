package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Info is the live status the Info tab and the export's Info/ group show (SPA-BEHAVIOUR §9).
// The phone fills it; this package knows the field names and the device's formats.
type Info struct {
	// System Information.
	DHCP, CurrentIP, HostName, Domain, Netmask, Gateway, PrimaryDNS, SecondaryDNS string
	// Product Information.
	ProductName, SerialNumber, SoftwareVersion, HardwareVersion string
	MAC                                                         string // 12 upper-case hex digits
	ClientCertificate, Customization, Licenses                  string
	// Phone Status.
	CurrentTime time.Time
	Elapsed     time.Duration
	Counters    Counters
	ExternalIP  string
	VLAN        string
	// Ext holds one entry per extension, Lines two call appearances per extension.
	Ext   []ExtInfo
	Lines [][2]CallInfo
	// Downloaded Ring Tone.
	RingToneStatus string
	RingTones      [2]string
}

// Counters are the phone-wide packet counters of the Phone Status section.
type Counters struct {
	BroadcastPktsSent, BroadcastBytesSent, BroadcastPktsRecv, BroadcastBytesRecv uint64
	BroadcastPktsDropped, BroadcastBytesDropped                                  uint64
	RTPPacketsSent, RTPBytesSent, RTPPacketsRecv, RTPBytesRecv                   uint64
	SIPMessagesSent, SIPBytesSent, SIPMessagesRecv, SIPBytesRecv                 uint64
}

// ExtInfo is the status of one extension (group Info/Ext_n_Status).
type ExtInfo struct {
	RegistrationState  string // "Registered", "Failed" or "Not Registered"
	LastRegistrationAt string // FormatTime, "0/0/0 00:00:00" if never, "" when not registering
	NextRegistrationIn string // e.g. "2 s"
	MessageWaiting     bool
	MappedSIPPort      string
}

// CallInfo is the status of one call appearance (group Info/Line_n_Call_m_Status).
type CallInfo struct {
	State                                          string // "Idle", "No Service", "Disabled", …
	Tone, Encoder, Decoder, Type                   string
	RemoteHold, Callback, PeerName, PeerPhone      string
	Duration                                       string
	PacketsSent, PacketsRecv, BytesSent, BytesRecv string
	DecodeLatency, Jitter, RoundTripDelay          string
	PacketsLost, PacketError                       string
	MappedRTPPort, MediaLoopback                   string
}

// FormatTime writes a time as the device does: "1/1/2003 12:04:33" (M/D/YYYY H:MM:SS).
func FormatTime(t time.Time) string {
	return fmt.Sprintf("%d/%d/%d %02d:%02d:%02d", t.Month(), t.Day(), t.Year(), t.Hour(), t.Minute(), t.Second())
}

// FormatElapsed writes a duration as "HH:MM:SS", hours growing past 24 as needed.
func FormatElapsed(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// Value returns the text of one Info field.
func (in *Info) Value(f InfoField) string {
	_, section, _ := strings.Cut(f.Group, "/")
	if n, ok := indexIn(section, "Ext_", "_Status"); ok {
		if n > len(in.Ext) {
			return ""
		}
		return in.Ext[n-1].value(f.Name)
	}
	if n, ok := indexIn(section, "Line_", ""); ok {
		m := 1
		if i := strings.Index(section, "_Call_"); i >= 0 {
			m, _ = strconv.Atoi(strings.TrimSuffix(section[i+len("_Call_"):], "_Status"))
		}
		if n > len(in.Lines) || m < 1 || m > 2 {
			return ""
		}
		return in.Lines[n-1][m-1].value(f.Name)
	}
	c := &in.Counters
	switch f.Name {
	case "DHCP":
		return in.DHCP
	case "Current_IP":
		return in.CurrentIP
	case "Host_Name":
		return in.HostName
	case "Domain":
		return in.Domain
	case "Current_Netmask":
		return in.Netmask
	case "Current_Gateway":
		return in.Gateway
	case "Primary__DNS":
		return in.PrimaryDNS
	case "Secondary__DNS":
		return in.SecondaryDNS
	case "Product_Name":
		return in.ProductName
	case "Serial_Number":
		return in.SerialNumber
	case "Software_Version":
		return in.SoftwareVersion
	case "Hardware_Version":
		return in.HardwareVersion
	case "MAC_Address":
		return in.MAC
	case "Client_Certificate":
		return in.ClientCertificate
	case "Customization":
		return in.Customization
	case "Licenses":
		return in.Licenses
	case "Current_Time":
		if in.CurrentTime.IsZero() {
			return ""
		}
		return FormatTime(in.CurrentTime)
	case "Elapsed_Time":
		return FormatElapsed(in.Elapsed)
	case "Broadcast_Pkts_Sent":
		return u(c.BroadcastPktsSent)
	case "Broadcast_Bytes_Sent":
		return u(c.BroadcastBytesSent)
	case "Broadcast_Pkts_Recv":
		return u(c.BroadcastPktsRecv)
	case "Broadcast_Bytes_Recv":
		return u(c.BroadcastBytesRecv)
	case "Broadcast_Pkts_Dropped":
		return u(c.BroadcastPktsDropped)
	case "Broadcast_Bytes_Dropped":
		return u(c.BroadcastBytesDropped)
	case "RTP_Packets_Sent":
		return u(c.RTPPacketsSent)
	case "RTP_Bytes_Sent":
		return u(c.RTPBytesSent)
	case "RTP_Packets_Recv":
		return u(c.RTPPacketsRecv)
	case "RTP_Bytes_Recv":
		return u(c.RTPBytesRecv)
	case "SIP_Messages_Sent":
		return u(c.SIPMessagesSent)
	case "SIP_Bytes_Sent":
		return u(c.SIPBytesSent)
	case "SIP_Messages_Recv":
		return u(c.SIPMessagesRecv)
	case "SIP_Bytes_Recv":
		return u(c.SIPBytesRecv)
	case "External_IP":
		return in.ExternalIP
	case "Operational_VLAN_ID":
		return in.VLAN
	case "Status":
		return in.RingToneStatus
	case "Ring_Tone_1":
		return in.RingTones[0]
	case "Ring_Tone_2":
		return in.RingTones[1]
	}
	return ""
}

func (e *ExtInfo) value(name string) string {
	switch name {
	case "Registration_State":
		return e.RegistrationState
	case "Last_Registration_At":
		return e.LastRegistrationAt
	case "Next_Registration_In":
		return e.NextRegistrationIn
	case "Message_Waiting":
		if e.MessageWaiting {
			return "Yes"
		}
		return "No"
	case "Mapped_SIP_Port":
		return e.MappedSIPPort
	}
	return ""
}

func (c *CallInfo) value(name string) string {
	switch name {
	case "Call_State":
		return c.State
	case "Tone":
		return c.Tone
	case "Encoder":
		return c.Encoder
	case "Decoder":
		return c.Decoder
	case "Type":
		return c.Type
	case "Remote_Hold":
		return c.RemoteHold
	case "Callback":
		return c.Callback
	case "Peer_Name":
		return c.PeerName
	case "Peer_Phone":
		return c.PeerPhone
	case "Duration":
		return c.Duration
	case "Packets_Sent":
		return c.PacketsSent
	case "Packets_Recv":
		return c.PacketsRecv
	case "Bytes_Sent":
		return c.BytesSent
	case "Bytes_Recv":
		return c.BytesRecv
	case "Decode_Latency":
		return c.DecodeLatency
	case "Jitter":
		return c.Jitter
	case "Round_Trip_Delay":
		return c.RoundTripDelay
	case "Packets_Lost":
		return c.PacketsLost
	case "Packet_Error":
		return c.PacketError
	case "Mapped_RTP_Port":
		return c.MappedRTPPort
	case "Media_Loopback":
		return c.MediaLoopback
	}
	return ""
}

func u(n uint64) string { return strconv.FormatUint(n, 10) }
