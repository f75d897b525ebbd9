// Package lab holds the peers `spa900 lab` starts beside its phones, so that a newcomer's
// phones boot, provision, register and call one another with nothing else installed: a
// provisioning server that serves each phone its own profile, rendered from a template
// ([RenderProfiles], [ProvServer]), and a small SIP registrar and proxy with digest
// authentication ([Registrar]). They are a demo and a smoke test, not a provisioning
// system or a PBX: their limits are in their doc comments and the README.
//
// The same rendering writes the profiles and the Kamailio users of the Compose lab
// (`spa900 lab profiles`, deploy/compose.yaml).
//
// Who may import it: cmd only. It imports fleetfile (the template language) and
// provisioning/config (the parameter names and the catalogue that checks a profile), never
// phone, sip or webui: the lab's peers are peers, talking to the phones over the network.
//
// Concurrency: a Registrar and a ProvServer are safe for concurrent use.
package lab
