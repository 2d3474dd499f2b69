//go:build wasip1

package main

import (
	"strings"
	"unsafe"
)

// The http-wasm handler ABI (module http_handler), as http-wasm-host-go
// v0.7.0 implements it (api/handler/wasm.go there). Only what the guard uses
// is bound. Strings go out as pointer and length; results come back through
// buf/buf_limit: the host writes nothing when the value is longer than the
// limit and returns the length, so the caller grows its buffer and asks
// again.

//go:wasmimport http_handler get_config
func getConfig(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler log_enabled
func logEnabled(level int32) uint32

//go:wasmimport http_handler log
func hostLog(level int32, msg unsafe.Pointer, msgLen uint32)

//go:wasmimport http_handler get_method
func getMethod(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler get_uri
func getURI(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler get_header_names
func getHeaderNames(kind uint32, buf unsafe.Pointer, limit uint32) uint64

//go:wasmimport http_handler get_header_values
func getHeaderValues(kind uint32, name unsafe.Pointer, nameLen uint32, buf unsafe.Pointer, limit uint32) uint64

//go:wasmimport http_handler set_header_value
func setHeaderValue(kind uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32)

//go:wasmimport http_handler remove_header
func removeHeader(kind uint32, name unsafe.Pointer, nameLen uint32)

//go:wasmimport http_handler set_status_code
func setStatusCode(code uint32)

//go:wasmimport http_handler write_body
func writeBody(kind uint32, body unsafe.Pointer, bodyLen uint32)

const (
	kindRequest  = 0 // header and body kinds
	kindResponse = 1

	levelDebug int32 = -1
	levelInfo  int32 = 0
	levelError int32 = 2
)

// buf is the guest's scratch buffer for host results; a Go guest runs one
// call at a time.
var buf = make([]byte, 2048)

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func sptr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

// read calls f with the buffer, growing it when the value does not fit.
func read(f func(unsafe.Pointer, uint32) uint32) string {
	n := f(ptr(buf), uint32(len(buf)))
	if int(n) > len(buf) {
		buf = make([]byte, n)
		n = f(ptr(buf), uint32(len(buf)))
	}
	return string(buf[:n])
}

// readList is read for the NUL-terminated lists of get_header_names and
// get_header_values (count << 32 | length): it returns the list as the host
// wrote it in buf, valid until the next host read.
func readList(f func(unsafe.Pointer, uint32) uint64) []byte {
	cl := f(ptr(buf), uint32(len(buf)))
	if n := uint32(cl); int(n) > len(buf) {
		buf = make([]byte, n)
		cl = f(ptr(buf), uint32(len(buf)))
	}
	if cl>>32 == 0 {
		return nil
	}
	return buf[:uint32(cl)]
}

// next returns the first value of a NUL-terminated list and the rest.
func next(list []byte) (v, rest []byte) {
	i := 0
	for i < len(list) && list[i] != 0 {
		i++
	}
	if i < len(list) {
		return list[:i], list[i+1:]
	}
	return list, nil
}

func headerList(name string) []byte {
	return readList(func(p unsafe.Pointer, l uint32) uint64 {
		return getHeaderValues(kindRequest, sptr(name), uint32(len(name)), p, l)
	})
}

// headerValue returns every value of a request header joined with sep
// ("" when there is none), as one string.
func headerValue(name, sep string) string {
	v, rest := next(headerList(name))
	if len(rest) == 0 {
		return string(v)
	}
	var b strings.Builder // a header sent more than once: rare
	b.Write(v)
	for len(rest) > 0 {
		v, rest = next(rest)
		b.WriteString(sep)
		b.Write(v)
	}
	return b.String()
}

// firstHeaderValue returns the first value of a request header ("" when
// there is none).
func firstHeaderValue(name string) string {
	v, _ := next(headerList(name))
	return string(v)
}

func setHeader(kind uint32, name, value string) {
	setHeaderValue(kind, sptr(name), uint32(len(name)), sptr(value), uint32(len(value)))
}

// setHeaderBytes is setHeader for a value in a guest buffer (the host
// copies it).
func setHeaderBytes(kind uint32, name string, value []byte) {
	setHeaderValue(kind, sptr(name), uint32(len(name)), ptr(value), uint32(len(value)))
}

func logf(level int32, msg string) {
	if logEnabled(level) == 0 {
		return
	}
	hostLog(level, sptr(msg), uint32(len(msg)))
}
