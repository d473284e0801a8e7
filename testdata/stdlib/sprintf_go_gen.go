// Generates testdata/stdlib/sprintf_go.json: random format strings and arguments with
// the output of Go's fmt.Sprintf (go1.19.8 when generated). Not part of the build.
// Usage: SEED=42 go run sprintf_go_gen.go 2000 > a.json; SEED=7 MODE=float go run sprintf_go_gen.go 1000 > b.json;
// then concatenate the two arrays and drop cases whose output exceeds 2000 bytes.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strconv"
)

type Arg struct {
	K string `json:"k"`
	V any    `json:"v,omitempty"`
}

type Case struct {
	Format string `json:"format"`
	Args   []Arg  `json:"args"`
	Expect string `json:"expect"`
}

var r = rand.New(rand.NewSource(seed()))

var floats = []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1.5, 2.5, 3.14159, 1e21, 1e20, 1e-7, 1e-5, 1e-4, 123456789.0, 1234567.0, 100000, 1e6, 0.1, 2.0 / 3, 1e300, 5e-324, math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN(), 18446744073709551615.0 / 1e3, 255, 0.25, 99.999, 1.96875}
var ints = []int64{0, 1, -1, 7, 42, -42, 255, 65, 0x263A, 0x1F600, -3, math.MaxInt64, math.MinInt64, 1000000, 8, 5, 0xD800, 0x110000}
var strs = []string{"", "a", "hello", "héllo", "a\"b", "a`b", "tab\there", "nl\n", "\x00\x7f", "\u00a0x", "日本語", "😀", "\u2028", "'"}

var floatMode = os.Getenv("MODE") == "float"

func randVal(depth int) (Arg, any) {
	n := r.Intn(10)
	if floatMode {
		n = 4
	}
	switch {
	case n < 3:
		v := ints[r.Intn(len(ints))]
		if r.Intn(4) == 0 {
			v = r.Int63n(2000) - 1000
		}
		return Arg{"int", strconv.FormatInt(v, 10)}, int(v)
	case n == 3:
		u := uint64(math.MaxUint64) - uint64(r.Intn(3))
		return Arg{"uint64", strconv.FormatUint(u, 10)}, u
	case n < 6:
		f := floats[r.Intn(len(floats))]
		if r.Intn(4) == 0 {
			f = math.Float64frombits(r.Uint64())
		} else if floatMode && r.Intn(2) == 0 {
			f = float64(r.Int63n(2000000)-1000000) / math.Pow(10, float64(r.Intn(12)))
		}
		return Arg{"float64", strconv.FormatUint(math.Float64bits(f), 10)}, f
	case n < 8:
		s := strs[r.Intn(len(strs))]
		return Arg{"string", s}, s
	case n == 8:
		if r.Intn(3) == 0 {
			return Arg{"nil", nil}, nil
		}
		b := r.Intn(2) == 0
		return Arg{"bool", b}, b
	default:
		if depth > 1 {
			return Arg{"bool", true}, true
		}
		if r.Intn(2) == 0 {
			n := r.Intn(3)
			var js []Arg
			var gs []any
			for i := 0; i < n; i++ {
				a, g := randVal(depth + 1)
				js = append(js, a)
				gs = append(gs, g)
			}
			if gs == nil {
				gs = []any{}
				js = []Arg{}
			}
			return Arg{"array", js}, gs
		}
		n := r.Intn(3)
		js := map[string]Arg{}
		gs := map[string]any{}
		for i := 0; i < n; i++ {
			k := strs[r.Intn(len(strs))]
			a, g := randVal(depth + 1)
			js[k] = a
			gs[k] = g
		}
		return Arg{"map", js}, gs
	}
}

func randFormat(nargs int) string {
	s := ""
	parts := r.Intn(3) + 1
	for p := 0; p < parts; p++ {
		if r.Intn(3) == 0 {
			s += []string{"x", " ", "ab", "é", "|"}[r.Intn(5)]
		}
		s += "%"
		for i := r.Intn(3); i > 0; i-- {
			s += string("+-# 0"[r.Intn(5)])
		}
		if r.Intn(8) == 0 {
			s += fmt.Sprintf("[%d]", r.Intn(nargs+2))
		}
		switch r.Intn(4) {
		case 0:
			s += strconv.Itoa(r.Intn(12))
		case 1:
			if r.Intn(4) == 0 {
				s += "*"
			}
		}
		switch r.Intn(4) {
		case 0:
			s += "." + strconv.Itoa(r.Intn(25))
		case 1:
			s += "."
			if r.Intn(4) == 0 {
				s += "*"
			}
		}
		if r.Intn(30) == 0 {
			continue // Ends without a verb when last.
		}
		verbs := "vvvvdddssqqxXobcUeEfFgGtTw%!z"
		if floatMode {
			verbs = "veEfFgGxXb"
		}
		s += string(verbs[r.Intn(len(verbs))])
	}
	return s
}

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	var cases []Case
	for i := 0; i < n; i++ {
		nargs := r.Intn(4)
		var js []Arg
		var gs []any
		for j := 0; j < nargs; j++ {
			a, g := randVal(0)
			js = append(js, a)
			gs = append(gs, g)
		}
		if js == nil {
			js = []Arg{}
		}
		f := randFormat(nargs)
		cases = append(cases, Case{f, js, fmt.Sprintf(f, gs...)})
	}
	os.Stdout.WriteString("[\n")
	for i, c := range cases {
		b, _ := json.Marshal(c)
		os.Stdout.Write(b)
		if i+1 < len(cases) {
			os.Stdout.WriteString(",")
		}
		os.Stdout.WriteString("\n")
	}
	os.Stdout.WriteString("]\n")
}

func seed() int64 {
	s, err := strconv.ParseInt(os.Getenv("SEED"), 10, 64)
	if err != nil {
		return 42
	}
	return s
}
