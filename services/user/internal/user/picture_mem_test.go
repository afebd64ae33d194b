package user

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// photo is a w×h image with some detail, so that encoders cannot shrink
// it to nothing.
func photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x), G: uint8(y), B: uint8(x ^ y), A: 255})
		}
	}
	return img
}

func encodeJPEG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 50}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func encodeFastPNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// markProgressive turns a baseline JPEG's frame header (SOF0) into a
// progressive one's (SOF2): the header then promises the costlier decode.
func markProgressive(tb testing.TB, data []byte) []byte {
	tb.Helper()
	out := bytes.Clone(data)
	i := bytes.Index(out, []byte{0xFF, 0xC0})
	if i < 0 {
		tb.Fatal("no SOF0 in the JPEG")
	}
	out[i+1] = 0xC2
	return out
}

// allocated returns the bytes allocated while f ran: an upper bound of
// how much the heap grew. Only meaningful while no other test runs (this
// package's memory tests are not parallel).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestPictureMemoryBounded: images whose decode would cost more than
// MaxDecodeBytes (5000×5000, or a progressive JPEG) are refused from their
// header with next to no allocation, and the largest accepted ones
// allocate at most MaxDecodeBytes plus the resize's fixed ~13 MiB.
// (Before the bound: a 5000×5000 PNG allocated 143 MB, a JPEG 79 MB.)
func TestPictureMemoryBounded(t *testing.T) {
	big := photo(5000, 5000)
	allowed := photo(2896, 2896) // 4 bytes per pixel in PNG: 32 MiB
	tests := []struct {
		name     string
		data     []byte
		accepted bool
	}{
		{"5000x5000 png", encodeFastPNG(t, big), false},
		{"5000x5000 jpeg", encodeJPEG(t, big), false},
		{"4096x4096 jpeg", encodeJPEG(t, big.SubImage(image.Rect(0, 0, 4096, 4096))), true},
		{"2896x2896 png", encodeFastPNG(t, allowed), true},
		{"2896x2896 progressive jpeg", markProgressive(t, encodeJPEG(t, allowed)), false},
	}
	// big and allowed are dead from here, so allocated's runtime.GC frees them.
	const resize = 16 << 20 // the 1024² intermediate, the kernel's buffer, the avatar and its encoding
	for _, tc := range tests {
		var err error
		n := allocated(func() { _, err = processPicture(tc.data) })
		t.Logf("%s (%d KiB): %v, %.1f MiB allocated", tc.name, len(tc.data)>>10, err, float64(n)/(1<<20))
		switch {
		case tc.accepted && err != nil:
			t.Errorf("%s: %v, want it accepted", tc.name, err)
		case tc.accepted && n > MaxDecodeBytes+resize:
			t.Errorf("%s: %d MiB allocated, want at most %d", tc.name, n>>20, (MaxDecodeBytes+resize)>>20)
		case !tc.accepted:
			var e *apperr.Error
			ok := errors.As(err, &e)
			if !ok || len(e.Fields["profile_picture"]) != 1 || e.Fields["profile_picture"][0] != MsgPictureTooBig {
				t.Errorf("%s: %v, want profile_picture %q", tc.name, err, MsgPictureTooBig)
			}
			if n > 1<<20 {
				t.Errorf("%s: %d KiB allocated before refusing, want < 1 MiB (refused from the header)", tc.name, n>>10)
			}
		}
	}
}

// BenchmarkProcessPicture5000: B/op is what processing one 5000×5000
// upload allocates (refused from its header since MaxDecodeBytes).
func BenchmarkProcessPicture5000(b *testing.B) {
	img := photo(5000, 5000)
	for name, data := range map[string][]byte{"png": encodeFastPNG(b, img), "jpeg": encodeJPEG(b, img)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = processPicture(data)
			}
		})
	}
}
