// Package provisioning is how an SPA 900-series phone provisions itself
// (SPA-BEHAVIOUR §1–§4, §7.3): the Profile_Rule language, macros, URLs, schedules, the decoding
// of downloaded profiles, and the fetchers that download them and upload reports.
//
// The pure core does no I/O and keeps no state:
//
//   - [ParseRule] and [Rule.Select]: the rules of Profile_Rule…_D, Upgrade_Rule and
//     Report_Rule, with their conditions ([Cond], also [ParseTrigger] for Resync_Trigger_n),
//     assignments and options (--key, --post, --alias, --uid, --pwd);
//   - [Expand] and [ExpandKey] with [Vars]: the $MA, $SWVER, $(MAU:4)… macros;
//   - [ParseURL]: `[scheme://][server[:port]]/path` with the TFTP/option-66 defaults;
//   - [ParseVersion]: firmware versions such as 5.1.15(aSC), for conditions and
//     Downgrade_Rev_Limit;
//   - [ParseSchedule] and [RandomDelay]: the `1800,3600+600` delays of the resync and upgrade
//     timers;
//   - [DecodeProfile], [Encrypt] and [Decrypt]: openssl "Salted__" AES-256-CBC and gzip, down to
//     the <flat-profile> XML that package config parses;
//   - [ParseAliasMap] and [MatchAlias]: --alias maps;
//   - [CompileSPC]: the SPC plain-text source format, compiled to XML for the profile tools.
//
// Who may import it: phone (which runs resyncs and upgrades), cmd (the profile and firmware
// tools) and tests. It imports nothing else from this module; the pure core imports only the
// standard library.
//
// Concurrency: parsed values ([Rule], [Cond], [Schedule], [Version], [URL], [Alias]) are
// immutable and safe for concurrent use; the functions keep no state between calls. A [Vars]
// must not change while an expansion reads it.
package provisioning
