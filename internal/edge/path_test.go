package edge

import "testing"

// A plain path must be what the general normalisation makes of it.
func FuzzPlainPath(f *testing.F) {
	for _, s := range []string{"/", "/admin", "/admin/", "/admin/users", "//admin", "/a//b", "/a/./b", "/a/../b", "/a/.", "/a/..",
		"/a/.b", "/a/...", "/%61dmin", "/a\\b", "/a\x00", "/ä/ø", "/a;x=1/", "/a?b", "/.", "/..", "/./", "/../"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if len(p) == 0 || p[0] != '/' || !plainPath(p) {
			return
		}
		if got, ok := normaliseEscaped(p); !ok || got != p {
			t.Fatalf("plain path %q normalises to %q, %v", p, got, ok)
		}
	})
}

func TestPlainPath(t *testing.T) {
	for _, p := range []string{"/", "/admin", "/admin/", "/admin/users", "/a/.b", "/a/...", "/ä/ø", "/a;x=1/"} {
		if !plainPath(p) {
			t.Errorf("%q: not plain", p)
		}
	}
	for _, p := range []string{"//admin", "/a//b", "/a/./b", "/a/../b", "/a/.", "/a/..", "/%61dmin", "/a\\b", "/a\x00", "/.", "/..", "/./", "/../", "/a//"} {
		if plainPath(p) {
			t.Errorf("%q: plain", p)
		}
	}
}
