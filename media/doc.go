// Package media is the phone's RTP engine: SDP offer/answer for one audio stream
// ([Offer], [Answer], [Accept]), RTP sessions on ports of a per-phone range ([Engine],
// [Session]), G.711, RFC 4733 DTMF, tones generated from the device's ToneScripts, audio
// sources and sinks (silence, tone, WAV, echo, recording), audio analysis a test can assert on
// (level, dominant frequency, in-band DTMF, one-way audio, R-factor), built-in impairment, a
// three-way conference mixer and media loopback.
//
// Who may import it: phone (and cmd for wiring). It imports no other package of the module;
// phone maps the configuration catalogue to the plain structs here ([SDPConfig],
// [EngineConfig], [SessionConfig]), so no parameter name appears in this package. SDP travels
// through sip as bytes: phone hands sip what [Offer] and [Answer] return and gives [Accept]
// what sip received.
//
// Concurrency: the SDP functions are pure. Every exported method of [Engine] and [Session] is
// safe for concurrent use. An engine sends every session's packets from one pacing goroutine
// (a deadline heap, so a thousand calls do not need a thousand timers); each session has one
// goroutine reading RTP and one reading RTCP, which hand packets to the pacer through a
// lock-free ring. Statistics are atomics, read without locks. Nothing on the media path
// allocates or logs per packet.
package media
