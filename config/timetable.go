package config

import (
	"fmt"
	"strings"
	"time"
)

// Timetable is a bandwidth limit that may change with the time of day, as
// rclone's --bwlimit: either one rate ("1M", "off") or entries
// "HH:MM,RATE" separated by spaces, in increasing order of time
// ("08:00,512K 18:00,off"). A rate is in bytes a second, with K, M, G or T
// meaning powers of 1024 (as ParseSize); "off" means no limit. An entry
// holds from its time to the next entry's, and the last one until the
// first of the next day. The zero value is no limit.
type Timetable []TimetableEntry

// TimetableEntry is one entry of a Timetable.
type TimetableEntry struct {
	Minute int  // minutes since midnight, 0 to 1439
	Rate   Size // bytes per second; 0 is no limit
}

// ParseTimetable parses a timetable; "" is no limit.
func ParseTimetable(s string) (Timetable, error) {
	fields := strings.Fields(s)
	bad := func(format string, a ...any) (Timetable, error) {
		return nil, fmt.Errorf("%w: bandwidth limit %q: "+format+"; want a rate (1M, 512K, off) or a timetable (\"08:00,1M 18:00,off\")",
			append([]any{ErrInvalid, s}, a...)...)
	}
	if len(fields) == 1 && !strings.Contains(fields[0], ",") {
		r, err := parseRate(fields[0])
		if err != nil {
			return bad("%v", err)
		}
		if r == 0 {
			return nil, nil
		}
		return Timetable{{Minute: 0, Rate: r}}, nil
	}
	var t Timetable
	for _, f := range fields {
		at, rate, ok := strings.Cut(f, ",")
		if !ok {
			return bad("entry %q is not HH:MM,RATE", f)
		}
		tm, err := time.Parse("15:04", at)
		if err != nil || len(at) != 5 {
			return bad("entry %q: %q is not a time of day HH:MM", f, at)
		}
		r, err := parseRate(rate)
		if err != nil {
			return bad("entry %q: %v", f, err)
		}
		m := tm.Hour()*60 + tm.Minute()
		if len(t) > 0 && m <= t[len(t)-1].Minute {
			return bad("entry %q is not later than the one before it", f)
		}
		t = append(t, TimetableEntry{Minute: m, Rate: r})
	}
	if t.Off() {
		return nil, nil
	}
	return t, nil
}

// parseRate parses a rate: a size a second, or "off" (0).
func parseRate(s string) (Size, error) {
	if strings.EqualFold(s, "off") {
		return 0, nil
	}
	r, err := ParseSize(s)
	if err != nil || r == 0 {
		return 0, fmt.Errorf("rate %q is not a positive number of bytes a second or off", s)
	}
	return r, nil
}

// Off reports whether the timetable never limits.
func (t Timetable) Off() bool {
	for _, e := range t {
		if e.Rate > 0 {
			return false
		}
	}
	return true
}

// At returns the rate in effect at tm's local time of day, in bytes a
// second; 0 is no limit.
func (t Timetable) At(tm time.Time) int64 {
	if len(t) == 0 {
		return 0
	}
	m := tm.Hour()*60 + tm.Minute()
	rate := t[len(t)-1].Rate // before the first entry: the day before's last
	for _, e := range t {
		if e.Minute > m {
			break
		}
		rate = e.Rate
	}
	return int64(rate)
}

// String implements fmt.Stringer in the form ParseTimetable reads.
func (t Timetable) String() string {
	if t.Off() {
		return "off"
	}
	if len(t) == 1 && t[0].Minute == 0 {
		return FormatSize(t[0].Rate)
	}
	parts := make([]string, len(t))
	for i, e := range t {
		r := "off"
		if e.Rate > 0 {
			r = FormatSize(e.Rate)
		}
		parts[i] = fmt.Sprintf("%02d:%02d,%s", e.Minute/60, e.Minute%60, r)
	}
	return strings.Join(parts, " ")
}

// MarshalText implements encoding.TextMarshaler.
func (t Timetable) MarshalText() ([]byte, error) { return []byte(t.String()), nil }
