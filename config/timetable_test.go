package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseTimetable(t *testing.T) {
	ok := []struct {
		in   string
		want Timetable
		str  string
	}{
		{"", nil, "off"},
		{"off", nil, "off"},
		{"OFF", nil, "off"},
		{"1M", Timetable{{0, 1 << 20}}, "1M"},
		{"512k", Timetable{{0, 512 << 10}}, "512K"},
		{"2G", Timetable{{0, 2 << 30}}, "2G"},
		{"1500", Timetable{{0, 1500}}, "1500"},
		{"08:00,1M 18:00,off", Timetable{{480, 1 << 20}, {1080, 0}}, "08:00,1M 18:00,off"},
		{"  00:00,10M   12:30,512K 23:59,1G ", Timetable{{0, 10 << 20}, {750, 512 << 10}, {1439, 1 << 30}}, "00:00,10M 12:30,512K 23:59,1G"},
		{"08:00,off 18:00,off", nil, "off"},
		{"06:00,5M", Timetable{{360, 5 << 20}}, "06:00,5M"},
	}
	for _, c := range ok {
		got, err := ParseTimetable(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseTimetable(%q) = %v, %v; want %v", c.in, got, err, c.want)
			continue
		}
		if got.String() != c.str {
			t.Errorf("ParseTimetable(%q).String() = %q, want %q", c.in, got.String(), c.str)
		}
	}
	bad := []struct{ in, why string }{
		{"fast", `rate "fast"`},
		{"0", `rate "0"`},
		{"-1M", `rate "-1M"`},
		{"08:00,1M 18:00", `entry "18:00"`},
		{"8:00,1M", `"8:00" is not a time of day`},
		{"24:00,1M", `"24:00" is not a time of day`},
		{"08:60,1M", `"08:60" is not a time of day`},
		{"08:00,", `rate ""`},
		{"08:00,1M 07:00,2M", `entry "07:00,2M" is not later`},
		{"08:00,1M 08:00,2M", `entry "08:00,2M" is not later`},
		{"1M 2M", `entry "1M"`},
	}
	for _, c := range bad {
		_, err := ParseTimetable(c.in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("ParseTimetable(%q) = %v, want ErrInvalid with %q", c.in, err, c.why)
		}
	}
}

func TestTimetableAt(t *testing.T) {
	tt, err := ParseTimetable("08:00,1M 12:00,5M 18:00,off")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.Local)
	for _, c := range []struct {
		at   string
		want int64
	}{
		{"00:00", 0}, {"07:59", 0}, {"08:00", 1 << 20}, {"11:59", 1 << 20},
		{"12:00", 5 << 20}, {"17:59", 5 << 20}, {"18:00", 0}, {"23:59", 0},
	} {
		hm, _ := time.Parse("15:04", c.at)
		tm := day.Add(time.Duration(hm.Hour())*time.Hour + time.Duration(hm.Minute())*time.Minute + 30*time.Second)
		if got := tt.At(tm); got != c.want {
			t.Errorf("At(%s) = %d, want %d", c.at, got, c.want)
		}
	}
	// Before the first entry, the previous day's last entry holds.
	night, _ := ParseTimetable("08:00,off 20:00,1M")
	if got := night.At(day.Add(3 * time.Hour)); got != 1<<20 {
		t.Errorf("03:00 = %d, want the 20:00 entry's 1M", got)
	}
	if got := Timetable(nil).At(day); got != 0 {
		t.Errorf("no timetable: %d, want 0 (no limit)", got)
	}
}

// FuzzParseTimetable: parsing never panics, and what parses reads back
// from its String as the same timetable.
func FuzzParseTimetable(f *testing.F) {
	for _, s := range []string{"", "off", "1M", "08:00,1M 18:00,off", "00:00,10M 12:30,512K 23:59,1G", "8:00,1M", "1M 2M"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tt, err := ParseTimetable(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		back, err := ParseTimetable(tt.String())
		if err != nil || !reflect.DeepEqual(back, tt) {
			t.Fatalf("%q parsed as %v, whose String %q reads back as %v, %v", s, tt, tt.String(), back, err)
		}
		for i := 1; i < len(tt); i++ {
			if tt[i].Minute <= tt[i-1].Minute {
				t.Fatalf("%q: entries out of order: %v", s, tt)
			}
		}
	})
}
