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
// BenchmarkSyscallFloor measures: about 60 % of an engine's CPU at 1,000 calls is the kernel's
// (recvmmsg, UDP send and receive, the loopback delivery), the audio analysis some 15 % (the
// spectrum, the frame sums, the DTMF filters). A call is 100 packets a second in each process.
// On the 2-core machine of 2026-12-03 (CPU by getrusage, nothing else running), 1,000 calls
// between two engine processes (BenchmarkConcurrentCalls, one real-time pacer each) took 6.7-9.5
// µs of CPU per packet sent or received, 67-95 % of a core an engine, as the machine's speed
// moved within the day; every packet was carried in every run. SIPp's rtpstream, which only
// sends, took 6-13 µs per packet sent on the older machine (BenchmarkSIPpCalls).
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
// stalls everyone now and then). At 1,000 calls the p99 stays under 2 ms only while an engine
// needs less than about 85 % of a core: 0.25-0.7 ms in 6 runs at 67-83 %, 6.15-20 ms in 7 runs
// at 83-95 % (2026-12-03), where the pacer, with no slack left, falls behind its slots.
package media
