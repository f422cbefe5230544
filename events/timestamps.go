package events

import (
	"time"
)

// Timestamps (SPEC §4) are RFC 3339 strings with any number of fractional digits
// ("2024-10-03T10:15:22-04:00", "2024-10-03T14:15:22.123456789Z"; a lower-case "t" or
// "z" and a space instead of the "T", which RFC 3339 allows, are accepted too), or Unix
// seconds as a JSON number or a numeric string ("1732183200", 1732183200.5). Fractions
// finer than a nanosecond are truncated. Every timestamp is returned in UTC. Years before
// 1970 in Unix form (negative numbers) and after 9999 are rejected: a millisecond value
// mistaken for seconds lands far beyond 9999 and is rejected rather than misread.

// maxUnixSeconds is 9999-12-31T23:59:59Z.
const maxUnixSeconds = 253402300799

// parseTimestamp reads the timestamp in the JSON value v. A null or an empty string is
// absent (ok false). Errors name path.
func parseTimestamp(v []byte, path string) (t time.Time, ok bool, err error) {
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return time.Time{}, false, nil
	case jsonNumber:
		t, good := parseUnix(v)
		if !good {
			return time.Time{}, false, newError(ReasonInvalidTimestamp, path,
				quoteForDetail(v)+" is not a Unix time in seconds between 1970 and 9999")
		}
		return t, true, nil
	case jsonString:
		s := v[1 : len(v)-1]
		if len(s) == 0 {
			return time.Time{}, false, nil
		}
		if t, good := parseTimestampText(s); good {
			return t, true, nil
		}
		return time.Time{}, false, newError(ReasonInvalidTimestamp, path,
			quoteForDetail(v)+" is neither an RFC 3339 timestamp nor Unix seconds")
	}
	return time.Time{}, false, newError(ReasonWrongType, path,
		"expected a timestamp string or number, got "+kindOf(v).String())
}

// parseTimestampText parses the inside of a JSON string (escapes are never valid in a
// timestamp, so none are decoded) or a header value.
func parseTimestampText(s []byte) (time.Time, bool) {
	if len(s) > 0 && isDigit(s[0]) && len(s) >= 5 && s[4] == '-' {
		return parseRFC3339(s)
	}
	return parseUnix(s)
}

// parseUnix parses non-negative Unix seconds with an optional fraction: digits[.digits].
func parseUnix(s []byte) (time.Time, bool) {
	i := 0
	var sec int64
	for i < len(s) && isDigit(s[i]) {
		sec = sec*10 + int64(s[i]-'0')
		if sec > maxUnixSeconds {
			return time.Time{}, false
		}
		i++
	}
	if i == 0 {
		return time.Time{}, false
	}
	var nsec int64
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		scale := int64(100_000_000)
		for i < len(s) && isDigit(s[i]) {
			nsec += int64(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return time.Time{}, false
		}
	}
	if i != len(s) {
		return time.Time{}, false
	}
	return time.Unix(sec, nsec).UTC(), true
}

// parseRFC3339 parses YYYY-MM-DD[Tt ]hh:mm:ss[.frac](Z|z|±hh:mm).
func parseRFC3339(s []byte) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i := 19
	var nsec int
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		scale := 100_000_000
		for i < len(s) && isDigit(s[i]) {
			nsec += int(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return time.Time{}, false
		}
	}
	if i >= len(s) {
		return time.Time{}, false
	}
	var offset int // seconds east of UTC
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(s)-i != 6 || s[i+3] != ':' {
			return time.Time{}, false
		}
		oh, okh := digits(s[i+1 : i+3])
		om, okm := digits(s[i+4 : i+6])
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if s[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return time.Time{}, false
	}
	if i != len(s) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

// digits parses a fixed-width run of decimal digits.
func digits(s []byte) (int, bool) {
	n := 0
	for _, c := range s {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
