package events

import (
	"bytes"
	"strings"

	"github.com/govalues/decimal"
)

// Readers of scalar payload values. Each takes the raw JSON value of a member (nil when
// the member is absent) and the member's path for error details.

func wrongType(path, want string, v []byte) *Error {
	return newError(ReasonWrongType, path, "expected "+want+", got "+kindOf(v).String())
}

func missing(path string) *Error { return newError(ReasonMissingField, path, "missing") }

// parseString reads an optional string; absent and null give ok false.
func parseString(v []byte, path string) (s string, ok bool, err error) {
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return "", false, nil
	case jsonString:
		return unquote(v), true, nil
	}
	return "", false, wrongType(path, "a string", v)
}

// parseOptString reads a tri-state profile field: absent keeps the stored value, null or
// a blank string clears it. Values are trimmed.
func parseOptString(v []byte, path string) (OptString, error) {
	switch kindOf(v) {
	case jsonInvalid:
		return OptString{}, nil
	case jsonNull:
		return OptString{Present: true}, nil
	case jsonString:
		return OptString{Present: true, Value: strings.TrimSpace(unquote(v))}, nil
	}
	return OptString{}, wrongType(path, "a string", v)
}

// parseOptTime reads a tri-state profile timestamp: absent keeps the stored value, null or
// "" clears it.
func parseOptTime(v []byte, path string) (OptTime, error) {
	if kindOf(v) == jsonInvalid {
		return OptTime{}, nil
	}
	t, _, err := parseTimestamp(v, path)
	if err != nil {
		return OptTime{}, err
	}
	return OptTime{Present: true, Value: t}, nil
}

// parseDecimal reads an exact decimal given as a string ("19.99") or a number (19.99).
// Absent and null give ok false.
func parseDecimal(v []byte, path string) (d decimal.Decimal, ok bool, err error) {
	var text []byte
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return decimal.Decimal{}, false, nil
	case jsonNumber:
		text = v
	case jsonString:
		text = v[1 : len(v)-1]
	default:
		return decimal.Decimal{}, false, wrongType(path, "a decimal (string or number)", v)
	}
	if err := d.UnmarshalText(text); err != nil {
		return decimal.Decimal{}, false, newError(ReasonWrongType, path,
			quoteForDetail(v)+" is not a decimal")
	}
	return d, true, nil
}

// parseCount reads an optional non-negative integer given as a number or a numeric
// string (GraphQL serializes 64-bit integers as strings). Absent and null give ok false.
func parseCount(v []byte, path string) (n int64, ok bool, err error) {
	var text []byte
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return 0, false, nil
	case jsonNumber:
		text = v
	case jsonString:
		text = v[1 : len(v)-1]
	default:
		return 0, false, wrongType(path, "a non-negative integer", v)
	}
	if len(text) == 1 && text[0] == '0' {
		return 0, true, nil
	}
	n, good := parsePositiveInt64(text)
	if !good {
		return 0, false, newError(ReasonWrongType, path,
			quoteForDetail(v)+" is not a non-negative integer")
	}
	return n, true, nil
}

// parseBool reads an optional boolean; absent and null are false.
func parseBool(v []byte, path string) (bool, error) {
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return false, nil
	case jsonBool:
		return v[0] == 't', nil
	}
	return false, wrongType(path, "a boolean", v)
}

// parseTags reads tags given as an array of strings or as one comma-separated string.
// Tags are trimmed and empty ones dropped; the result is non-nil. Absent and null give
// ok false.
func (ix *index) parseTags(v []byte, path string) (tags []string, ok bool, err error) {
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return nil, false, nil
	case jsonString:
		s := unquote(v)
		tags = make([]string, 0, strings.Count(s, ",")+1)
		for t := range strings.SplitSeq(s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
		return tags, true, nil
	case jsonArray:
		tags = make([]string, 0, 4)
		for e := ix.elements(v); e.next(); {
			if kindOf(e.val()) != jsonString {
				return nil, false, within(wrongType(indexPath(e.n), "a string", e.val()), path)
			}
			if t := strings.TrimSpace(unquote(e.val())); t != "" {
				tags = append(tags, t)
			}
		}
		return tags, true, nil
	}
	return nil, false, wrongType(path, "an array of strings or a comma-separated string", v)
}

// indexPath returns "[i]".
func indexPath(i int) string {
	return "[" + itoa(i) + "]"
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var buf [20]byte
	n := len(buf)
	for i > 0 {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
	}
	return string(buf[n:])
}

// parseEnum matches the string value v case-insensitively (after trimming) against
// allowed and returns the allowed spelling. Null and a blank string give "" when
// nullable; otherwise null is absent and a blank string invalid. Absent gives ok false.
func parseEnum(v []byte, path string, allowed []string, nullable bool) (s string, ok bool, err error) {
	switch kindOf(v) {
	case jsonInvalid:
		return "", false, nil
	case jsonNull:
		return "", nullable, nil
	case jsonString:
		in := v[1 : len(v)-1]
		if bytes.IndexByte(in, '\\') >= 0 {
			in = unescape(in)
		}
		t := strings.TrimSpace(string(in))
		if t == "" && nullable {
			return "", true, nil
		}
		for _, a := range allowed {
			if strings.EqualFold(t, a) {
				return a, true, nil
			}
		}
	default:
		return "", false, wrongType(path, "a string", v)
	}
	return "", false, newError(ReasonInvalidEnum, path,
		quoteForDetail(v)+" is not one of "+strings.Join(allowed, ", "))
}

// Enumerations, in their stored spelling.
var (
	consentStates      = []string{"SUBSCRIBED", "UNSUBSCRIBED", "NOT_SUBSCRIBED", "REDACTED", "PENDING"}
	emailConsentStates = []string{"SUBSCRIBED", "UNSUBSCRIBED", "NOT_SUBSCRIBED", "REDACTED", "PENDING", "INVALID"}
	conversationStates = []string{"OPEN", "PENDING", "RESOLVED"}
	lifecycleStages    = []string{"lead", "first_time_buyer", "repeat_buyer", "at_risk", "lapsed"}
	messageStatuses    = []string{"sent", "delivered", "read", "played", "failed"}
)
