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
// safe for concurrent use. An engine sends every session's packets from a few pacing
// goroutines, one per core by default ([EngineConfig.Pacers]), of its own [Scheduler] or of
// one the engines of a fleet's phones share ([EngineConfig.Scheduler]); each keeps a deadline
// heap of its sessions, so a thousand calls do not need a thousand timers, and waits for the next
// deadline on a Go timer, then the last 1.5 ms precisely (nanosleep on its own thread on
// Linux: the runtime's timers wake up to 1 ms late). On Linux the pacer also receives: at a
// session's tick one non-blocking recvmmsg takes what its RTP socket queued, with kernel
// receive timestamps, so a call costs two system calls per packet time and no goroutine
// wake-up of its own; elsewhere a reader goroutine per session hands packets over through a
// lock-free ring. Each session has a goroutine reading RTCP. Statistics are atomics, read
// without locks. Nothing on the media path allocates or logs per packet.
//
// Scale (BenchmarkConcurrentCalls, BenchmarkSyscallFloor, BenchmarkTick here; cmd/spa900's
// BenchmarkFleetCalls with whole phones in two spa900 processes): every call keeps
// its own RTP port, as the device does, so sendmmsg cannot batch across calls (it sends on one
// socket); a G.711 call at 20 ms sends one packet per socket per tick, so sendmmsg or UDP GSO
// would batch nothing either. What remains per packet is one sendto and one recvmmsg, whose
// kernel cost (on loopback, sendto also runs the receiver's UDP input) is the floor that
// BenchmarkSyscallFloor measures. Measured on a shared 2-core machine (CPU by getrusage,
// which the other processes' load does not inflate): the floor is about 10 µs of CPU per
// packet sent and received; the engine spends 17 µs per packet sent or received without the
// audio analysis, 22-26 µs with it (BenchmarkConcurrentCalls); whole phones in a fleet
// 23-31 µs (BenchmarkFleetCalls); SIPp's rtpstream, which only sends, 6-13 µs per packet
// sent (BenchmarkSIPpCalls). A call is 100 such packets a second in each process, so 2 cores
// carry 450-580 calls of two engine processes at most: 1,000 calls need about twice the
// machine, or a packet path nearer the floor (the analysis, the in-band DTMF detector and
// the tone generator are a third of a phone's media CPU).
package media
