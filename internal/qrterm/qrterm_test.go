package qrterm_test

import (
	"bytes"
	"image/color"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/boombuler/barcode/qr"

	"github.com/vaktmfa/vakt/internal/qrterm"
)

// parse reads Render's output back into a module matrix, quiet zone included.
// It fails the test on any character other than the four half-block cells
// and on ragged lines.
func parse(t *testing.T, out string) [][]bool {
	t.Helper()
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end in a newline: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	width := utf8.RuneCountInString(lines[0])
	var m [][]bool
	for i, line := range lines {
		if n := utf8.RuneCountInString(line); n != width {
			t.Fatalf("line %d has %d cells, line 0 has %d", i, n, width)
		}
		top, bottom := make([]bool, 0, width), make([]bool, 0, width)
		for _, r := range line {
			var u, l bool
			switch r {
			case '█':
				u, l = true, true
			case '▀':
				u = true
			case '▄':
				l = true
			case ' ':
			default:
				t.Fatalf("line %d: unexpected character %q", i, r)
			}
			top, bottom = append(top, u), append(bottom, l)
		}
		m = append(m, top, bottom)
	}
	return m
}

// reference returns the barcode library's own modules, m[y][x] dark.
func reference(t *testing.T, text string) [][]bool {
	t.Helper()
	bc, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	b := bc.Bounds()
	m := make([][]bool, b.Dy())
	for y := range m {
		m[y] = make([]bool, b.Dx())
		for x := range m[y] {
			m[y][x] = bc.At(b.Min.X+x, b.Min.Y+y) == color.Black
		}
	}
	return m
}

var texts = []string{
	"",
	"0123456789",
	"HELLO VAKT",
	"otpauth://totp/Vakt:ola.nordmann?algorithm=SHA1&digits=6&issuer=Vakt&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
	"Blåbærsyltetøy på brødskiva, æ ø å",
	strings.Repeat("x", 500),
}

func TestRenderRoundTrip(t *testing.T) {
	for _, text := range texts {
		var buf bytes.Buffer
		if err := qrterm.Render(&buf, text); err != nil {
			t.Fatalf("Render(%.20q): %v", text, err)
		}
		want := reference(t, text)
		n := len(want)
		size := n + 2*qrterm.QuietZone
		got := parse(t, buf.String())
		// An odd size leaves the lower half of the last row empty.
		if len(got) != size+size%2 || len(got[0]) != size {
			t.Fatalf("%.20q: rendered %dx%d modules, want %dx%d", text, len(got[0]), len(got), size, size+size%2)
		}
		for y := range got {
			for x := range got[y] {
				inside := y >= qrterm.QuietZone && y < qrterm.QuietZone+n && x >= qrterm.QuietZone && x < qrterm.QuietZone+n
				if !inside {
					if got[y][x] {
						t.Fatalf("%.20q: dark module at (%d,%d) in the quiet zone", text, x, y)
					}
					continue
				}
				if w := want[y-qrterm.QuietZone][x-qrterm.QuietZone]; got[y][x] != w {
					t.Fatalf("%.20q: module (%d,%d) is %v, the barcode has %v", text, x-qrterm.QuietZone, y-qrterm.QuietZone, got[y][x], w)
				}
			}
		}
	}
}

func TestMatrixMatchesBarcode(t *testing.T) {
	for _, text := range texts {
		m, err := qrterm.Matrix(text)
		if err != nil {
			t.Fatal(err)
		}
		want := reference(t, text)
		if len(m) != len(want) || (len(m)-21)%4 != 0 {
			t.Fatalf("%.20q: %d rows, want %d (21 + 4 per version)", text, len(m), len(want))
		}
		for y := range m {
			if len(m[y]) != len(want) {
				t.Fatalf("%.20q: row %d has %d modules, want %d", text, y, len(m[y]), len(want))
			}
			for x := range m[y] {
				if m[y][x] != want[y][x] {
					t.Fatalf("%.20q: module (%d,%d) differs from the barcode", text, x, y)
				}
			}
		}
		// Every QR code has its finder pattern's dark corner at the top left.
		if !m[0][0] || !m[6][6] || m[1][1] {
			t.Fatalf("%.20q: no finder pattern at the top left", text)
		}
	}
}

func TestQuietZone(t *testing.T) {
	var buf bytes.Buffer
	if err := qrterm.Render(&buf, "HELLO VAKT"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	blank := strings.Repeat(" ", 21+2*qrterm.QuietZone) // version 1 is 21 modules
	// Four modules of quiet zone are the first two character rows; the last
	// row holds the code's bottom quiet-zone rows too.
	for _, i := range []int{0, 1, len(lines) - 2, len(lines) - 1} {
		if lines[i] != blank {
			t.Errorf("line %d = %q, want %d spaces", i, lines[i], len(blank))
		}
	}
	for i, line := range lines {
		r := []rune(line)
		if got := string(r[:qrterm.QuietZone]) + string(r[len(r)-qrterm.QuietZone:]); strings.TrimSpace(got) != "" {
			t.Errorf("line %d has no side quiet zone: %q", i, line)
		}
	}
	// The top-left finder pattern starts right after the quiet zone.
	if r := []rune(lines[2]); r[qrterm.QuietZone] != '█' || r[qrterm.QuietZone-1] != ' ' {
		t.Errorf("line 2 = %q, want the finder pattern at column %d", lines[2], qrterm.QuietZone)
	}
}

func TestTooLong(t *testing.T) {
	// Version 40 at level M holds 2331 bytes in byte mode.
	if _, err := qrterm.Matrix(strings.Repeat("x", 2331)); err != nil {
		t.Fatalf("2331 bytes: %v", err)
	}
	var buf bytes.Buffer
	err := qrterm.Render(&buf, strings.Repeat("x", 2332))
	if err == nil {
		t.Fatal("2332 bytes rendered; want an error")
	}
	if !strings.Contains(err.Error(), "2332 bytes do not fit") {
		t.Errorf("error = %q", err)
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %d bytes before failing", buf.Len())
	}
}
