package check

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Milliseconds converts d to milliseconds rounded to the microsecond: the
// Value of every verdict in UnitMS, and of the report's timings, so that
// JSON stays readable and a recheck gives the same number.
func Milliseconds(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// fmtMS formats d as milliseconds without trailing zeros, with the unit:
// "12.5 ms".
func fmtMS(d time.Duration) string { return trimMS(d) + " ms" }

// trimMS formats d in milliseconds without the unit, for "[a, b] ms".
func trimMS(d time.Duration) string { return strconv.FormatFloat(Milliseconds(d), 'f', -1, 64) }

// fmtAt formats an offset from the base as "t=… ms".
func fmtAt(d time.Duration) string { return "t=" + fmtMS(d) }

// first returns the first n of s, and a last "and N more" if it had more.
func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}

// plural formats n with noun, adding an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
