package media

import "github.com/zaf/g711"

// G.711 encoding by table: µ-law quantises the top 14 bits of a 16-bit sample, A-law the top
// 13, so a table of each law's code for every such value (24 KiB, built once from zaf/g711,
// the codec library) encodes a sample with one load instead of zaf's per-sample arithmetic.
// TestG711Tables checks every 16-bit sample against zaf/g711.
var (
	ulawTable = func() (t [1 << 14]byte) {
		for i := range t {
			t[i] = g711.EncodeUlawFrame(int16(uint16(i) << 2))
		}
		return t
	}()
	alawTable = func() (t [1 << 13]byte) {
		for i := range t {
			t[i] = g711.EncodeAlawFrame(int16(uint16(i) << 3))
		}
		return t
	}()
)

// The decoding tables (the 256 codes of each law, from zaf/g711).
var (
	ulawDecode = func() (t [256]int16) {
		for i := range t {
			t[i] = g711.DecodeUlawFrame(uint8(i))
		}
		return t
	}()
	alawDecode = func() (t [256]int16) {
		for i := range t {
			t[i] = g711.DecodeAlawFrame(uint8(i))
		}
		return t
	}()
)

// decodeTable returns the law's decoding table.
func decodeTable(c Codec) *[256]int16 {
	if c == CodecPCMA {
		return &alawDecode
	}
	return &ulawDecode
}

// encode writes the G.711 code of each sample (ITU-T G.711).
func encode(c Codec, pcm []int16, out []byte) {
	out = out[:len(pcm)]
	if c == CodecPCMA {
		for i, v := range pcm {
			out[i] = alawTable[uint16(v)>>3]
		}
		return
	}
	for i, v := range pcm {
		out[i] = ulawTable[uint16(v)>>2]
	}
}

// decodeSample returns the linear sample of one G.711 code.
func decodeSample(c Codec, b byte) int16 {
	if c == CodecPCMA {
		return g711.DecodeAlawFrame(b)
	}
	return g711.DecodeUlawFrame(b)
}

// Decode converts G.711 codes to linear samples (for tests and tools reading recordings).
func Decode(c Codec, codes []byte) []int16 {
	out := make([]int16, len(codes))
	for i, b := range codes {
		out[i] = decodeSample(c, b)
	}
	return out
}
