package media

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/zaf/g711"
)

// TestSpectrumMatchesTheDFT: the packed half-size FFT of the frequency estimate gives the
// Hann-windowed window's spectrum, bin by bin, as a direct DFT does.
func TestSpectrumMatchesTheDFT(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var a analyzer
	a.init(-55)
	for trial := 0; trial < 3; trial++ {
		for i := range a.win {
			v := math.Round(8000*math.Sin(2*math.Pi*float64(300+700*trial)*float64(i)/clockRate) + 2000*rnd.NormFloat64())
			a.win[i] = int16(max(-32768, min(32767, v)))
		}
		var spec [fftHalf]complex128
		a.spectrum(&spec)
		var peak float64
		for k := 1; k < fftHalf; k++ {
			var want complex128
			for n, v := range a.win {
				want += complex(float64(v)*hann[n], 0) * cmplx.Rect(1, -2*math.Pi*float64(k*n)/fftSize)
			}
			peak = max(peak, cmplx.Abs(want))
			if d := cmplx.Abs(spec[k] - want); d > 1e-6*peak+1e-6 {
				t.Fatalf("trial %d bin %d: %v, the DFT %v", trial, k, spec[k], want)
			}
		}
	}
}

// TestDominantFrequency: the estimate of a pure tone is within a few hertz of it.
func TestDominantFrequency(t *testing.T) {
	for _, hz := range []float64{350, 440, 697, 1000, 1633, 3000} {
		var a analyzer
		a.init(-55)
		for i := range a.win {
			a.win[i] = int16(math.Round(10000 * math.Sin(2*math.Pi*hz*float64(i)/clockRate)))
		}
		if got := a.dominant(); math.Abs(got-hz) > 3 {
			t.Errorf("%v Hz: estimated %.2f Hz", hz, got)
		}
	}
}

// TestG711Tables: the encoding tables give zaf/g711's code for every 16-bit sample.
func TestG711Tables(t *testing.T) {
	var pcm [1 << 16]int16
	for i := range pcm {
		pcm[i] = int16(uint16(i))
	}
	var u, a [1 << 16]byte
	encode(CodecPCMU, pcm[:], u[:])
	encode(CodecPCMA, pcm[:], a[:])
	for i, v := range pcm {
		if want := g711.EncodeUlawFrame(v); u[i] != want {
			t.Fatalf("µ-law %d: %#x, zaf %#x", v, u[i], want)
		}
		if want := g711.EncodeAlawFrame(v); a[i] != want {
			t.Fatalf("A-law %d: %#x, zaf %#x", v, a[i], want)
		}
	}
}
