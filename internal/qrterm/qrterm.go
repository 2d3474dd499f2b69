// Package qrterm draws QR codes in a terminal with Unicode half blocks, so
// that `vakt demo` (and later `vakt device`) can show an otpauth URI that a
// phone scans straight off the screen.
//
// # Which way round
//
// A dark module is drawn with the terminal's foreground (a block character)
// and a light module with its background (a space). Each character cell holds
// two modules, one above the other:
//
//	upper  lower  cell
//	dark   dark   █ U+2588 FULL BLOCK
//	dark   light  ▀ U+2580 UPPER HALF BLOCK
//	light  dark   ▄ U+2584 LOWER HALF BLOCK
//	light  light  " " (space)
//
// On a dark-on-light terminal (black text on white) this is the ordinary QR
// code. On a light-on-dark terminal (the usual default) the same characters
// show its reflectance-reversed image, light modules on dark, which ISO/IEC
// 18004:2015 allows and which the iOS and Android cameras, Google Lens and
// ZXing-based scanners read. No colour escapes are written, so the output
// stays plain text that can be piped, pasted or kept in a golden file.
// (`qrencode -t UTF8` chooses the other way round: it draws light modules as
// blocks, which is the ordinary code only on a light-on-dark terminal.)
//
// The quiet zone of four modules that the standard requires is printed as
// background on every side, trailing spaces included, so that the code is
// surrounded by the same colour as its light modules whichever way round the
// terminal is. A code has an odd number of rows, so the lower half of the last
// character row is background too: half a module more of quiet zone.
package qrterm

import (
	"bufio"
	"fmt"
	"io"

	"github.com/boombuler/barcode/qr"
)

// QuietZone is the width of the light border drawn around the code, in
// modules (ISO/IEC 18004 requires four).
const QuietZone = 4

// The characters for a pair of modules (upper, lower), dark as foreground.
const (
	both  = '█'
	upper = '▀'
	lower = '▄'
	none  = ' '
)

// Matrix encodes text as a QR code with error correction level M (15% of the
// code can be damaged) and returns its modules, without the quiet zone:
// m[y][x] is true for a dark module. The matrix is square; the version (and so
// the size) is the smallest that holds text.
func Matrix(text string) ([][]bool, error) {
	bc, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("qrterm: %d bytes do not fit in a QR code at error correction level M: %w", len(text), err)
	}
	b := bc.Bounds()
	m := make([][]bool, b.Dy())
	for y := range m {
		m[y] = make([]bool, b.Dx())
		for x := range m[y] {
			r, g, bl, _ := bc.At(b.Min.X+x, b.Min.Y+y).RGBA()
			m[y][x] = r+g+bl < 3*0x8000
		}
	}
	return m, nil
}

// Render encodes text as with [Matrix] and writes it to w as lines of half
// blocks with the quiet zone around it. Each line ends in "\n".
func Render(w io.Writer, text string) error {
	m, err := Matrix(text)
	if err != nil {
		return err
	}
	return write(w, m)
}

// write draws a module matrix (without quiet zone) as half blocks.
func write(w io.Writer, m [][]bool) error {
	n := len(m)
	size := n + 2*QuietZone
	dark := func(x, y int) bool {
		x, y = x-QuietZone, y-QuietZone
		return y >= 0 && y < n && x >= 0 && x < len(m[y]) && m[y][x]
	}
	bw := bufio.NewWriter(w)
	for y := 0; y < size; y += 2 {
		for x := 0; x < size; x++ {
			c := none
			switch top, bottom := dark(x, y), dark(x, y+1); {
			case top && bottom:
				c = both
			case top:
				c = upper
			case bottom:
				c = lower
			}
			bw.WriteRune(c)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
