package qrpng_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/qrpng"
)

var texts = map[string]string{
	"otpauth": "otpauth://totp/Acme%20Corp:ola.nordmann%40example.no?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30",
	"activation": "https://mfa.acme.example/v1/activate?tenant=acme-holding-europe&user=ola.nordmann%40example.no" +
		"&authenticator=0194f3a0-7c1e-7d2b-9f3a-5e6d7c8b9a01&code=" + strings.Repeat("Q7ZK4M2XW9PR3T8VN6HJ5CFD", 8) +
		"&expires=2025-06-30T12%3A00%3A00Z",
	"short": "x",
}

// reference returns the barcode library's modules, m[y][x] dark, computed
// here rather than through qrterm.
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
			r, _, _, _ := bc.At(b.Min.X+x, b.Min.Y+y).RGBA()
			m[y][x] = r == 0
		}
	}
	return m
}

// decode decodes a PNG and checks that it is a grid of whole-pixel modules
// matching the reference exactly, black on white, with a four-module quiet
// zone. It returns the image's side.
func decode(t *testing.T, b []byte, text string) int {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t, text)
	modules := len(want) + 2*qrpng.QuietZone
	bounds := img.Bounds()
	side := bounds.Dx()
	if bounds.Dy() != side || bounds.Min != (image.Point{}) {
		t.Fatalf("bounds %v, want a square at the origin", bounds)
	}
	if side%modules != 0 {
		t.Fatalf("side %d is not a whole multiple of %d modules", side, modules)
	}
	scale := side / modules
	// Every pixel, not only module centres: the grid must be exact.
	for py := range side {
		for px := range side {
			mx, my := px/scale-qrpng.QuietZone, py/scale-qrpng.QuietZone
			dark := mx >= 0 && my >= 0 && my < len(want) && mx < len(want) && want[my][mx]
			r, g, bl, a := img.At(px, py).RGBA()
			switch {
			case a != 0xffff:
				t.Fatalf("pixel (%d,%d) is not opaque", px, py)
			case dark && (r|g|bl) != 0:
				t.Fatalf("pixel (%d,%d) of module (%d,%d) is not black", px, py, mx, my)
			case !dark && (r&g&bl) != 0xffff:
				t.Fatalf("pixel (%d,%d) of module (%d,%d) is not white", px, py, mx, my)
			}
		}
	}
	return side
}

func TestGrid(t *testing.T) {
	for name, text := range texts {
		for _, size := range []int{1, 100, 256, 300, 512} {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				b, err := qrpng.PNG(text, size)
				if err != nil {
					t.Fatal(err)
				}
				side := decode(t, b, text)
				modules := len(reference(t, text)) + 2*qrpng.QuietZone
				if lo := max(size-modules/2, modules); side < lo || side > max(size+modules/2, modules) {
					t.Errorf("side %d for size %d with %d modules", side, size, modules)
				}
			})
		}
	}
}

func TestDefaultSize(t *testing.T) {
	b, err := qrpng.PNG(texts["otpauth"], 0)
	if err != nil {
		t.Fatal(err)
	}
	side := decode(t, b, texts["otpauth"])
	if side < qrpng.DefaultSize*3/4 || side > qrpng.DefaultSize*5/4 {
		t.Errorf("side %d, want about %d", side, qrpng.DefaultSize)
	}
	if len(b) > 1024 {
		t.Errorf("%d bytes for an otpauth code; a 1-bit PNG should be under 1 kB", len(b))
	}
}

func TestDataURL(t *testing.T) {
	u, err := qrpng.DataURL(texts["otpauth"], 256)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(u, prefix) {
		t.Fatalf("%.40q does not start with %q", u, prefix)
	}
	b, err := base64.StdEncoding.DecodeString(u[len(prefix):])
	if err != nil {
		t.Fatal(err)
	}
	want, err := qrpng.PNG(texts["otpauth"], 256)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Error("the data URL does not hold the PNG")
	}
	decode(t, b, texts["otpauth"])
}

func TestErrors(t *testing.T) {
	secret := "otpauth://totp/x?secret=" + strings.Repeat("SEEDSEED", 400)
	_, err := qrpng.PNG(secret, 256)
	if vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("too long: %v, want invalid_argument", err)
	}
	if err != nil && strings.Contains(err.Error(), "SEEDSEED") {
		t.Errorf("the text leaked into the error: %v", err)
	}
	if _, err := qrpng.DataURL("x", qrpng.MaxSize+1); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
		t.Errorf("too large: %v, want invalid_argument", err)
	}
}

// TestZbar reads the PNG back with an independent decoder, zbarimg (from
// zbar-tools). Without it the test fails, unless VAKT_SKIP_ZBAR=1.
func TestZbar(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("VAKT_SKIP_ZBAR") == "1" {
			t.Skip("zbarimg is not installed and VAKT_SKIP_ZBAR=1")
		}
		t.Fatal("zbarimg is not on PATH: install zbar-tools (apt-get install zbar-tools) or set VAKT_SKIP_ZBAR=1")
	}
	for _, name := range []string{"otpauth", "activation"} {
		for _, size := range []int{0, 200} {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				text := texts[name]
				b, err := qrpng.PNG(text, size)
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(t.TempDir(), "code.png")
				if err := os.WriteFile(file, b, 0o600); err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(zbar, "-q", "--raw", file)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("zbarimg: %v\nstderr: %s", err, stderr.String())
				}
				// zbarimg may warn about dbus on stderr; only stdout counts.
				if got := strings.TrimSuffix(stdout.String(), "\n"); got != text {
					t.Errorf("zbarimg read\n%q\nwant\n%q", got, text)
				}
			})
		}
	}
}
