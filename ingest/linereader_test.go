package ingest

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzLineReader: the import's line reader splits any input as
// bufio.ScanLines does (lines end with "\n" or "\r\n", the last may lack
// it), reads through every line longer than its limit and flags it
// instead of failing, and so goes on to the lines after it, whatever the
// reads' sizes.
func FuzzLineReader(f *testing.F) {
	for _, s := range []string{"", "\n", "a", "a\n", "a\r\nb", "a\n\nb\n", "\r\n\r", "abcdef\nab\nabcdefgh\r\n", "\xff\xfe\n\xfe\xff",
		strings.Repeat("x", 100) + "\n" + "ok\n", "ok\n" + strings.Repeat("y", 5000)} {
		f.Add([]byte(s), uint16(4), false)
		f.Add([]byte(s), uint16(64), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, max uint16, oneByte bool) {
		limit := int(max%4096) + 1
		var want []string // "!" for a line over the limit
		if len(data) > 0 {
			parts := bytes.Split(data, []byte("\n"))
			if len(parts[len(parts)-1]) == 0 {
				parts = parts[:len(parts)-1]
			}
			for _, p := range parts {
				p = bytes.TrimSuffix(p, []byte("\r"))
				if len(p) > limit {
					want = append(want, "!")
				} else {
					want = append(want, string(p))
				}
			}
		}
		var r = bytes.NewReader(data)
		var in = bufio.NewReaderSize(r, 16)
		if oneByte {
			in = bufio.NewReaderSize(iotest.OneByteReader(r), 16)
		}
		lr := &lineReader{r: in, max: limit}
		var got []string
		for lr.Scan() {
			if lr.tooLong {
				got = append(got, "!")
			} else {
				got = append(got, string(lr.Bytes()))
			}
		}
		if lr.Err() != nil {
			t.Fatalf("Err = %v", lr.Err())
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Fatalf("lines of %q (limit %d) = %q, want %q", data, limit, got, want)
		}
	})
}
