package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/zaf/g711"
)

// ReadWAV reads a RIFF WAVE file (PCM 8/16/24/32-bit, IEEE float, G.711 A-law or µ-law; mono
// or multi-channel; any sample rate) and converts it to 8 kHz mono: channels are averaged,
// the rate converted by a windowed-sinc low-pass resampler (so a 48 kHz file does not alias
// into the telephone band).
func ReadWAV(r io.Reader) (*PCM, error) {
	var riff [12]byte
	if _, err := io.ReadFull(r, riff[:]); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadWAV, err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: not RIFF/WAVE", ErrBadWAV)
	}
	var (
		format, channels, bits uint16
		rate                   uint32
		haveFmt                bool
	)
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, fmt.Errorf("%w: no data chunk: %w", ErrBadWAV, err)
		}
		size := binary.LittleEndian.Uint32(ch[4:])
		switch string(ch[0:4]) {
		case "fmt ":
			if size < 16 || size > 1<<16 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrBadWAV, size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadWAV, err)
			}
			format = binary.LittleEndian.Uint16(b[0:])
			channels = binary.LittleEndian.Uint16(b[2:])
			rate = binary.LittleEndian.Uint32(b[4:])
			bits = binary.LittleEndian.Uint16(b[14:])
			if format == 0xfffe && size >= 40 { // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID's first two bytes
				format = binary.LittleEndian.Uint16(b[24:])
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data before fmt", ErrBadWAV)
			}
			return decodeWAV(io.LimitReader(r, int64(size)), format, channels, bits, rate)
		default:
			if _, err := io.CopyN(io.Discard, r, int64(size)+int64(size%2)); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadWAV, err)
			}
		}
	}
}

func decodeWAV(r io.Reader, format, channels, bits uint16, rate uint32) (*PCM, error) {
	if channels == 0 || channels > 8 || rate < 1000 || rate > 384000 {
		return nil, fmt.Errorf("%w: %d channels at %d Hz", ErrBadWAV, channels, rate)
	}
	var width int
	switch {
	case format == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32):
		width = int(bits) / 8
	case format == 3 && bits == 32:
		width = 4
	case (format == 6 || format == 7) && bits == 8:
		width = 1
	default:
		return nil, fmt.Errorf("%w: format %d with %d bits is not PCM, float or G.711", ErrBadWAV, format, bits)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadWAV, err)
	}
	frameBytes := width * int(channels)
	frames := len(data) / frameBytes
	mono := make([]float64, frames)
	for i := 0; i < frames; i++ {
		var sum float64
		for c := 0; c < int(channels); c++ {
			b := data[i*frameBytes+c*width:]
			var v float64
			switch {
			case format == 6:
				v = float64(g711.DecodeAlawFrame(b[0]))
			case format == 7:
				v = float64(g711.DecodeUlawFrame(b[0]))
			case format == 3:
				v = float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) * 32768
			case width == 1:
				v = (float64(b[0]) - 128) * 256
			case width == 2:
				v = float64(int16(binary.LittleEndian.Uint16(b)))
			case width == 3:
				v = float64(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)) / 65536
			default:
				v = float64(int32(binary.LittleEndian.Uint32(b))) / 65536
			}
			sum += v
		}
		mono[i] = sum / float64(channels)
	}
	out := resample(mono, float64(rate), clockRate)
	p := &PCM{Samples: make([]int16, len(out))}
	for i, v := range out {
		p.Samples[i] = sat16(int32(math.Round(v)))
	}
	return p, nil
}

// resample converts x from rate in to rate out with a Kaiser-windowed sinc (β = 8, 16 zero
// crossings each side at the lower rate, cutoff at 0.95 of its Nyquist frequency). The kernel
// is tabulated at 1/128 of a zero crossing and linearly interpolated.
func resample(x []float64, in, out float64) []float64 {
	if in == out {
		return x
	}
	ratio := out / in
	fc := 0.95 * 0.5 * math.Min(1, ratio) // cutoff in cycles per input sample
	const zeros, res = 16, 128
	half := float64(zeros) / (2 * fc) // kernel half-width in input samples
	table := make([]float64, zeros*res+2)
	const beta = 8.0
	i0b := besselI0(beta)
	for i := range table {
		t := float64(i) / res // in zero crossings of the kernel
		if t > zeros {
			break
		}
		u := t / zeros
		w := besselI0(beta*math.Sqrt(1-u*u)) / i0b
		table[i] = 2 * fc * sinc(t) * w
	}
	n := int(math.Floor(float64(len(x)) * ratio))
	y := make([]float64, n)
	for j := range y {
		center := float64(j) / ratio
		lo := int(math.Ceil(center - half))
		hi := int(math.Floor(center + half))
		var acc float64
		for k := max(lo, 0); k <= hi && k < len(x); k++ {
			t := math.Abs(center-float64(k)) * 2 * fc * res
			ti := int(t)
			if ti >= len(table)-1 {
				continue
			}
			frac := t - float64(ti)
			acc += x[k] * (table[ti] + frac*(table[ti+1]-table[ti]))
		}
		y[j] = acc
	}
	return y
}

func sinc(t float64) float64 {
	if t == 0 {
		return 1
	}
	return math.Sin(math.Pi*t) / (math.Pi * t)
}

// besselI0 is the modified Bessel function of the first kind, order 0 (power series).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

// wavWriter records 8 kHz mono 16-bit PCM; the header's sizes are written at close.
type wavWriter struct {
	w   io.WriteSeeker
	bw  *bufio.Writer
	n   int64
	err error
	tmp [2 * maxFrame]byte
}

func newWAVWriter(w io.WriteSeeker) (*wavWriter, error) {
	ww := &wavWriter{w: w, bw: bufio.NewWriterSize(w, 64<<10)}
	var h [44]byte
	copy(h[0:], "RIFF")
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], clockRate)
	binary.LittleEndian.PutUint32(h[28:], clockRate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	if _, err := ww.bw.Write(h[:]); err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	return ww, nil
}

func (ww *wavWriter) write(x []int16) {
	if ww.err != nil {
		return
	}
	for i, v := range x {
		binary.LittleEndian.PutUint16(ww.tmp[2*i:], uint16(v))
	}
	_, ww.err = ww.bw.Write(ww.tmp[:2*len(x)])
	ww.n += int64(2 * len(x))
}

func (ww *wavWriter) close() error {
	err := ww.err
	if ferr := ww.bw.Flush(); err == nil {
		err = ferr
	}
	var b [4]byte
	patch := func(off int64, v uint32) {
		if err != nil {
			return
		}
		binary.LittleEndian.PutUint32(b[:], v)
		if _, err = ww.w.Seek(off, io.SeekStart); err == nil {
			_, err = ww.w.Write(b[:])
		}
	}
	patch(4, uint32(36+ww.n))
	patch(40, uint32(ww.n))
	if c, ok := ww.w.(io.Closer); ok {
		err = errors.Join(err, c.Close())
	}
	if err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	return nil
}

// Record writes what the session receives (rx) and sends (tx) as 8 kHz mono WAV; either may be
// nil. A recording already running is finished first. The writers are closed (if they are
// io.Closers) when recording stops: [Session.StopRecording] or Close.
func (s *Session) Record(rx, tx io.WriteSeeker) error {
	var wrx, wtx *wavWriter
	var err error
	if rx != nil {
		if wrx, err = newWAVWriter(rx); err != nil {
			return err
		}
	}
	if tx != nil {
		if wtx, err = newWAVWriter(tx); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	err = s.stopRecordingLocked()
	s.recRx, s.recTx = wrx, wtx
	return err
}

// StopRecording finishes the session's recordings (WAV headers written, files closed).
func (s *Session) StopRecording() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopRecordingLocked()
}

func (s *Session) stopRecordingLocked() error {
	var err error
	if s.recRx != nil {
		err = s.recRx.close()
	}
	if s.recTx != nil {
		err = errors.Join(err, s.recTx.close())
	}
	s.recRx, s.recTx = nil, nil
	return err
}
