// Package phone is the device: one event loop per phone that owns its state (configuration
// snapshot, handset, lines, pending operations), its lifecycle (boot, warm restart, reboot,
// upgrade apply), the idle gate, and the immutable status snapshots everyone else reads.
//
// A [Unit] is one physical phone across reboots: it builds a [Phone] from its flash, runs it,
// and when the phone reboots (Run returns [ErrReboot]) waits the emulated boot time and builds
// it again, as the real device comes back from its flash. A [Fleet] runs many units.
//
// Who may import it: webui and cmd. It imports sip, media, provisioning and provisioning/config,
// never webui.
//
// Concurrency: every exported method of Unit and Phone is safe for concurrent use. State is
// owned by the loop goroutine; requests reach it as events and wait for its answer.
package phone
