package media

import "github.com/zaf/g711"

// encode writes the G.711 code of each sample (ITU-T G.711 via zaf/g711's tables).
func encode(c Codec, pcm []int16, out []byte) {
	if c == CodecPCMA {
		for i, v := range pcm {
			out[i] = g711.EncodeAlawFrame(v)
		}
		return
	}
	for i, v := range pcm {
		out[i] = g711.EncodeUlawFrame(v)
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
