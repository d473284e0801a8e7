// Generates testdata/stdlib/go_stdlib.json with the outputs of the Go standard library
// functions that upstream stdlib functions wrap (go1.19.8 when generated). Not part of
// the build. The committed fixture keeps the json, marshal_float, case and space
// sections whole and the first 800 base64, 600 url and 600 join cases.
package main

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/rand"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

type kv = map[string]any

func main() {
	out := kv{}
	// Case mapping differences, per rune.
	var cases [][3]int
	var spaces []int
	var prints []int
	for r := rune(0); r < 0x110000; r++ {
		u, l := unicode.ToUpper(r), unicode.ToLower(r)
		if u != r || l != r {
			cases = append(cases, [3]int{int(r), int(u), int(l)})
		}
		if unicode.IsSpace(r) {
			spaces = append(spaces, int(r))
		}
		if strconv.IsPrint(r) {
			prints = append(prints, int(r))
		}
	}
	out["case"] = cases
	out["space"] = spaces
	out["print"] = prints
	// JSON errors.
	var jsonCases []kv
	for _, in := range []string{"", " ", "{", "x", "[1 2]", "{} x", "{\"a\" 1}", "{\"a\":1,}", "[1,]", "tru", "nul", "01", "1.", "-", "1e", "\"\\x\"", "\"\t\"", "\"abc", "{1:2}", "[", "1e400", "\"\\u12\"", "[1,2", "{\"a\":", "nulll", "truex", "[true false]", "é", "'a'", "{\"a\":1}}", "[]]", "{\"a\":1 \"b\":2}", "[1,,2]", "-x", "1.5e+", "+1", ".5", "\"\\ud800\"", "{\"a\":[1,{\"b\":tx}]}", "\n\n  x", "[1,\n2,\n x]", "00", "-01", "\x01", "nan", "[-]", "{\"\\q\":1}", "{,}", "[,]", "{\"a\"}", "123abc", "\"a\"\"b\"", "[1] [2]", "true false", "{\"a\":1\n,\"b\":}"} {
		var v any
		err := json.Unmarshal([]byte(in), &v)
		c := kv{"in": in}
		if err != nil {
			c["error"] = err.Error()
		}
		jsonCases = append(jsonCases, c)
	}
	out["json"] = jsonCases
	// JSON marshal of maps of floats and strings.
	var marshal []kv
	floats := []float64{0, math.Copysign(0, -1), 1, 1e20, 1e21, 1e-6, 1e-7, 123456789, 1.5e300, 5e-324, 0.1, 1e-10, 12345678.9, 2.5e-7}
	for _, f := range floats {
		b, _ := json.Marshal(map[string]any{"f": f})
		marshal = append(marshal, kv{"bits": strconv.FormatUint(math.Float64bits(f), 10), "out": string(b)})
	}
	out["marshal_float"] = marshal
	var mstr []kv
	for _, s := range []string{"<&>", "\u2028\u2029", "\b\f\n\r\t\x00\x1f\x7f", "é😀", "\"\\/", "\ufeff"} {
		b, _ := json.Marshal(map[string]any{"s": s})
		mstr = append(mstr, kv{"in": s, "out": string(b)})
	}
	out["marshal_string"] = mstr
	// base64.
	r := rand.New(rand.NewSource(1))
	alpha := "AB+/=\n\r!-_a9"
	var b64 []kv
	for i := 0; i < 3000; i++ {
		n := r.Intn(12)
		b := make([]byte, n)
		for j := range b {
			b[j] = alpha[r.Intn(len(alpha))]
		}
		for _, enc := range []struct {
			name string
			e    *base64.Encoding
		}{{"std", base64.StdEncoding}, {"url", base64.URLEncoding}} {
			d, err := enc.e.DecodeString(string(b))
			c := kv{"enc": enc.name, "in": string(b)}
			if err != nil {
				c["error"] = err.Error()
			} else {
				c["out"] = d
			}
			b64 = append(b64, c)
		}
	}
	out["base64"] = b64
	// URL unescape.
	ualpha := "%+aF9zG é"
	var urls []kv
	for i := 0; i < 2000; i++ {
		n := r.Intn(8)
		var sb strings.Builder
		for j := 0; j < n; j++ {
			sb.WriteString(string([]rune(ualpha)[r.Intn(len([]rune(ualpha)))]))
		}
		in := sb.String()
		d, err := url.QueryUnescape(in)
		c := kv{"in": in, "escaped": url.QueryEscape(in)}
		if err != nil {
			c["error"] = err.Error()
		} else {
			c["out"] = d
		}
		urls = append(urls, c)
	}
	out["url"] = urls
	// filepath.Join.
	segs := []string{"", ".", "..", "a", "b/", "/c", "../d", "e/./f", "//", "/"}
	var joins []kv
	for i := 0; i < 2000; i++ {
		n := r.Intn(4)
		var parts []string
		for j := 0; j < n; j++ {
			parts = append(parts, segs[r.Intn(len(segs))])
		}
		if parts == nil {
			parts = []string{}
		}
		joins = append(joins, kv{"in": parts, "out": filepath.Join(parts...)})
	}
	out["join"] = joins
	json.NewEncoder(os.Stdout).Encode(out)
}
