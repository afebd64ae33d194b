package user

import (
	"bytes"
	"encoding/xml"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

func encodePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.NRGBA{R: uint8(x), G: uint8(y), B: 100, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngHeaderClaiming returns a PNG whose header claims w×h but whose data is
// a tiny image: DecodeConfig sees the claim, a decoder would allocate it.
func pngHeaderClaiming(t *testing.T, w, h uint32) []byte {
	t.Helper()
	b := encodePNG(t, 1, 1)
	// IHDR data starts after the 8-byte signature, 4-byte length and 4-byte type.
	put := func(off int, v uint32) {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	put(16, w)
	put(20, h)
	put(29, crc32.ChecksumIEEE(b[12:29])) // IHDR's CRC covers type and data
	return b
}

// interlaced marks a PNG's header Adam7-interlaced.
func interlaced(b []byte) []byte {
	b = bytes.Clone(b)
	b[28] = 1
	crc := crc32.ChecksumIEEE(b[12:29])
	b[29], b[30], b[31], b[32] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return b
}

func TestProcessPicture(t *testing.T) {
	t.Parallel()
	var jpg, gf bytes.Buffer
	src := image.NewRGBA(image.Rect(0, 0, 300, 120))
	if err := jpeg.Encode(&jpg, src, nil); err != nil {
		t.Fatal(err)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 10, 40), color.Palette{color.Black, color.White})
	if err := gif.Encode(&gf, pal, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		data     []byte
		wantType string // "" means rejected
		wantMsg  string
	}{
		{"png", encodePNG(t, 400, 300), "image/png", ""},
		{"jpeg stays jpeg", jpg.Bytes(), "image/jpeg", ""},
		{"gif becomes png", gf.Bytes(), "image/png", ""},
		{"empty", nil, "", MsgPictureEmpty},
		{"too many bytes", make([]byte, MaxPictureBytes+1), "", MsgPictureTooLarge},
		{"not an image", []byte("<svg xmlns='http://www.w3.org/2000/svg'></svg>"), "", MsgPictureInvalid},
		{"truncated png", encodePNG(t, 50, 50)[:60], "", MsgPictureInvalid},
		{"decompression bomb", pngHeaderClaiming(t, 8001, 10), "", MsgPictureTooBig},
		{"too many pixels", pngHeaderClaiming(t, 7000, 7000), "", MsgPictureTooBig},
		{"5000x5000", pngHeaderClaiming(t, 5000, 5000), "", MsgPictureTooBig},
		// 4096×4096 RGBA decodes to 64 MiB; 2000×2000 to 15 MiB, twice
		// that when interlaced, 2100×2100 interlaced to 34 MiB. (The
		// claims pass the size check, then fail to decode: MsgPictureInvalid.)
		{"4096x4096 RGBA", pngHeaderClaiming(t, 4096, 4096), "", MsgPictureTooBig},
		{"2000x2000 RGBA", pngHeaderClaiming(t, 2000, 2000), "", MsgPictureInvalid},
		{"2000x2000 RGBA interlaced", interlaced(pngHeaderClaiming(t, 2000, 2000)), "", MsgPictureInvalid},
		{"2100x2100 RGBA interlaced", interlaced(pngHeaderClaiming(t, 2100, 2100)), "", MsgPictureTooBig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := processPicture(tc.data)
			if tc.wantType == "" {
				var e *apperr.Error
				ok := errors.As(err, &e)
				if !ok || e.Code != apperr.CodeInvalid || len(e.Fields["profile_picture"]) != 1 || e.Fields["profile_picture"][0] != tc.wantMsg {
					t.Fatalf("err = %v, want profile_picture %q", err, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.contentType != tc.wantType {
				t.Errorf("content type = %q, want %q", got.contentType, tc.wantType)
			}
			cfg, _, err := image.DecodeConfig(bytes.NewReader(got.data))
			if err != nil || cfg.Width != AvatarSize || cfg.Height != AvatarSize {
				t.Errorf("output = %dx%d (%v), want %dx%d", cfg.Width, cfg.Height, err, AvatarSize, AvatarSize)
			}
		})
	}
}

func TestReadJPEGLayout(t *testing.T) {
	t.Parallel()
	color420 := encodeJPEG(t, photo(40, 24)) // Go's encoder subsamples chroma 4:2:0
	var gray bytes.Buffer
	if err := jpeg.Encode(&gray, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	worst := jpegLayout{samples: 4, maxH: 1, maxV: 1, progressive: true}
	for name, tc := range map[string]struct {
		data []byte
		want jpegLayout
	}{
		"4:2:0":             {color420, jpegLayout{samples: 6, maxH: 2, maxV: 2}},
		"4:2:0 progressive": {markProgressive(t, color420), jpegLayout{samples: 6, maxH: 2, maxV: 2, progressive: true}},
		"gray":              {gray.Bytes(), jpegLayout{samples: 1, maxH: 1, maxV: 1}},
		"no frame header":   {color420[:20], worst},
		"garbage":           {[]byte{0xFF, 0xD8, 0x12, 0x34, 0x56}, worst},
		"truncated segment": {[]byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08}, worst},
	} {
		if got := readJPEGLayout(tc.data); got != tc.want {
			t.Errorf("%s: %+v, want %+v", name, got, tc.want)
		}
	}
}

func TestAvatarKeyIsContentAddressed(t *testing.T) {
	t.Parallel()
	a, _ := processPicture(encodePNG(t, 64, 64))
	k1, e1 := avatarKey(7, a)
	k2, e2 := avatarKey(7, a)
	if k1 != k2 || e1 != e2 || !strings.HasPrefix(k1, "avatars/7/") || !strings.HasSuffix(k1, ".png") {
		t.Errorf("keys %q %q etags %q %q; want equal avatars/7/<hash>.png", k1, k2, e1, e2)
	}
}

func TestDefaultAvatarSVG(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, nickname, wantText string
	}{
		{"latin", "alice", "A"},
		{"hangul", "코브라", "코"},
		{"markup is escaped", "<script>", "<"},
		{"ampersand", "&amp", "&"},
		{"empty", "", "?"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svg := DefaultAvatarSVG(12, tc.nickname)
			// A well-formed document whose text is exactly the initial
			// proves the escaping.
			var doc struct {
				Rect struct {
					Fill string `xml:"fill,attr"`
				} `xml:"rect"`
				Text string `xml:"text"`
			}
			if err := xml.Unmarshal(svg, &doc); err != nil {
				t.Fatalf("not well-formed XML: %v\n%s", err, svg)
			}
			if doc.Text != tc.wantText {
				t.Errorf("text = %q, want %q", doc.Text, tc.wantText)
			}
			if len(doc.Rect.Fill) != 7 || doc.Rect.Fill[0] != '#' {
				t.Errorf("fill = %q, want #rrggbb", doc.Rect.Fill)
			}
		})
	}
	if string(DefaultAvatarSVG(1, "a")) == string(DefaultAvatarSVG(2, "a")) {
		t.Error("users 1 and 2 got the same avatar; want colours derived from the id")
	}
}

func TestParseDefaultAvatarKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key    string
		wantID int64
		wantOK bool
	}{
		{"avatars/default/12.svg", 12, true},
		{"avatars/default/012.svg", 0, false},
		{"avatars/default/-1.svg", 0, false},
		{"avatars/default/12.png", 0, false},
		{"avatars/12/abc.png", 0, false},
		{"avatars/default/.svg", 0, false},
	}
	for _, tc := range tests {
		id, ok := parseDefaultAvatarKey(tc.key)
		if id != tc.wantID || ok != tc.wantOK {
			t.Errorf("parseDefaultAvatarKey(%q) = %d, %v; want %d, %v", tc.key, id, ok, tc.wantID, tc.wantOK)
		}
	}
}

func TestProcessImage(t *testing.T) {
	for _, tc := range []struct {
		name       string
		data       []byte
		wantW      int
		wantH      int
		wantFormat string
	}{
		{"small PNG kept at its size", encodePNG(t, 300, 200), 300, 200, "png"},
		{"wide PNG fits 1600", encodePNG(t, 3200, 800), 1600, 400, "png"},
		{"tall PNG fits 1600", encodePNG(t, 500, 4000), 200, 1600, "png"},
	} {
		p, size, err := processImage(tc.data)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(p.data))
		if err != nil || format != tc.wantFormat || cfg.Width != tc.wantW || cfg.Height != tc.wantH || size.Dx() != tc.wantW || size.Dy() != tc.wantH {
			t.Errorf("%s: got %s %dx%d (reported %v), err %v; want %s %dx%d", tc.name, format, cfg.Width, cfg.Height, size, err, tc.wantFormat, tc.wantW, tc.wantH)
		}
	}
	// Bytes after the image are not stored: only the pixels are re-encoded.
	p, _, err := processImage(append(encodePNG(t, 40, 40), "<script>alert(1)</script>"...))
	if err != nil || bytes.Contains(p.data, []byte("script")) {
		t.Errorf("trailing data: err %v, kept %v", err, bytes.Contains(p.data, []byte("script")))
	}
	// Errors name the field "image".
	_, _, err = processImage([]byte("\x89PNG\r\n\x1a\nnot really a png"))
	var ae *apperr.Error
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "image") {
		t.Errorf("fake PNG: got %v, want a field error on image", err)
	}
	if key, _ := imageKey(7, p); !strings.HasPrefix(key, "images/7/") || !strings.HasSuffix(key, ".png") {
		t.Errorf("imageKey: %q", key)
	}
}
