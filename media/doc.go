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
//
// Pacing under load: the send-interval error is measured by the sender as each packet goes
// to the kernel and by the receiver from the kernel's receive timestamps of consecutive
// packets of a stream ([SchedulerStats] Pacing and Arrival); the scheduler also records how
// late its pacers woke for their slots (Wake), how late they began each slot's work, after a
// sleep or not (Lag: a pacer behind its work never sleeps, so only Lag shows a backlog), and
// how long their threads waited runnable for a CPU (RunDelay). On the shared 2-core machine at load 13-28, 250 calls: no GC cycle in a
// 10 s window, the pacers woke late by 5 ms at p99, their threads waited runnable 37-40% of
// the time, and the p99 was 20 ms (the histogram's cap): the error is the operating system's
// run queue, where the other processes' threads take their turns first, not GC, the Go
// scheduler or the CPU the calls need. Real-time pacer threads
// ([Scheduler.SetRealtimePriority]) take that away: 1% run-queue wait, p99 0.9-3.6 ms at 250
// calls and 1.4-2.7 ms at 500 (in the better runs at load 27; others 5-16 ms: with the two
// processes' four real-time pacers on two cores they wait for one another, and the machine
// stalls everyone now and then). At 1,000 calls the two engines need 1.8 of the 2 cores
// (87-92% each at 9 µs a packet): they carried every packet (100 k a second a side, no loss)
// with p99 16-17 ms, the pacers waiting for one another 20-34% of the time. 1,000 calls at a
// p99 under 2 ms need a packet path well under half its cost here, or more cores.
package media
