package user

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders the sniffed types need
	"image/jpeg"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers the WebP decoder with image.Decode

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// Picture limits. Decoding allocates the whole image (a 5 MiB PNG can
// claim 8000×8000 pixels: 256 MB), so the header is read first and an
// image refused unless both its sides are at most MaxPictureSide and
// decoding it would allocate at most MaxDecodeBytes (decodeBytes, from the
// header alone). 32 MiB admits every common phone photo (a 16-megapixel
// baseline JPEG decodes to 24 MiB) and PNGs of up to 8 megapixels (a 4K
// screenshot); with one decode per core (Service.imageSem) and the ~13 MiB
// the resize adds, pictures cost the service at most ~45 MiB per core.
const (
	MaxPictureBytes = 5 << 20
	MaxPictureSide  = 4096
	MaxDecodeBytes  = 32 << 20
	AvatarSize      = 256
)

// Messages for field "profile_picture".
const (
	MsgPictureEmpty    = "The submitted file is empty."
	MsgPictureTooLarge = "The file is too large. The maximum size is 5 MiB."
	MsgPictureInvalid  = "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
	MsgPictureTooBig   = "The image is too large. Use a smaller picture (at most 4096×4096 pixels)."
)

// processedPicture is an avatar ready to store.
type processedPicture struct {
	data        []byte
	contentType string
	ext         string
}

// processPicture sniffs, checks, decodes, center-crops and resizes an
// uploaded image to an AvatarSize square. JPEG stays JPEG (photos, no
// alpha); everything else becomes PNG so transparency survives.
func processPicture(data []byte) (processedPicture, error) {
	src, format, err := decodeUpload(data, "profile_picture")
	if err != nil {
		return processedPicture{}, err
	}
	return encodeUpload(squareThumbnail(src, AvatarSize), format)
}

// MaxImageSide bounds a post image's stored size: larger images are scaled
// down to fit MaxImageSide×MaxImageSide (a post column is far narrower).
const MaxImageSide = 1600

// processImage checks and decodes an image for a post (the same rules as a
// profile picture, field "image") and re-encodes it, scaled down to fit
// MaxImageSide when larger: nothing of the uploaded file but its pixels is
// kept (no metadata, no trailing data).
func processImage(data []byte) (processedPicture, image.Rectangle, error) {
	src, format, err := decodeUpload(data, "image")
	if err != nil {
		return processedPicture{}, image.Rectangle{}, err
	}
	dst := fitWithin(src, MaxImageSide)
	p, err := encodeUpload(dst, format)
	return p, dst.Bounds(), err
}

// decodeUpload sniffs, checks and decodes an uploaded image; errors name field.
func decodeUpload(data []byte, field string) (image.Image, string, error) {
	switch {
	case len(data) == 0:
		return nil, "", apperr.FieldError(field, MsgPictureEmpty)
	case len(data) > MaxPictureBytes:
		return nil, "", apperr.FieldError(field, MsgPictureTooLarge)
	}
	sniffed := http.DetectContentType(data)
	switch sniffed {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return nil, "", apperr.FieldError(field, MsgPictureInvalid)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || "image/"+format != sniffed || cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", apperr.FieldError(field, MsgPictureInvalid)
	}
	if cfg.Width > MaxPictureSide || cfg.Height > MaxPictureSide || decodeBytes(data, format, cfg) > MaxDecodeBytes {
		return nil, "", apperr.FieldError(field, MsgPictureTooBig)
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", apperr.FieldError(field, MsgPictureInvalid)
	}
	return src, format, nil
}

// encodeUpload encodes a processed image: JPEG stays JPEG (photos, no
// alpha); everything else becomes PNG so transparency survives.
func encodeUpload(img image.Image, format string) (processedPicture, error) {
	var buf bytes.Buffer
	var err error
	out := processedPicture{contentType: "image/png", ext: "png"}
	if format == "jpeg" {
		out = processedPicture{contentType: "image/jpeg", ext: "jpg"}
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img)
	}
	if err != nil {
		return processedPicture{}, fmt.Errorf("encode image: %w", err)
	}
	out.data = buf.Bytes()
	return out, nil
}

// fitWithin returns src scaled down to fit max×max (keeping its aspect
// ratio), or a copy of src when it already fits.
func fitWithin(src image.Image, maxSide int) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > maxSide || h > maxSide {
		if w >= h {
			w, h = maxSide, max(1, h*maxSide/w)
		} else {
			w, h = max(1, w*maxSide/h), maxSide
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if w == b.Dx() && h == b.Dy() {
		draw.Copy(dst, image.Point{}, src, b, draw.Src, nil)
		return dst
	}
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	return dst
}

// squareThumbnail crops the largest centred square out of src and scales
// it to size×size.
func squareThumbnail(src image.Image, size int) *image.RGBA {
	b := src.Bounds()
	side := min(b.Dx(), b.Dy())
	x0 := b.Min.X + (b.Dx()-side)/2
	y0 := b.Min.Y + (b.Dy()-side)/2
	crop := image.Rect(x0, y0, x0+side, y0+side)
	// BiLinear is a true kernel (it widens when shrinking, so no aliasing)
	// but keeps a buffer of size × side × 32 bytes (33 MiB for a side of
	// 4096). From a large source, a cheap approximate pass (no buffer)
	// first brings it to 4×size, so the buffer stays at 8 MiB and the
	// kernel still averages 4×4 samples into each avatar pixel.
	if side > 4*size {
		mid := image.NewRGBA(image.Rect(0, 0, 4*size, 4*size))
		draw.ApproxBiLinear.Scale(mid, mid.Bounds(), src, crop, draw.Src, nil)
		src, crop = mid, mid.Bounds()
	}
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.BiLinear.Scale(dst, dst.Bounds(), src, crop, draw.Src, nil)
	return dst
}

// decodeBytes is an upper bound, from the header alone, of what decoding
// the image allocates, following what Go's decoders allocate:
//   - JPEG: one byte per sample (chroma may be subsampled), plus four per
//     sample for a progressive JPEG's coefficients, plus four per pixel
//     when RGB or CMYK is converted to a 4-byte-per-pixel image;
//   - PNG: the colour model's bytes per pixel, twice for an interlaced
//     PNG (each pass is decoded on its own, then merged);
//   - GIF: one byte per pixel (only the first frame is decoded);
//   - WebP: 8 bytes per pixel (a lossless image is decoded to 4 bytes per
//     pixel and may be expanded once more from a palette).
func decodeBytes(data []byte, format string, cfg image.Config) int64 {
	w, h := int64(cfg.Width), int64(cfg.Height)
	switch format {
	case "jpeg":
		l := readJPEGLayout(data)
		// Planes are padded to whole MCUs (8×8 blocks per sampling unit).
		mcuW, mcuH := 8*l.maxH, 8*l.maxV
		w, h = (w+mcuW-1)/mcuW*mcuW, (h+mcuH-1)/mcuH*mcuH
		perUnit := l.samples // bytes per sampling unit of maxH×maxV pixels
		if l.progressive {
			perUnit *= 5
		}
		n := w * h * perUnit / (l.maxH * l.maxV)
		if cfg.ColorModel == color.RGBAModel || cfg.ColorModel == color.CMYKModel {
			n += 4 * w * h
		}
		return n
	case "png":
		n := w * h * pngBytesPerPixel(cfg.ColorModel)
		if len(data) > 28 && data[28] != 0 { // IHDR's interlace method: Adam7
			n *= 2
		}
		return n
	case "gif":
		return w * h
	}
	return 8 * w * h
}

func pngBytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.RGBAModel, color.NRGBAModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8 // RGBA64, NRGBA64
}

// jpegLayout is what a JPEG's frame header says about its planes.
type jpegLayout struct {
	samples     int64 // samples per sampling unit, over all components (Σ h·v)
	maxH, maxV  int64 // the sampling unit in pixels: the largest factors
	progressive bool
}

// readJPEGLayout walks the marker segments up to the frame header (SOFn).
// When it cannot read one, it assumes the costliest layout a JPEG can
// have: progressive, four full-resolution components.
func readJPEGLayout(data []byte) jpegLayout {
	worst := jpegLayout{samples: 4, maxH: 1, maxV: 1, progressive: true}
	for i := 2; i+4 <= len(data); { // after SOI
		if data[i] != 0xFF {
			return worst
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0x01 || marker >= 0xD0 && marker <= 0xD8: // TEM, RSTn, SOI: no length
			i += 2
			continue
		}
		n := int(data[i+2])<<8 | int(data[i+3]) // segment length, itself included
		isSOF := marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
		if !isSOF {
			i += 2 + n
			continue
		}
		seg := data[i+4 : min(len(data), i+2+n)]
		if len(seg) < 6 {
			return worst
		}
		comps := int(seg[5])
		if comps < 1 || len(seg) < 6+3*comps {
			return worst
		}
		l := jpegLayout{maxH: 1, maxV: 1, progressive: marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE}
		for c := range comps {
			hv := seg[6+3*c+1]
			ch, cv := int64(hv>>4), int64(hv&0x0F)
			l.samples += ch * cv
			l.maxH, l.maxV = max(l.maxH, ch), max(l.maxV, cv)
		}
		return l
	}
	return worst
}

// imageKey is the immutable, content-addressed media key of a post image.
func imageKey(userID int64, p processedPicture) (key, etag string) {
	sum := sha256.Sum256(p.data)
	h := hex.EncodeToString(sum[:])
	return "images/" + strconv.FormatInt(userID, 10) + "/" + h[:16] + "." + p.ext, `"` + h[:32] + `"`
}

// avatarKey is the immutable, content-addressed media key of a picture.
func avatarKey(userID int64, p processedPicture) (key, etag string) {
	sum := sha256.Sum256(p.data)
	h := hex.EncodeToString(sum[:])
	return "avatars/" + strconv.FormatInt(userID, 10) + "/" + h[:16] + "." + p.ext, `"` + h[:32] + `"`
}

// parseDefaultAvatarKey returns the user id of "avatars/default/<id>.svg".
func parseDefaultAvatarKey(key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, "avatars/default/")
	if !ok {
		return 0, false
	}
	idStr, ok := strings.CutSuffix(rest, ".svg")
	if !ok || idStr == "" || idStr[0] == '0' || idStr[0] == '+' {
		return 0, false
	}
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// DefaultAvatarSVG draws the initial of name on a colour derived from the
// user id. The initial is XML-escaped: nicknames are user input.
func DefaultAvatarSVG(userID int64, name string) []byte {
	initial := "?"
	if r, _ := utf8.DecodeRuneInString(strings.TrimSpace(name)); r != utf8.RuneError && unicode.IsPrint(r) {
		initial = string(unicode.ToUpper(r))
	}
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, []byte(initial)) // writes to a buffer: cannot fail
	bg := avatarColor(userID)
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">`+
		`<rect width="256" height="256" fill="#%02x%02x%02x"/>`+
		`<text x="128" y="128" dy=".35em" text-anchor="middle" font-family="sans-serif" font-size="128" fill="#ffffff">%s</text>`+
		`</svg>`, bg.R, bg.G, bg.B, esc.String())
}

// avatarColor picks a stable, mid-dark colour (white text stays readable)
// from the user id by spreading ids over the hue circle.
func avatarColor(userID int64) color.RGBA {
	hue := float64((uint64(userID)*2654435761)%360) / 60 //nolint:gosec // G115: hashes the bits of a positive id

	const c, m = 0.45, 0.2 // chroma and offset: saturation ~70%, lightness ~42%
	x := c * (1 - abs(mod2(hue)-1))
	var r, g, b float64
	switch int(hue) {
	case 0:
		r, g = c, x
	case 1:
		r, g = x, c
	case 2:
		g, b = c, x
	case 3:
		g, b = x, c
	case 4:
		r, b = x, c
	default:
		r, b = c, x
	}
	to8 := func(v float64) uint8 { return uint8((v + m) * 255) }
	return color.RGBA{R: to8(r), G: to8(g), B: to8(b), A: 255}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func mod2(f float64) float64 { return f - 2*float64(int(f/2)) }
