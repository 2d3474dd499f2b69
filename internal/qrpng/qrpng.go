// Package qrpng draws QR codes as PNG images, for the "qr_png" data URL that
// the enrolment API returns with an otpauth URI (DESIGN.md section 6) and for
// activation links on web pages.
//
// The code is the one [qrterm.Matrix] encodes (error correction level M),
// drawn black on white with the quiet zone of four modules that ISO/IEC 18004
// requires, every module a square of whole pixels so that no module is
// blurred or wider than its neighbours. The PNG is 1 bit per pixel, so a code
// for an otpauth URI is well under 1 kB.
package qrpng

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/qrterm"
)

const (
	// DefaultSize is the size used when size is zero or negative.
	DefaultSize = 256
	// MaxSize bounds the size a caller may ask for.
	MaxSize = 4096
	// QuietZone is the light border around the code, in modules.
	QuietZone = qrterm.QuietZone
)

var palette = color.Palette{color.White, color.Black} // index 0 light, 1 dark

// PNG encodes text as a QR code and returns it as a PNG image of about size
// pixels square: the number of modules (quiet zone included) times the whole
// number of pixels per module nearest to size divided by the number of
// modules, at least one. The text may be a secret (an otpauth URI holds the
// seed); it never appears in an error.
func PNG(text string, size int) ([]byte, error) {
	img, err := Image(text, size)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "encoding a qr code as png: %w", err)
	}
	return buf.Bytes(), nil
}

// DataURL is [PNG] as a "data:image/png;base64,..." URL, ready for an
// <img src>.
func DataURL(text string, size int) (string, error) {
	b, err := PNG(text, size)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b), nil
}

// Image returns the QR code for text as a two-colour image, as [PNG] draws it.
func Image(text string, size int) (*image.Paletted, error) {
	if size <= 0 {
		size = DefaultSize
	}
	if size > MaxSize {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "a qr code of %d pixels is larger than the %d allowed", size, MaxSize)
	}
	m, err := qrterm.Matrix(text)
	if err != nil {
		// qrterm's message holds only the length, never the text.
		return nil, &vakt.Error{Code: vakt.CodeInvalidArgument,
			Message: fmt.Sprintf("%d bytes do not fit in a qr code", len(text)), Err: err}
	}
	modules := len(m) + 2*QuietZone
	scale := max(1, (size+modules/2)/modules)
	side := modules * scale
	img := image.NewPaletted(image.Rect(0, 0, side, side), palette)
	for y, row := range m {
		top := (y + QuietZone) * scale
		line := img.Pix[top*img.Stride : top*img.Stride+side]
		for x, dark := range row {
			if dark {
				left := (x + QuietZone) * scale
				for i := range scale {
					line[left+i] = 1
				}
			}
		}
		for i := 1; i < scale; i++ {
			copy(img.Pix[(top+i)*img.Stride:], line)
		}
	}
	return img, nil
}
