// Package firmware reads and writes the emulated phone's firmware upgrade images.
//
// A real SPA 900-series phone upgrades from a single .bin file named like
// spa942-5-1-18.bin, fetched over TFTP or HTTP by Upgrade_Rule (SPA-BEHAVIOUR §4.2).
// The real Linksys container format is undocumented, so spa900 defines its own small
// format (DECISIONS 15): it names the models an image fits, carries the firmware
// version string the phone reports after the upgrade (SPA-BEHAVIOUR §10, DECISIONS 2),
// and protects everything with a SHA-256 checksum. An upgrade is refused for a wrong
// model ([ErrWrongModel]) or a bad checksum ([ErrChecksum]). Comparing the version with
// Downgrade_Rev_Limit is the caller's job; this package only carries the string.
// A real Linksys image is rejected with [ErrBadMagic].
//
// # Image format, version 1
//
// All integers are unsigned big-endian unless marked signed. Offsets are from the
// start of the image.
//
//	offset  size  field
//	0       8     magic, the ASCII bytes "SPA900FW"
//	8       2     format version, 1
//	10      2     header length H: bytes from offset 0 through the end of the checksum
//	12      8     build time, signed seconds since 1970-01-01 00:00:00 UTC
//	20      4     payload length P
//	24      4     filler length F
//	28      1     model count M, 1..16
//	29      ...   M times: 1-byte length L (1..32), then L bytes of model name
//	...     1     firmware version length V (1..32)
//	...     V     firmware version
//	H-32    32    SHA-256 of bytes [0, H-32) followed by bytes [H, H+P+F)
//	H       P     payload
//	H+P     F     filler
//
// The image is exactly H+P+F bytes long: a shorter input is truncated ([ErrTruncated]),
// a longer one has trailing data ([ErrMalformed]). H must equal the length its fields
// take, at most [MaxHeaderLen]; H+P+F is at most [MaxImageLen] ([ErrTooLarge]).
// Build times lie in years 1970..9999.
//
// Model names are 1..32 bytes of ASCII letters, digits, '-', '_' and '.', compared
// without regard to case (an image for SPA942 fits a phone whose $PN is SPA942 or
// spa942); an image names each model at most once. Version strings are 1..32 bytes of
// printable ASCII without spaces, such as 5.1.18 or 5.1.15(aSC).
//
// The filler exists so that an image can have the size of a real one (an SPA942 image
// is 3–4 MB) and downloads take realistic time. It is not compressible, so a server
// that compresses responses does not shrink it. Readers must not interpret it; the
// checksum covers it. [Build] fills it with a splitmix64 stream seeded with the first
// 8 bytes (big-endian) of the SHA-256 of header bytes [0, H-32), each 64-bit output
// written little-endian, so the same inputs always give the same image.
//
// Format version 1 readers reject every other version ([ErrUnsupportedFormat]).
//
// # Use
//
// Any package of the module may import this one (the upgrader in provisioning, the
// firmware tools in cmd/spa900); it imports only the standard library. All functions
// are pure and safe for concurrent use. [Parse] checks a whole image in memory;
// [ParseHeader] reads only the header from a stream, so an upgrader can refuse a
// wrong model or an oversized image before it downloads the rest; [Inspect] reports
// the header even when the image is damaged.
package firmware
