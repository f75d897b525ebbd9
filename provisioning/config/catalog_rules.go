package config

import (
	"strconv"
	"strings"
)

// This file holds the knowledge the export itself does not carry: which value each parameter
// takes, which are secret, the user account's factory access, the web labels, and the factory
// defaults where the real export shows its previous owner's settings.

// factoryDefaults corrects export values that were the previous owner's settings, not factory
// defaults (SPA-BEHAVIOUR §8; fixture NOTES items 4, 6, 7, 8). Keys are base names (without the
// per-extension suffix). TestFactoryDefaultCorrections lists every case.
var factoryDefaults = map[string]string{
	"Connection_Type":     "DHCP", // export: Static IP (§8.1)
	"Static_IP":           "",     // export: a PHP variable for the owner's IP
	"Primary_DNS":         "",     // export: 4.2.2.1, the owner's resolver
	"Voice_Mail_Number":   "",     // export: 6050 (§8.4)
	"Mailbox_ID":          "",     // export: a PHP variable
	"Proxy":               "",     // export: a PHP variable for the owner's PBX
	"Display_Name":        "",     // export: a PHP variable
	"User_ID":             "",     // export: a PHP variable
	"Password":            "",     // export: a PHP variable
	"SIP_Remote-Party-ID": "Yes",  // documented default Yes; export No (§8.5)
}

// describe builds the catalogue entry of one exported element on model m.
func describe(m Model, name, group, exported string) Param {
	ext := extIndex(group)
	base := baseName(name, ext)
	p := Param{Name: name, Group: group, Ext: ext, Default: exported, Kind: KindString, MaxLen: 1023}
	if d, ok := factoryDefaults[base]; ok {
		p.Default = d
	}
	if strings.HasPrefix(base, "Unit_") && strings.Contains(base, "_Key_") {
		p.Default = ""
	}
	if base == "SIP_Port" && ext > 0 {
		p.Default = strconv.Itoa(5059 + ext) // DECISIONS 5
	}
	p.Label = label(base)

	switch {
	case p.Default == "Yes" || p.Default == "No":
		p.Kind = KindBool
	case enums[base] != nil:
		p.Kind, p.Choices = KindEnum, enums[base]
	case base == "Extension":
		p.Kind = KindEnum
		p.Choices = []string{"Disabled"}
		for i := 1; i <= m.Extensions; i++ {
			p.Choices = append(p.Choices, strconv.Itoa(i))
		}
	case schedules[base]:
		p.Kind = KindSchedule
	case decimals[base]:
		p.Kind = KindDecimal
	default:
		if r, ok := ints[base]; ok {
			p.Kind, p.Min, p.Max = KindInt, r[0], r[1]
		}
	}
	p.Secret = secrets[base]
	p.Access = userAccess(base, group, p.Secret)
	return p
}

// hiddenParams are the profile-only secret strings GPP_SA..GPP_SD: usable only as $SA..$SD
// inside a rule's --key, never exported or shown (SPA-BEHAVIOUR §4.6).
func hiddenParams() []Param {
	ps := make([]Param, 0, 4)
	for _, l := range "ABCD" {
		ps = append(ps, Param{
			Name: "GPP_S" + string(l), Group: "Provisioning/General_Purpose_Parameters",
			Label: "GPP S" + string(l), Kind: KindString, MaxLen: 1023,
			Access: AccessNA, Secret: true, Hidden: true,
		})
	}
	return ps
}

// secrets are the parameters whose values are passwords or keys.
var secrets = map[string]bool{
	"Admin_Passwd": true, "User_Password": true, "PPPoE_Login_Password": true,
	"Password": true, "Auth_Page_Password": true, "SRTP_Private_Key": true,
	"Mini_Certificate": true,
}

// userAccess is the factory access of the user account. The sources give no table (the real
// export carries no ua attributes), so the project settles it: the user may change the network
// settings, their own password and the User tab, read the extension's identity, line keys and
// dial plan; provisioning, SIP, Regional, the admin password and every other secret stay hidden.
// Syslog_Server and Debug_Server, although network settings, are the admin's: the phone sends
// its Log_* messages there, and they carry expanded provisioning URLs and $ERR, which the user
// may not read (the Provisioning tab is na), so a user who could point them at a host of
// theirs would read what the pages hide.
func userAccess(base, group string, secret bool) Access {
	tab, section, _ := strings.Cut(group, "/")
	switch {
	case base == "User_Password":
		return AccessRW
	case secret, adminOnly[base]:
		return AccessNA
	case tab == "User":
		return AccessRW
	case tab == "System":
		if section == "System_Configuration" {
			return AccessNA
		}
		return AccessRW
	case tab == "Phone":
		switch {
		case section == "General", strings.HasPrefix(section, "Line_Key_"), section == "Ring_Tone":
			return AccessRO
		}
		return AccessNA
	case strings.HasPrefix(tab, "Ext_"):
		switch section {
		case "General", "Subscriber_Information", "Dial_Plan":
			return AccessRO
		}
		return AccessNA
	}
	return AccessNA
}

// adminOnly are the parameters of the user's tabs that the user may neither read nor write
// (see userAccess).
var adminOnly = map[string]bool{"Syslog_Server": true, "Debug_Server": true}

// label derives the web label from an element name (SPA-BEHAVIOUR §1.1 in reverse).
func label(base string) string {
	if l, ok := labels[base]; ok {
		return l
	}
	return strings.TrimSpace(strings.ReplaceAll(base, "_", " "))
}

// labels are the names whose label cannot be derived by turning "_" into spaces.
var labels = map[string]string{
	"Time_Offset__HH_mm_":          "Time Offset (HH/mm)",
	"Set_Local_Date__mm_dd_":       "Set Local Date (mm/dd)",
	"Set_Local_Time__HH_mm_":       "Set Local Time (HH/mm)",
	"SIP_TOS_DiffServ_Value":       "SIP TOS/DiffServ Value",
	"RTP_TOS_DiffServ_Value":       "RTP TOS/DiffServ Value",
	"Feed_Data_Update_Interval_m_": "Feed Data Update Interval(m)",
	"Scrolling_Timer_s_":           "Scrolling Timer(s)",
	"Primary_DNS":                  "Primary DNS",
	"Admin_Passwd":                 "Admin Passwd",
}

// schedules take the extended delay syntax (SPA-BEHAVIOUR §4.3).
var schedules = map[string]bool{
	"Resync_Periodic": true, "Resync_Error_Retry_Delay": true, "Upgrade_Error_Retry_Delay": true,
}

// decimals are seconds with a fraction (SPA-BEHAVIOUR §8.8 Float/Time).
var decimals = map[string]bool{
	"SIP_T1": true, "SIP_T2": true, "SIP_T4": true, "SIP_Timer_B": true, "SIP_Timer_F": true,
	"SIP_Timer_H": true, "SIP_Timer_D": true, "SIP_Timer_J": true, "RTP_Packet_Size": true,
	"Call_Back_Delay": true, "DTMF_Playback_Length": true, "Scrolling_Timer_s_": true,
}

const (
	port  = 65535
	uns32 = 1<<32 - 1
)

// ints are the integer parameters with their ranges (SPA-BEHAVIOUR §8.8 Uns/Sig, Port).
var ints = map[string][2]int64{
	"Web_Server_Port": {1, port}, "VLAN_ID": {0, 4095},
	"Max_Forward": {0, 255}, "Max_Redirection": {0, 255}, "Max_Auth": {0, 255},
	"SIP_TCP_Port_Min": {1, port}, "SIP_TCP_Port_Max": {1, port},
	"INVITE_Expires": {0, uns32}, "ReINVITE_Expires": {0, uns32},
	"Reg_Min_Expires": {0, uns32}, "Reg_Max_Expires": {0, uns32},
	"Reg_Retry_Intvl": {0, uns32}, "Reg_Retry_Long_Intvl": {0, uns32},
	"Sub_Min_Expires": {0, uns32}, "Sub_Max_Expires": {0, uns32}, "Sub_Retry_Intvl": {0, uns32},
	"RTP_Port_Min": {1, port}, "RTP_Port_Max": {1, port},
	"Max_RTP_ICMP_Err": {0, uns32}, "RTCP_Tx_Interval": {0, uns32},
	"AVT_Dynamic_Payload": {0, 127}, "G726r16_Dynamic_Payload": {0, 127},
	"G726r24_Dynamic_Payload": {0, 127}, "G726r32_Dynamic_Payload": {0, 127},
	"G726r40_Dynamic_Payload": {0, 127}, "G729b_Dynamic_Payload": {0, 127},
	"EncapRTP_Dynamic_Payload": {0, 127}, "RTP-Start-Loopback_Dynamic_Payload": {0, 127},
	"NAT_Keep_Alive_Intvl": {0, uns32},
	"Resync_Random_Delay":  {0, uns32}, "Forced_Resync_Delay": {0, uns32},
	"Reorder_Delay": {0, 255}, "Call_Back_Expires": {0, uns32}, "Call_Back_Retry_Intvl": {0, uns32},
	"Interdigit_Long_Timer": {0, 255}, "Interdigit_Short_Timer": {0, 255},
	"DTMF_Playback_Level":  {-90, 10},
	"Subscription_Expires": {0, uns32}, "SIP_CoS_Value": {0, 7}, "RTP_CoS_Value": {0, 7},
	"SIP_Port": {1, port}, "Referor_Bye_Delay": {0, 255}, "Referee_Bye_Delay": {0, 255},
	"Refer_Target_Bye_Delay": {0, 255}, "Register_Expires": {0, uns32},
	"Proxy_Fallback_Intvl": {0, uns32}, "Cfwd_No_Ans_Delay": {0, 255},
	"Handset_Input_Gain": {-12, 12}, "Headset_Input_Gain": {-12, 12}, "Speakerphone_Input_Gain": {-12, 12},
	"Ringer_Volume": {0, 15}, "Speaker_Volume": {0, 15}, "Handset_Volume": {0, 15},
	"Headset_Volume": {0, 15}, "LCD_Contrast": {0, 30},
	"Feed_Data_Update_Interval_m_": {0, uns32},
	"Subscribe_Expires":            {0, uns32}, "Subscribe_Retry_Interval": {0, uns32},
}

var codecs = []string{"G711u", "G711a", "G726-16", "G726-24", "G726-32", "G726-40", "G729a", "G723"}

// enums are the parameters whose value is one of a fixed list (SPA-BEHAVIOUR §8).
var enums = map[string][]string{
	"Connection_Type":          {"DHCP", "Static IP", "PPPoE"},
	"DNS_Server_Order":         {"Manual", "Manual,DHCP", "DHCP,Manual"},
	"DNS_Query_Mode":           {"Parallel", "Sequential"},
	"Debug_Level":              {"0", "1", "2", "3"},
	"SIP_Transport":            {"UDP", "TCP", "TLS"},
	"Preferred_Codec":          codecs,
	"Second_Preferred_Codec":   append([]string{"Unspecified"}, codecs...),
	"Third_Preferred_Codec":    append([]string{"Unspecified"}, codecs...),
	"RTP-Start-Loopback_Codec": codecs,
	"Force_LAN_Codec":          {"none", "G711u", "G711a"},
	"DTMF_Tx_Method":           {"InBand", "AVT", "INFO", "Auto", "InBand+INFO", "AVT+INFO"},
	"Network_Jitter_Level":     {"low", "medium", "high", "very high", "extremely high"},
	"Jitter_Buffer_Adjustment": {"up and down", "up only", "down only", "disable"},
	"Share_Ext":                {"shared", "private"},
	"Share_Call_Appearance":    {"private", "shared"},
	"Proxy_Redundancy_Method":  {"Normal", "Based on SRV Port"},
	"SIP_Debug_Option": {"none", "1-line", "1-line excl. OPT", "1-line excl. NTFY",
		"1-line excl. REG", "1-line excl. OPT|NTFY|REG", "full", "full excl. OPT",
		"full excl. NTFY", "full excl. REG", "full excl. OPT|NTFY|REG"},
	"Default_Ring":                  {"No Ring", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"},
	"Inband_DTMF_Boost":             {"0dB", "3dB", "6dB", "9dB", "12dB", "15dB", "18dB"},
	"SCA_Line_ID_Mapping":           {"Vertical First", "Horizontal First"},
	"Preferred_Audio_Device":        {"Speaker", "Headset"},
	"Time_Format":                   {"12hr", "24hr"},
	"Date_Format":                   {"month/day", "day/month"},
	"Accept_Media_Loopback_Request": {"never", "automatic", "manual"},
	"Media_Loopback_Mode":           {"source", "mirror"},
	"Media_Loopback_Type":           {"media", "packet"},
	"Time_Zone":                     timeZones(),
}

// timeZones lists GMT-12:00 … GMT+13:00 with the half and quarter hours in use (§8.3).
func timeZones() []string {
	zs := []string{"GMT-12:00", "GMT-11:00", "GMT-10:00", "GMT-09:00", "GMT-08:00", "GMT-07:00",
		"GMT-06:00", "GMT-05:00", "GMT-04:00", "GMT-03:30", "GMT-03:00", "GMT-02:00", "GMT-01:00",
		"GMT", "GMT+01:00", "GMT+02:00", "GMT+03:00", "GMT+03:30", "GMT+04:00", "GMT+04:30",
		"GMT+05:00", "GMT+05:30", "GMT+05:45", "GMT+06:00", "GMT+06:30", "GMT+07:00", "GMT+08:00",
		"GMT+09:00", "GMT+09:30", "GMT+10:00", "GMT+11:00", "GMT+12:00", "GMT+13:00"}
	return zs
}
