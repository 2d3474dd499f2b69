package metrics_test

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A small, strict reader of the text exposition format 0.0.4, enough to
// check that every line WriteText writes is well-formed.

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

type fam struct {
	help, typ string
	samples   []sample
}

func parse(t *testing.T, text string) map[string]*fam {
	t.Helper()
	fams, err := parseText(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return fams
}

type parseError struct{ msg string }

// fatalf stops parseText with an error.
func fatalf(format string, args ...any) {
	panic(parseError{fmt.Sprintf(format, args...)})
}

func parseText(text string) (fams map[string]*fam, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(parseError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", pe.msg)
		}
	}()
	fams = map[string]*fam{}
	if text == "" {
		return fams, nil
	}
	if !strings.HasSuffix(text, "\n") {
		fatalf("output does not end in a new line")
	}
	var cur string // the family whose samples may follow
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fail := func(format string, args ...any) {
			fatalf("line %d %q: %s", i+1, line, fmt.Sprintf(format, args...))
		}
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, help, ok := strings.Cut(line[len("# HELP "):], " ")
			if !ok || !validMetricName(name) {
				fail("bad HELP")
			}
			if fams[name] != nil {
				fail("second HELP for %s", name)
			}
			h, ok := unescape(help, false)
			if !ok {
				fail("bad escape in HELP")
			}
			fams[name] = &fam{help: h}
			cur = ""
		case strings.HasPrefix(line, "# TYPE "):
			name, typ, ok := strings.Cut(line[len("# TYPE "):], " ")
			f := fams[name]
			if !ok || f == nil || f.typ != "" {
				fail("TYPE without HELP just before it, or repeated")
			}
			if typ != "counter" && typ != "gauge" && typ != "histogram" {
				fail("unknown type %q", typ)
			}
			f.typ, cur = typ, name
		case line == "" || strings.HasPrefix(line, "#"):
			fail("unexpected line")
		default:
			s, key, ok := parseSample(line)
			if !ok {
				fail("malformed sample")
			}
			f := fams[cur]
			if f == nil {
				fatalf("line %d %q: sample before any TYPE", i+1, line)
			}
			want := []string{cur}
			if f.typ == "histogram" {
				want = []string{cur + "_bucket", cur + "_sum", cur + "_count"}
			}
			if !slices.Contains(want, s.name) {
				fail("sample %s in family %s of type %s", s.name, cur, f.typ)
			}
			if f.typ == "histogram" && (s.name == cur+"_bucket") != (s.labels["le"] != "") {
				fail("le on a sample other than a bucket, or a bucket without le")
			}
			if f.typ == "counter" && s.value < 0 {
				fail("negative counter")
			}
			if seen[key] {
				fail("series repeated")
			}
			seen[key] = true
			f.samples = append(f.samples, s)
		}
	}
	for name, f := range fams {
		if f.typ == "" {
			fatalf("%s: HELP without TYPE", name)
		}
		if len(f.samples) == 0 {
			fatalf("%s: a family without samples", name)
		}
		if f.typ == "histogram" {
			checkHistogram(name, f)
		}
	}
	return fams, nil
}

// checkHistogram checks each series: buckets in ascending le, cumulative,
// ending in +Inf, which equals _count; one _sum.
func checkHistogram(name string, f *fam) {
	type series struct {
		les    []float64
		counts []float64
		sum    int
		count  float64
		hasCnt bool
	}
	byLabels := map[string]*series{}
	var order []string
	for _, s := range f.samples {
		rest := map[string]string{}
		for k, v := range s.labels {
			if k != "le" {
				rest[k] = v
			}
		}
		key := labelKey(rest)
		hs := byLabels[key]
		if hs == nil {
			hs = &series{}
			byLabels[key] = hs
			order = append(order, key)
		}
		switch s.name {
		case name + "_bucket":
			le, err := strconv.ParseFloat(s.labels["le"], 64)
			if err != nil || (s.labels["le"] != "+Inf" && math.IsInf(le, 0)) {
				fatalf("%s: bad le %q", name, s.labels["le"])
			}
			if n := len(hs.les); n > 0 && (le <= hs.les[n-1] || s.value < hs.counts[n-1]) {
				fatalf("%s{%s}: buckets not ascending or not cumulative", name, key)
			}
			if hs.hasCnt || hs.sum > 0 {
				fatalf("%s{%s}: bucket after _sum or _count", name, key)
			}
			hs.les, hs.counts = append(hs.les, le), append(hs.counts, s.value)
		case name + "_sum":
			hs.sum++
		case name + "_count":
			hs.count, hs.hasCnt = s.value, true
		}
	}
	for _, key := range order {
		hs := byLabels[key]
		n := len(hs.les)
		if n == 0 || !math.IsInf(hs.les[n-1], +1) || hs.sum != 1 || !hs.hasCnt || hs.counts[n-1] != hs.count {
			fatalf("%s{%s}: needs buckets ending in +Inf equal to _count, one _sum and a _count: %+v", name, key, hs)
		}
	}
}

// parseSample reads `name{l="v",...} value`, returning the sample and a key
// for the series.
func parseSample(line string) (sample, string, bool) {
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, "", false
	}
	s.name = line[:i]
	if !validMetricName(s.name) {
		return s, "", false
	}
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			if strings.HasPrefix(rest, "}") {
				if len(s.labels) == 0 {
					return s, "", false // "{}" is legal but never written
				}
				rest = rest[1:]
				break
			}
			if len(s.labels) > 0 {
				if !strings.HasPrefix(rest, ",") {
					return s, "", false
				}
				rest = rest[1:]
			}
			eq := strings.Index(rest, `="`)
			if eq <= 0 {
				return s, "", false
			}
			ln := rest[:eq]
			if !validLabelName(ln) {
				return s, "", false
			}
			if _, dup := s.labels[ln]; dup {
				return s, "", false
			}
			rest = rest[eq+2:]
			// The value runs to the first unescaped quote.
			end := -1
			for j := 0; j < len(rest); j++ {
				if rest[j] == '\\' {
					j++
					continue
				}
				if rest[j] == '"' {
					end = j
					break
				}
			}
			if end < 0 {
				return s, "", false
			}
			v, ok := unescape(rest[:end], true)
			if !ok {
				return s, "", false
			}
			s.labels[ln] = v
			rest = rest[end+1:]
		}
	}
	if !strings.HasPrefix(rest, " ") {
		return s, "", false
	}
	rest = rest[1:]
	if strings.ContainsAny(rest, " \t") {
		return s, "", false // a timestamp, or junk; never written
	}
	v, err := strconv.ParseFloat(rest, 64)
	if err != nil {
		return s, "", false
	}
	if math.IsInf(v, 0) && rest != "+Inf" && rest != "-Inf" || math.IsNaN(v) && rest != "NaN" {
		return s, "", false
	}
	s.value = v
	return s, s.name + "{" + labelKey(s.labels) + "}", true
}

func labelKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + strconv.Quote(labels[k]) + ",")
	}
	return b.String()
}

// unescape undoes the format's escapes: \\ and \n, and \" in label values.
func unescape(s string, quote bool) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			return "", false
		case quote && c == '"':
			return "", false
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		if i++; i == len(s) {
			return "", false
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case '"':
			if !quote {
				return "", false
			}
			b.WriteByte('"')
		default:
			return "", false
		}
	}
	return b.String(), true
}

func validMetricName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func validLabelName(s string) bool {
	return validMetricName(s) && !strings.Contains(s, ":")
}

// The reader must refuse what a scraper would refuse, or the tests that use
// it prove nothing.
func TestParserRejects(t *testing.T) {
	const head = "# HELP x x\n# TYPE x counter\n"
	const hist = "# HELP h h\n# TYPE h histogram\n"
	good := []string{
		head + "x 1\n",
		head + `x{a="b\\\"\n"} 1` + "\n",
		hist + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n",
	}
	for _, text := range good {
		if _, err := parseText(text); err != nil {
			t.Errorf("refused %q: %v", text, err)
		}
	}
	bad := map[string]string{
		"no final new line":  head + "x 1",
		"no TYPE":            "# HELP x x\nx 1\n",
		"no HELP":            "# TYPE x counter\nx 1\n",
		"unknown type":       "# HELP x x\n# TYPE x summary\nx 1\n",
		"sample of another":  head + "y 1\n",
		"blank line":         head + "\nx 1\n",
		"bad value":          head + "x one\n",
		"inf spelled wrong":  head + "x Inf\n",
		"timestamp":          head + "x 1 1700000000\n",
		"negative counter":   head + "x -1\n",
		"unquoted label":     head + "x{a=b} 1\n",
		"unterminated label": head + `x{a="b} 1` + "\n",
		"bad escape":         head + `x{a="\t"} 1` + "\n",
		"trailing comma":     head + `x{a="b",} 1` + "\n",
		"repeated label":     head + `x{a="b",a="c"} 1` + "\n",
		"bad label name":     head + `x{a-b="c"} 1` + "\n",
		"repeated series":    head + "x 1\nx 2\n",
		"family twice":       head + "x 1\n" + head + "x 2\n",
		"empty family":       head,
		"no +Inf":            hist + "h_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n",
		"+Inf not count":     hist + "h_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 1\n",
		"not cumulative":     hist + "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n",
		"le not ascending":   hist + "h_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n",
		"no sum":             hist + "h_bucket{le=\"+Inf\"} 1\nh_count 1\n",
		"bucket without le":  hist + "h_bucket 1\nh_sum 1\nh_count 1\n",
		"le on count":        hist + "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count{le=\"1\"} 1\n",
		"bad escape in help": "# HELP x a\\x\n# TYPE x counter\nx 1\n",
	}
	for name, text := range bad {
		if _, err := parseText(text); err == nil {
			t.Errorf("%s: accepted %q", name, text)
		}
	}
}
