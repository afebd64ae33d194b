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
	_ "golang.org/x/image/webp"
)

// Picture limits. The pixel limits guard against decompression bombs: a
// 5 MiB PNG can claim 8000x8000 pixels (256 MB once decoded), so the
// dimensions are read from the header first and refused before decoding.
const (
	MaxPictureBytes  = 5 << 20
	MaxPictureSide   = 8000
	MaxPicturePixels = 25_000_000
	AvatarSize       = 256
)

// Messages for field "profile_picture".
const (
	MsgPictureEmpty    = "The submitted file is empty."
	MsgPictureTooLarge = "The file is too large. The maximum size is 5 MiB."
	MsgPictureInvalid  = "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
	MsgPictureTooBig   = "The image is too large. The maximum is 8000×8000 pixels."
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
	switch {
	case len(data) == 0:
		return processedPicture{}, fieldError("profile_picture", MsgPictureEmpty)
	case len(data) > MaxPictureBytes:
		return processedPicture{}, fieldError("profile_picture", MsgPictureTooLarge)
	}
	sniffed := http.DetectContentType(data)
	switch sniffed {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return processedPicture{}, fieldError("profile_picture", MsgPictureInvalid)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || "image/"+format != sniffed || cfg.Width <= 0 || cfg.Height <= 0 {
		return processedPicture{}, fieldError("profile_picture", MsgPictureInvalid)
	}
	if cfg.Width > MaxPictureSide || cfg.Height > MaxPictureSide || cfg.Width*cfg.Height > MaxPicturePixels {
		return processedPicture{}, fieldError("profile_picture", MsgPictureTooBig)
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return processedPicture{}, fieldError("profile_picture", MsgPictureInvalid)
	}
	dst := squareThumbnail(src, AvatarSize)
	var buf bytes.Buffer
	out := processedPicture{contentType: "image/png", ext: "png"}
	if format == "jpeg" {
		out = processedPicture{contentType: "image/jpeg", ext: "jpg"}
		err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 85})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, dst)
	}
	if err != nil {
		return processedPicture{}, fmt.Errorf("encode avatar: %w", err)
	}
	out.data = buf.Bytes()
	return out, nil
}

// squareThumbnail crops the largest centred square out of src and scales
// it to size×size.
func squareThumbnail(src image.Image, size int) *image.RGBA {
	b := src.Bounds()
	side := min(b.Dx(), b.Dy())
	x0 := b.Min.X + (b.Dx()-side)/2
	y0 := b.Min.Y + (b.Dy()-side)/2
	crop := image.Rect(x0, y0, x0+side, y0+side)
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	// BiLinear is a true kernel (it widens when shrinking, so no
	// aliasing) and cheaper than CatmullRom on 25-megapixel sources.
	draw.BiLinear.Scale(dst, dst.Bounds(), src, crop, draw.Src, nil)
	return dst
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
	hue := float64((uint64(userID)*2654435761)%360) / 60
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
