package operators

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/govalues/decimal"
)

// decodeValue decodes a condition value, keeping numbers as json.Number.
func decodeValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// valueCompiler compiles the value of one condition into a pred.
type valueCompiler struct {
	path string
	f    field
	o    op
}

func (vc *valueCompiler) errorf(format string, args ...any) error {
	return &ValidationError{Path: vc.path, Msg: fmt.Sprintf(format, args...)}
}

// elemErrorf reports an error in element i of an array value, or in the value itself
// when i < 0.
func (vc *valueCompiler) elemErrorf(i int, format string, args ...any) error {
	if i < 0 {
		return vc.errorf(format, args...)
	}
	return &ValidationError{Path: vc.path + "[" + strconv.Itoa(i) + "]", Msg: fmt.Sprintf(format, args...)}
}

func (vc *valueCompiler) compile(v any, p *pred, automation string, canon *[]byte) error {
	switch vc.f {
	case fieldPhone:
		s, ok := v.(string)
		if !ok {
			return vc.errorf("must be a string")
		}
		norm, err := NormalizePhone(s)
		switch {
		case errors.Is(err, ErrMissingCallingCode):
			return vc.errorf("%q must start with + and the country calling code", s)
		case err != nil:
			return vc.errorf("%q is not a phone number: + followed by 8 to 15 digits", s)
		}
		p.dim, p.set = dimPhone, []string{norm}
		*canon = jsonString(norm)
	case fieldList:
		id, ok := idValue(v)
		if !ok {
			return vc.errorf("must be a list id (a non-empty string)")
		}
		p.dim, p.set = dimLists, []string{id}
		*canon = jsonString(id)
	case fieldSegment:
		s, ok := v.(string)
		if !ok || !validID(s) {
			return vc.errorf("must be a segment id: 1 to 64 characters of a-z, 0-9, _ and -")
		}
		p.dim, p.set = dimSegments, []string{s}
		*canon = jsonString(s)
	case fieldTag:
		s, ok := v.(string)
		if !ok || strings.TrimSpace(s) == "" {
			return vc.errorf("must be a non-empty string")
		}
		t := strings.ToLower(strings.TrimSpace(s))
		p.dim, p.set = dimTags, []string{t}
		*canon = jsonString(t)
	case fieldPurchasedBrand, fieldPurchasedCollection:
		set, err := vc.stringArray(v, func(i int, s string) (string, error) {
			t := strings.ToLower(strings.TrimSpace(s))
			if t == "" {
				return "", vc.elemErrorf(i, "must be a non-empty string")
			}
			return t, nil
		})
		if err != nil {
			return err
		}
		p.dim, p.set = dimBrands, set
		if vc.f == fieldPurchasedCollection {
			p.dim = dimCollections
		}
		*canon = jsonStrings(set)
	case fieldCountry, fieldLanguage, fieldLifecycleStage, fieldConsentStatus, fieldEmailConsentStatus,
		fieldCity, fieldProvince, fieldEmailDomain:
		return vc.compileEnum(v, p, canon)
	case fieldPurchasedPriceRange:
		lo, hi, err := vc.numberPair(v)
		if err != nil {
			return err
		}
		p.dim = dimPrices
		p.decs = span[decimal.Decimal]{lo: bound[decimal.Decimal]{lo, true, true}, hi: bound[decimal.Decimal]{hi, true, true}}
		*canon = []byte("[" + canonicalDecimal(lo) + "," + canonicalDecimal(hi) + "]")
	case fieldLastMessageReceivedAt, fieldLastEngagedAt, fieldFirstOrderAt, fieldLastOrderAt, fieldCustomerCreatedAt:
		return vc.compileInstant(v, p, canon)
	default:
		return vc.compileNumber(v, p, automation, canon)
	}
	return nil
}

// compileEnum compiles is / is_not / in / not_in on a string-valued field.
func (vc *valueCompiler) compileEnum(v any, p *pred, canon *[]byte) error {
	var norm func(i int, s string) (string, error)
	switch vc.f {
	case fieldCountry:
		p.dim = dimCountry
		norm = func(i int, s string) (string, error) {
			u := strings.ToUpper(strings.TrimSpace(s))
			if len(u) != 2 || !isASCIILetters(u) {
				return "", vc.elemErrorf(i, "%q is not an ISO 3166-1 alpha-2 country code", s)
			}
			return u, nil
		}
	case fieldLanguage:
		p.dim = dimLanguage
		norm = func(i int, s string) (string, error) {
			l := strings.ToLower(strings.TrimSpace(s))
			if len(l) < 2 || len(l) > 8 || !isASCIILetters(l) {
				return "", vc.elemErrorf(i, "%q is not a primary language subtag (like \"es\")", s)
			}
			return l, nil
		}
	case fieldLifecycleStage:
		p.dim = dimLifecycle
		norm = func(i int, s string) (string, error) {
			l := strings.ToLower(strings.TrimSpace(s))
			if _, ok := ParseStage(l); !ok {
				return "", vc.elemErrorf(i, "%q is not a lifecycle stage (lead, first_time_buyer, repeat_buyer, at_risk, lapsed)", s)
			}
			return l, nil
		}
	case fieldConsentStatus, fieldEmailConsentStatus:
		p.dim = dimConsent
		if vc.f == fieldEmailConsentStatus {
			p.dim = dimEmailConsent
		}
		norm = func(i int, s string) (string, error) {
			l := strings.ToLower(strings.TrimSpace(s))
			if l != "yes" && l != "no" && l != "unknown" {
				return "", vc.elemErrorf(i, "%q is not a consent status (yes, no, unknown)", s)
			}
			return l, nil
		}
	case fieldCity:
		p.dim = dimCity
		norm = func(i int, s string) (string, error) {
			l := strings.ToLower(strings.TrimSpace(s))
			if l == "" {
				return "", vc.elemErrorf(i, "must be a non-empty city name")
			}
			return l, nil
		}
	case fieldProvince:
		p.dim = dimProvince
		norm = func(i int, s string) (string, error) {
			u := strings.ToUpper(strings.TrimSpace(s))
			if u == "" {
				return "", vc.elemErrorf(i, "must be a non-empty province code (like \"CDMX\" or \"CA\")")
			}
			return u, nil
		}
	case fieldEmailDomain:
		p.dim = dimEmailDomain
		norm = func(i int, s string) (string, error) {
			l := strings.ToLower(strings.TrimSpace(s))
			if l == "" || strings.Contains(l, "@") {
				return "", vc.elemErrorf(i, "%q is not an email domain (the part of an email after its \"@\", like \"gmail.com\")", s)
			}
			return l, nil
		}
	}
	if vc.o == opIs || vc.o == opIsNot {
		s, ok := v.(string)
		if !ok {
			return vc.errorf("must be a string")
		}
		n, err := norm(-1, s)
		if err != nil {
			return err
		}
		p.set = []string{n}
		*canon = jsonString(n)
		return nil
	}
	set, err := vc.stringArray(v, norm)
	if err != nil {
		return err
	}
	p.set = set
	*canon = jsonStrings(set)
	return nil
}

// stringArray decodes a non-empty array of strings, normalizes each with norm and
// returns them sorted and deduplicated.
func (vc *valueCompiler) stringArray(v any, norm func(i int, s string) (string, error)) ([]string, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, vc.errorf("must be a non-empty array of strings")
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, vc.elemErrorf(i, "must be a string")
		}
		n, err := norm(i, s)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// compileNumber compiles gt / lt / gte / lte / eq / between on a numeric field.
func (vc *valueCompiler) compileNumber(v any, p *pred, automation string, canon *[]byte) error {
	var lo, hi decimal.Decimal
	if vc.o == opBetween {
		var err error
		if lo, hi, err = vc.numberPair(v); err != nil {
			return err
		}
		*canon = []byte("[" + canonicalDecimal(lo) + "," + canonicalDecimal(hi) + "]")
	} else {
		x, err := vc.number(v, vc.path)
		if err != nil {
			return err
		}
		lo, hi = x, x
		*canon = []byte(canonicalDecimal(x))
	}
	switch vc.f {
	case fieldTotalSpent, fieldAverageOrderValue:
		p.dim = dimTotalSpent
		if vc.f == fieldAverageOrderValue {
			p.dim = dimAOV
		}
		switch vc.o {
		case opGt:
			p.decs.lo = bound[decimal.Decimal]{lo, true, false}
		case opGte:
			p.decs.lo = bound[decimal.Decimal]{lo, true, true}
		case opLt:
			p.decs.hi = bound[decimal.Decimal]{hi, true, false}
		case opLte:
			p.decs.hi = bound[decimal.Decimal]{hi, true, true}
		default: // eq, between
			p.decs.lo = bound[decimal.Decimal]{lo, true, true}
			p.decs.hi = bound[decimal.Decimal]{hi, true, true}
		}
		return nil
	case fieldOrdersCount:
		p.dim = dimOrdersCount
	case fieldMessagesReceived:
		p.dim = dimMessagesReceived
	case fieldMessagesRead:
		p.dim = dimMessagesRead
	case fieldAutomationCompletions:
		p.dim, p.automation = dimCompletions, automation
	case fieldDaysSinceLastOrder:
		p.dim = dimDaysSinceLastOrder
	case fieldDaysSinceFirstOrder:
		p.dim = dimDaysSinceFirstOrder
	}
	p.ints = intSpanOf(vc.o, lo, hi)
	return nil
}

// intSpanOf returns the integers x with "x o lo" (or, for between, lo ≤ x ≤ hi) as a
// closed span, canonical when empty.
func intSpanOf(o op, lo, hi decimal.Decimal) intSpan {
	s := intSpan{math.MinInt64, math.MaxInt64}
	var empty, e2 bool
	switch o {
	case opGt, opMoreThanDaysAgo:
		s.lo, empty = intAtLeast(lo, true)
	case opGte:
		s.lo, empty = intAtLeast(lo, false)
	case opLt, opInLastDays:
		s.hi, empty = intAtMost(hi, true)
	case opLte:
		s.hi, empty = intAtMost(hi, false)
	default: // eq, between
		s.lo, empty = intAtLeast(lo, false)
		s.hi, e2 = intAtMost(hi, false)
	}
	if empty || e2 || s.empty() {
		return emptyIntSpan
	}
	return s
}

// compileInstant compiles an operator on a date field (last_message_received_at,
// last_engaged_at, first_order_at, last_order_at, customer_created_at). in_last_days
// and more_than_days_ago on first_order_at / last_order_at read the same days-since
// dims as days_since_first_order / days_since_last_order.
func (vc *valueCompiler) compileInstant(v any, p *pred, canon *[]byte) error {
	var relDim, absDim dim
	switch vc.f {
	case fieldLastEngagedAt:
		relDim, absDim = dimEngagedDays, dimEngagedAt
	case fieldFirstOrderAt:
		relDim, absDim = dimDaysSinceFirstOrder, dimFirstOrderAt
	case fieldLastOrderAt:
		relDim, absDim = dimDaysSinceLastOrder, dimLastOrderAt
	case fieldCustomerCreatedAt:
		relDim, absDim = dimCreatedDays, dimCreatedAt
	default:
		relDim, absDim = dimMessageDays, dimMessageAt
	}
	switch vc.o {
	case opInLastDays, opMoreThanDaysAgo:
		n, err := vc.days(v, vc.path)
		if err != nil {
			return err
		}
		p.dim = relDim
		p.ints = intSpanOf(vc.o, n, n)
		*canon = []byte(canonicalDecimal(n))
		return nil
	case opBefore, opAfter:
		t, err := vc.instant(v, vc.path)
		if err != nil {
			return err
		}
		p.dim = absDim
		if vc.o == opBefore {
			p.times.hi = bound[time.Time]{t.start, true, false}
		} else if t.date {
			p.times.lo = bound[time.Time]{t.next(), true, true}
		} else {
			p.times.lo = bound[time.Time]{t.start, true, false}
		}
		*canon = jsonString(t.String())
		return nil
	}
	// between
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return vc.errorf("must be an array [lo, hi] of two dates or timestamps")
	}
	lo, err := vc.instant(arr[0], vc.path+"[0]")
	if err != nil {
		return err
	}
	hi, err := vc.instant(arr[1], vc.path+"[1]")
	if err != nil {
		return err
	}
	if lo.start.After(hi.start) {
		return vc.errorf("lo %s is after hi %s", lo, hi)
	}
	p.dim = absDim
	p.times.lo = bound[time.Time]{lo.start, true, true}
	if hi.date {
		p.times.hi = bound[time.Time]{hi.next(), true, false}
	} else {
		p.times.hi = bound[time.Time]{hi.start, true, true}
	}
	*canon = []byte("[" + string(jsonString(lo.String())) + "," + string(jsonString(hi.String())) + "]")
	return nil
}

// dateOrTime is a rule's date (a whole UTC day) or timestamp (an instant).
type dateOrTime struct {
	start time.Time // the instant, or the start of the day
	date  bool
}

// next returns the start of the following day.
func (d dateOrTime) next() time.Time { return d.start.AddDate(0, 0, 1) }

func (d dateOrTime) String() string {
	if d.date {
		return d.start.Format(time.DateOnly)
	}
	return d.start.UTC().Format(time.RFC3339Nano)
}

// instant decodes a date or timestamp at path.
func (vc *valueCompiler) instant(v any, path string) (dateOrTime, error) {
	s, ok := v.(string)
	if ok {
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return dateOrTime{start: t, date: true}, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s)); err == nil {
			return dateOrTime{start: t}, nil
		}
	}
	return dateOrTime{}, &ValidationError{Path: path, Msg: "must be a date (YYYY-MM-DD) or an RFC 3339 timestamp"}
}

// number decodes a JSON number at path, exactly.
func (vc *valueCompiler) number(v any, path string) (decimal.Decimal, error) {
	n, ok := v.(json.Number)
	if !ok {
		return decimal.Decimal{}, &ValidationError{Path: path, Msg: "must be a number"}
	}
	d, err := exactDecimal(string(n))
	if err != nil {
		return decimal.Decimal{}, &ValidationError{Path: path, Msg: err.Error(), cause: err}
	}
	return d, nil
}

// days decodes a number of days at path: a whole number ≥ 0 (SPEC §6: 7 and 7.0 are
// accepted, 7.5, -1 and "7" are not).
func (vc *valueCompiler) days(v any, path string) (decimal.Decimal, error) {
	n, err := vc.number(v, path)
	if err != nil {
		return n, err
	}
	if n.IsNeg() || !n.IsInt() {
		return n, &ValidationError{Path: path, Msg: "must be a whole number of days ≥ 0"}
	}
	return n, nil
}

// numberPair decodes [lo, hi] with lo ≤ hi.
func (vc *valueCompiler) numberPair(v any) (lo, hi decimal.Decimal, err error) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return lo, hi, vc.errorf("must be an array [lo, hi] of two numbers")
	}
	if lo, err = vc.number(arr[0], vc.path+"[0]"); err != nil {
		return lo, hi, err
	}
	if hi, err = vc.number(arr[1], vc.path+"[1]"); err != nil {
		return lo, hi, err
	}
	if lo.Cmp(hi) > 0 {
		return lo, hi, vc.errorf("lo %s is greater than hi %s", canonicalDecimal(lo), canonicalDecimal(hi))
	}
	return lo, hi, nil
}

// exactDecimal parses a JSON number into a decimal, failing rather than rounding.
func exactDecimal(s string) (decimal.Decimal, error) {
	d, err := decimal.Parse(s)
	if err != nil {
		return d, fmt.Errorf("number %s is out of range", s)
	}
	want, ok := new(big.Rat).SetString(s)
	got, ok2 := new(big.Rat).SetString(d.String())
	if !ok || !ok2 || want.Cmp(got) != 0 {
		return d, fmt.Errorf("number %s has more than %d significant digits", s, decimal.MaxPrec)
	}
	return d, nil
}

// idValue returns an id: a non-empty string, or a JSON integer as its decimal string.
func idValue(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case json.Number:
		return string(x), isIntegerLiteral(string(x))
	}
	return "", false
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// jsonStrings returns ss as a JSON array.
func jsonStrings(ss []string) []byte {
	b, _ := json.Marshal(ss) // strings always marshal
	return b
}
