// Package sip is the SIP user agent of an emulated SPA9xx phone, built on sipgo: one [Agent]
// per enabled extension, bound to the phone's address and the extension's own SIP port
// (SPA-BEHAVIOUR §8.5, DECISIONS 5). It registers (with digest on 401/407, MD5 and SHA-256),
// answers the control NOTIFYs the provisioning servers send (SPA-BEHAVIOUR §6, DECISIONS 18)
// behind a digest challenge of its own, subscribes to message-summary and receives its
// NOTIFYs (subscribed or not, RFC 3842, RFC 6665: subscribe.go), speaks the SPA9000 form of
// the shared line appearance (dialog-info NOTIFYs to and from the state agent, RFC 4235:
// shared.go), sends NAT keep-alives, speaks UDP, TCP or TLS as SIP_Transport_n_ says
// (stream.go: a listener on the extension's port, its own connections reused per destination,
// a lost registration connection reported as [ConnectionLost]), and shapes every message it
// originates as the device does (§7.2, §13.10: Via
// branch, Call-ID, tags, CSeq, Contact with the display name, User-Agent and Server).
//
// It speaks plain structs: [Config] carries addresses, credentials, timers and feature
// switches, never a parameter name; the phone maps its configuration onto it. What happens
// on the wire that the phone must decide or know about reaches it as an [Event] through
// Config.OnEvent. Requests that need the phone's decision (a control NOTIFY) carry a Respond
// method; the handler waits for it, bounded, and answers 503 when the phone does not decide.
// Policy timers (registration and subscription refresh and retry, keep-alive interval) are
// the phone's: [Agent.Register], [Agent.SubscribeMWI] and [Agent.KeepAlive] do one exchange
// each and return.
//
// Who may import it: phone (and cmd, for the process-wide sipgo knobs of [SetProcessTimers]).
// It imports nothing from this module: SDP travels through it as bytes.
//
// Concurrency: every method of Agent is safe for concurrent use. Config.OnEvent is called on
// sipgo's goroutines without any lock held; it must hand the event on and return.
//
// sipgo's own log lines are bridged into the agent's zap logger (named "sip", carrying the
// phone's fields) at debug level: per-message logs are off by default. Config.Trace logs
// every message sent and received, whole, at info level (spa900 --sip-trace).
package sip
