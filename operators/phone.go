package operators

import (
	"errors"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Phone normalization errors. ErrMissingCallingCode is the contact error
// CUSTOMER_IS_MISSING_CALLING_CODE of SPEC §5.
var (
	ErrMissingCallingCode = errors.New("phone has no leading + country calling code")
	ErrInvalidPhone       = errors.New("phone is not + followed by 8 to 15 digits")
)

// NormalizePhone returns raw in E.164 form: "+" and 8–15 digits once spaces, dashes,
// dots and parentheses are removed (SPEC §5). A number without the leading "+" (a "00"
// international prefix included) is ErrMissingCallingCode; anything else that is not
// "+" and 8–15 digits is ErrInvalidPhone. Where the phone-number library recognizes
// the number, its E.164 form is used, which drops a national trunk prefix written after
// the country code ("+44 (0)20 …" → "+4420…").
func NormalizePhone(raw string) (string, error) {
	var b strings.Builder
	b.Grow(len(raw))
	for _, r := range strings.TrimSpace(raw) {
		switch r {
		case ' ', '-', '.', '(', ')', '\t', '\u00a0':
			continue
		}
		b.WriteRune(r)
	}
	s := b.String()
	if !strings.HasPrefix(s, "+") {
		return "", ErrMissingCallingCode
	}
	digits := s[1:]
	if len(digits) < 8 || len(digits) > 15 {
		return "", ErrInvalidPhone
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", ErrInvalidPhone
		}
	}
	if num, err := phonenumbers.Parse(s, ""); err == nil {
		if f := phonenumbers.Format(num, phonenumbers.E164); len(f) >= 9 && len(f) <= 16 {
			return f, nil
		}
	}
	return s, nil
}
