// Command benchratio reads `go test -bench` output on standard input and
// prints, as a Markdown table, the median of every benchmark's ns/op (and of
// any custom metric such as events/s) over its -count runs, and the ratio of
// each named benchmark to the limit it is measured against in the same run.
//
//	go test -run '^$' -bench . -count 5 ./engine | go run ./internal/tools/benchratio \
//	    'Decide/VerifyTOTP-2 / Limit/HMACFloor-2' ...
//
// Each argument is "benchmark / limit"; names match the benchmark name without
// the "Benchmark" prefix, with or without the -GOMAXPROCS suffix.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var procSuffix = regexp.MustCompile(`-\d+$`)

type result map[string][]float64 // unit -> values

func main() {
	results, order, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
	w := os.Stdout
	fmt.Fprintln(w, "| benchmark | runs | median ns/op | other metrics (median) |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, name := range order {
		r := results[name]
		var extra []string
		for unit, vs := range r {
			if unit != "ns/op" {
				extra = append(extra, fmt.Sprintf("%s %s", format(median(vs)), unit))
			}
		}
		sort.Strings(extra)
		fmt.Fprintf(w, "| %s | %d | %s | %s |\n", name, len(r["ns/op"]), format(median(r["ns/op"])), strings.Join(extra, ", "))
	}
	if len(os.Args) > 1 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| benchmark | limit | ratio (median ns/op) |")
		fmt.Fprintln(w, "|---|---|---|")
	}
	for _, arg := range os.Args[1:] {
		a, b, ok := strings.Cut(arg, "/ ")
		if !ok {
			fmt.Fprintf(os.Stderr, "benchratio: %q is not \"benchmark / limit\"\n", arg)
			os.Exit(2)
		}
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		ra, rb := results[a], results[b]
		if ra == nil || rb == nil {
			fmt.Fprintf(os.Stderr, "benchratio: no results for %q or %q\n", a, b)
			os.Exit(1)
		}
		fmt.Fprintf(w, "| %s | %s | %.2fx |\n", a, b, median(ra["ns/op"])/median(rb["ns/op"]))
	}
}

func parse(r io.Reader) (map[string]result, []string, error) {
	results := map[string]result{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		if results[name] == nil {
			results[name] = result{}
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			results[name][f[i+1]] = append(results[name][f[i+1]], v)
		}
	}
	return results, order, sc.Err()
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func format(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
