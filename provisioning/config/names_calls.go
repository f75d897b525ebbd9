package config

// Parameter names of the call model's transfer and shared-line features (SPA-BEHAVIOUR
// §8.4, §8.5, §13.6, §13.8). Per-extension and per-key names are built with [ExtName].
const (
	// Ext n tab, SIP Settings and Call Feature Settings: transfer (§13.6).
	RefereeByeDelay     = "Referee_Bye_Delay"
	ReferTargetByeDelay = "Refer_Target_Bye_Delay"
	BlindAttnXferEnable = "Blind_Attn-Xfer_Enable"
	AttnTransferServ    = "Attn_Transfer_Serv"
	BlindTransferServ   = "Blind_Transfer_Serv"
	ShareExt            = "Share_Ext"
	SharedUserID        = "Shared_User_ID"
	SubscriptionExpires = "Subscription_Expires"
	StateAgent          = "State_Agent"
	LineKeyExtension    = "Extension"
	ShareCallAppearance = "Share_Call_Appearance"
	SCABargeInEnable    = "SCA_Barge-In_Enable"
	SCALineIDMapping    = "SCA_Line_ID_Mapping"
)
