package config

// Parameter names of the media engine (SPA-BEHAVIOUR §8.2, §8.3, §8.5, §8.6). Per-extension
// names are built with [ExtName].
const (
	// SIP tab, RTP Parameters and SDP Payload Types.
	RTPPacketSize     = "RTP_Packet_Size"
	RTCPTxInterval    = "RTCP_Tx_Interval"
	SymmetricRTP      = "Symmetric_RTP"
	StatsInBYE        = "Stats_In_BYE"
	AVTDynamicPayload = "AVT_Dynamic_Payload"
	AVTCodecName      = "AVT_Codec_Name"
	G711uCodecName    = "G711u_Codec_Name"
	G711aCodecName    = "G711a_Codec_Name"
	RFC2543CallHold   = "RFC_2543_Call_Hold"

	// Regional tab.
	DialTone           = "Dial_Tone"
	BusyTone           = "Busy_Tone"
	ReorderTone        = "Reorder_Tone"
	RingBackTone       = "Ring_Back_Tone"
	CallWaitingTone    = "Call_Waiting_Tone"
	HoldingTone        = "Holding_Tone"
	ConferenceTone     = "Conference_Tone"
	DTMFPlaybackLevel  = "DTMF_Playback_Level"
	DTMFPlaybackLength = "DTMF_Playback_Length"

	// Ext n tab, base names for ExtName.
	NetworkJitterLevel     = "Network_Jitter_Level"
	JitterBufferAdjustment = "Jitter_Buffer_Adjustment"
	PreferredCodec         = "Preferred_Codec"
	SecondPreferredCodec   = "Second_Preferred_Codec"
	ThirdPreferredCodec    = "Third_Preferred_Codec"
	UsePrefCodecOnly       = "Use_Pref_Codec_Only"
	ReleaseUnusedCodec     = "Release_Unused_Codec"
	DTMFProcessAVT         = "DTMF_Process_AVT"
	DTMFTxMethod           = "DTMF_Tx_Method"

	// User tab.
	AcceptMediaLoopbackRequest = "Accept_Media_Loopback_Request"
	MediaLoopbackMode          = "Media_Loopback_Mode"
	MediaLoopbackType          = "Media_Loopback_Type"
	MediaLoopbackCode          = "Media_Loopback_Code"
	ConferenceServ             = "Conference_Serv"
)
