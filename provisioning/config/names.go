package config

// Parameter names the rest of the phone refers to. Per-extension names are built with
// [ExtName] from the base names below.
const (
	// System tab.
	EnableWebServer      = "Enable_Web_Server"
	WebServerPort        = "Web_Server_Port"
	EnableWebAdminAccess = "Enable_Web_Admin_Access"
	AdminPasswd          = "Admin_Passwd"
	UserPassword         = "User_Password"
	ConnectionType       = "Connection_Type"
	HostName             = "HostName"
	Domain               = "Domain"
	PrimaryDNS           = "Primary_DNS"
	SecondaryDNS         = "Secondary_DNS"
	SyslogServer         = "Syslog_Server"
	DebugServer          = "Debug_Server"
	DebugLevel           = "Debug_Level"

	// SIP tab (SPA-BEHAVIOUR §8.2).
	SIPUserAgentName        = "SIP_User_Agent_Name"
	SIPServerName           = "SIP_Server_Name"
	SIPRegUserAgentName     = "SIP_Reg_User_Agent_Name"
	RTPPortMin              = "RTP_Port_Min"
	RTPPortMax              = "RTP_Port_Max"
	MaxForward              = "Max_Forward"
	MaxRedirection          = "Max_Redirection"
	MaxAuth                 = "Max_Auth"
	RandomREGCIDOnReboot    = "Random_REG_CID_On_Reboot"
	SIPTCPPortMin           = "SIP_TCP_Port_Min"
	SIPTCPPortMax           = "SIP_TCP_Port_Max"
	SIPT1                   = "SIP_T1"
	SIPT2                   = "SIP_T2"
	SIPT4                   = "SIP_T4"
	SIPTimerB               = "SIP_Timer_B"
	SIPTimerF               = "SIP_Timer_F"
	SIPTimerH               = "SIP_Timer_H"
	SIPTimerD               = "SIP_Timer_D"
	SIPTimerJ               = "SIP_Timer_J"
	InviteExpires           = "INVITE_Expires"
	ReinviteExpires         = "ReINVITE_Expires"
	RegMinExpires           = "Reg_Min_Expires"
	RegMaxExpires           = "Reg_Max_Expires"
	RegRetryIntvl           = "Reg_Retry_Intvl"
	RegRetryLongIntvl       = "Reg_Retry_Long_Intvl"
	RegRetryRandomDelay     = "Reg_Retry_Random_Delay"
	RegRetryLongRandomDelay = "Reg_Retry_Long_Random_Delay"
	RegRetryIntvlCap        = "Reg_Retry_Intvl_Cap"
	RetryRegRSC             = "Retry_Reg_RSC"
	InsertVIARport          = "Insert_VIA_rport"
	NATKeepAliveIntvl       = "NAT_Keep_Alive_Intvl"
	DTMFRelayMIMEType       = "DTMF_Relay_MIME_Type"
	SubMinExpires           = "Sub_Min_Expires"
	SubMaxExpires           = "Sub_Max_Expires"
	SubRetryIntvl           = "Sub_Retry_Intvl"

	// Regional tab.
	InterdigitLongTimer  = "Interdigit_Long_Timer"
	InterdigitShortTimer = "Interdigit_Short_Timer"
	ConfirmTone          = "Confirm_Tone"

	// Regional tab, Vertical Service Activation Codes and Outbound Call Codec Selection
	// Codes (SPA-BEHAVIOUR §8.3, §12.7).
	CallReturnCode           = "Call_Return_Code"
	BlindTransferCode        = "Blind_Transfer_Code"
	CallBackActCode          = "Call_Back_Act_Code"
	CallBackDeactCode        = "Call_Back_Deact_Code"
	CfwdAllActCode           = "Cfwd_All_Act_Code"
	CfwdAllDeactCode         = "Cfwd_All_Deact_Code"
	CfwdBusyActCode          = "Cfwd_Busy_Act_Code"
	CfwdBusyDeactCode        = "Cfwd_Busy_Deact_Code"
	CfwdNoAnsActCode         = "Cfwd_No_Ans_Act_Code"
	CfwdNoAnsDeactCode       = "Cfwd_No_Ans_Deact_Code"
	CWActCode                = "CW_Act_Code"
	CWDeactCode              = "CW_Deact_Code"
	CWPerCallActCode         = "CW_Per_Call_Act_Code"
	CWPerCallDeactCode       = "CW_Per_Call_Deact_Code"
	BlockCIDActCode          = "Block_CID_Act_Code"
	BlockCIDDeactCode        = "Block_CID_Deact_Code"
	BlockCIDPerCallActCode   = "Block_CID_Per_Call_Act_Code"
	BlockCIDPerCallDeactCode = "Block_CID_Per_Call_Deact_Code"
	BlockANCActCode          = "Block_ANC_Act_Code"
	BlockANCDeactCode        = "Block_ANC_Deact_Code"
	DNDActCode               = "DND_Act_Code"
	DNDDeactCode             = "DND_Deact_Code"
	SecureAllCallActCode     = "Secure_All_Call_Act_Code"
	SecureNoCallActCode      = "Secure_No_Call_Act_Code"
	SecureOneCallActCode     = "Secure_One_Call_Act_Code"
	SecureOneCallDeactCode   = "Secure_One_Call_Deact_Code"
	PreferG711uCode          = "Prefer_G711u_Code"
	ForceG711uCode           = "Force_G711u_Code"
	PreferG711aCode          = "Prefer_G711a_Code"
	ForceG711aCode           = "Force_G711a_Code"
	PreferG723Code           = "Prefer_G723_Code"
	ForceG723Code            = "Force_G723_Code"
	PreferG726r16Code        = "Prefer_G726r16_Code"
	ForceG726r16Code         = "Force_G726r16_Code"
	PreferG726r24Code        = "Prefer_G726r24_Code"
	ForceG726r24Code         = "Force_G726r24_Code"
	PreferG726r32Code        = "Prefer_G726r32_Code"
	ForceG726r32Code         = "Force_G726r32_Code"
	PreferG726r40Code        = "Prefer_G726r40_Code"
	ForceG726r40Code         = "Force_G726r40_Code"
	PreferG729aCode          = "Prefer_G729a_Code"
	ForceG729aCode           = "Force_G729a_Code"

	// User tab (SPA-BEHAVIOUR §8.6).
	CfwdAllDest     = "Cfwd_All_Dest"
	CfwdBusyDest    = "Cfwd_Busy_Dest"
	CfwdNoAnsDest   = "Cfwd_No_Ans_Dest"
	CfwdNoAnsDelay  = "Cfwd_No_Ans_Delay"
	CWSetting       = "CW_Setting"
	BlockCIDSetting = "Block_CID_Setting"
	BlockANCSetting = "Block_ANC_Setting"
	DNDSetting      = "DND_Setting"
	AutoAnswerPage  = "Auto_Answer_Page"

	SecureCallSetting = "Secure_Call_Setting"

	// Provisioning tab, Configuration Profile (SPA-BEHAVIOUR §4.1).
	ProvisionEnable           = "Provision_Enable"
	ResyncOnReset             = "Resync_On_Reset"
	ResyncRandomDelay         = "Resync_Random_Delay"
	ResyncPeriodic            = "Resync_Periodic"
	ResyncErrorRetryDelay     = "Resync_Error_Retry_Delay"
	ForcedResyncDelay         = "Forced_Resync_Delay"
	ResyncFromSIP             = "Resync_From_SIP"
	ResyncAfterUpgradeAttempt = "Resync_After_Upgrade_Attempt"
	ResyncTrigger1            = "Resync_Trigger_1"
	ResyncTrigger2            = "Resync_Trigger_2"
	ResyncFailsOnFNF          = "Resync_Fails_On_FNF"
	ProfileRule               = "Profile_Rule"
	ProfileRuleB              = "Profile_Rule_B"
	ProfileRuleC              = "Profile_Rule_C"
	ProfileRuleD              = "Profile_Rule_D"
	LogResyncRequestMsg       = "Log_Resync_Request_Msg"
	LogResyncSuccessMsg       = "Log_Resync_Success_Msg"
	LogResyncFailureMsg       = "Log_Resync_Failure_Msg"
	ReportRule                = "Report_Rule"

	// Provisioning tab, Firmware Upgrade (SPA-BEHAVIOUR §4.2).
	UpgradeEnable          = "Upgrade_Enable"
	UpgradeErrorRetryDelay = "Upgrade_Error_Retry_Delay"
	DowngradeRevLimit      = "Downgrade_Rev_Limit"
	UpgradeRule            = "Upgrade_Rule"
	LogUpgradeRequestMsg   = "Log_Upgrade_Request_Msg"
	LogUpgradeSuccessMsg   = "Log_Upgrade_Success_Msg"
	LogUpgradeFailureMsg   = "Log_Upgrade_Failure_Msg"

	// Ext n tab, base names for ExtName (SPA-BEHAVIOUR §8.5).
	LineEnable           = "Line_Enable"
	SIPPort              = "SIP_Port"
	AuthResyncReboot     = "Auth_Resync-Reboot"
	Proxy                = "Proxy"
	Register             = "Register"
	RegisterExpires      = "Register_Expires"
	DisplayName          = "Display_Name"
	UserID               = "User_ID"
	Password             = "Password"
	UseAuthID            = "Use_Auth_ID"
	AuthID               = "Auth_ID"
	MessageWaitingExt    = "Message_Waiting"
	SIPTransport         = "SIP_Transport"
	UseOutboundProxy     = "Use_Outbound_Proxy"
	OutboundProxy        = "Outbound_Proxy"
	UseOBProxyInDialog   = "Use_OB_Proxy_In_Dialog"
	UseDNSSRV            = "Use_DNS_SRV"
	DNSSRVAutoPrefix     = "DNS_SRV_Auto_Prefix"
	NATMappingEnable     = "NAT_Mapping_Enable"
	NATKeepAliveEnable   = "NAT_Keep_Alive_Enable"
	NATKeepAliveMsg      = "NAT_Keep_Alive_Msg"
	NATKeepAliveDest     = "NAT_Keep_Alive_Dest"
	DialPlan             = "Dial_Plan"
	EnableIPDialing      = "Enable_IP_Dialing"
	Sticky183            = "Sticky_183"
	SIP100RELEnable      = "SIP_100REL_Enable"
	ReferorByeDelay      = "Referor_Bye_Delay"
	ReferToTargetContact = "Refer-To_Target_Contact"
	AuthINVITE           = "Auth_INVITE"
	MakeCallWithoutReg   = "Make_Call_Without_Reg"
	VoiceMailServer      = "Voice_Mail_Server"
	MailboxID            = "Mailbox_ID"
	AnsCallWithoutReg    = "Ans_Call_Without_Reg"
)

// ProfileRules returns the rules a resync evaluates, in order (SPA-BEHAVIOUR §2.3).
func ProfileRules() [4]string {
	return [...]string{ProfileRule, ProfileRuleB, ProfileRuleC, ProfileRuleD}
}

// ResyncTriggers returns the bare conditions that start a resync (SPA-BEHAVIOUR §4.1).
func ResyncTriggers() [2]string { return [...]string{ResyncTrigger1, ResyncTrigger2} }

// AssignedName is the parameter a rule's assignment names (SPA-BEHAVIOUR §2.1): the short
// names "a"…"p" stand for GPP_A…GPP_P; any other name is the parameter's own.
func AssignedName(name string) string {
	if len(name) == 1 && name[0] >= 'a' && name[0] <= 'p' {
		n, _ := GPP(name)
		return n
	}
	return name
}

// GPP returns the name of general purpose parameter letter a..p ("GPP_A"), or of the secret
// ones sa..sd ("GPP_SA"). ok is false for any other letter.
func GPP(letter string) (name string, ok bool) {
	switch {
	case len(letter) == 1 && letter[0] >= 'a' && letter[0] <= 'p':
		return "GPP_" + string(letter[0]-'a'+'A'), true
	case len(letter) == 1 && letter[0] >= 'A' && letter[0] <= 'P':
		return "GPP_" + letter, true
	case len(letter) == 2 && (letter[0] == 's' || letter[0] == 'S') && letter[1]|0x20 >= 'a' && letter[1]|0x20 <= 'd':
		return "GPP_S" + string(letter[1]&^0x20), true
	}
	return "", false
}

// liveTabs are the tabs whose changes apply without restarting the voice application: the
// provisioning machinery reads them at each use (DECISIONS 12).
var liveTabs = map[string]bool{"Provisioning": true}

// liveParams are the parameters outside the Provisioning tab whose change applies without
// the warm restart (base names, without the extension suffix): the values the device changes
// itself while it runs, and which the phone reads again at each use.
//
//   - The User tab's call forward and supplementary-service settings: the star codes set
//     them (SPA-BEHAVIOUR §12.7: *72 Cfwd_All_Dest, *78 DND_Setting, …). A real phone does
//     not restart its voice application — dropping registrations and calls — because the
//     user dialled *78; the phone reads them at the next incoming or outgoing call.
//   - Message_Waiting_n_: the state the phone keeps from message-summary NOTIFYs (§13.9),
//     "updated whenever a voice message is received". It is status more than setting; the
//     lamp follows it at once.
//
// A profile or a web form that changes them is applied live too, for the same reason: nothing
// the restart would rebuild depends on them. DECISIONS 12 names the Provisioning tab; these
// are the other values the device itself treats as live.
var liveParams = map[string]bool{
	CfwdAllDest: true, CfwdBusyDest: true, CfwdNoAnsDest: true, CfwdNoAnsDelay: true,
	CWSetting: true, BlockCIDSetting: true, BlockANCSetting: true, DNDSetting: true,
	SecureCallSetting: true, MessageWaitingExt: true,
}

// NeedsRestart reports whether a change of these parameters needs the warm restart of the
// voice application (DECISIONS 12): anything outside the Provisioning tab does, except the
// values of [liveParams] that the phone changes itself.
func (c *Catalog) NeedsRestart(names []string) bool {
	for _, n := range names {
		p, ok := c.Lookup(n)
		if !ok || (!liveTabs[p.Tab()] && !liveParams[baseName(p.Name, p.Ext)]) {
			return true
		}
	}
	return false
}
