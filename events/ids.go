package events

import (
	"bytes"
	"math"
	"strings"
)

// Customer ids (SPEC §2) are integers 1 … 2^63−1 given as a JSON number, a numeric string
// or a customer GraphQL id (gid://shopify/Customer/<n>). They are read from the digits of
// the raw token, never through a float64: real ids exceed 2^53. Canonical digits only:
// no sign, no leading zero, no fraction or exponent, no spaces.
//
// Other ids (order, product, variant, list, automation, message, conversation ids) are
// strings; a JSON number is taken as its exact digits, which must form a non-negative
// integer. Shopify ids of a known type may be given as GraphQL ids and are reduced to
// their numeric part (gid://shopify/Order/5 → "5"), so that the REST and GraphQL
// spellings of one order or product compare equal.

const (
	gidPrefix = "gid://shopify/"
	// maxIDLen bounds string ids: they are stored per contact.
	maxIDLen = 255
)

// Shopify GraphQL types of ids that are reduced to their numeric part.
const (
	gidCustomer = "Customer"
	gidOrder    = "Order"
	gidProduct  = "Product"
	gidVariant  = "ProductVariant"
)

// parseCustomerID reads a required customer id from the JSON value v.
func parseCustomerID(v []byte, path string) (int64, error) {
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return 0, newError(ReasonMissingField, path, "missing customer id")
	case jsonNumber:
		if id, ok := parsePositiveInt64(v); ok {
			return id, nil
		}
		return 0, newError(ReasonInvalidID, path,
			quoteForDetail(v)+" is not a customer id (an integer from 1 to 2^63-1)")
	case jsonString:
		s := v[1 : len(v)-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			s = unescape(s)
		}
		if id, ok := customerIDText(s); ok {
			return id, nil
		}
		if bytes.HasPrefix(s, []byte(gidPrefix)) && !bytes.HasPrefix(s, []byte(gidPrefix+gidCustomer+"/")) {
			return 0, newError(ReasonInvalidID, path, quoteForDetail(v)+" is not a customer gid")
		}
		return 0, newError(ReasonInvalidID, path,
			quoteForDetail(v)+" is not a customer id (an integer from 1 to 2^63-1 or gid://shopify/Customer/<id>)")
	}
	return 0, newError(ReasonWrongType, path,
		"expected a customer id (number or string), got "+kindOf(v).String())
}

// customerIDText parses "123" or "gid://shopify/Customer/123".
func customerIDText(s []byte) (int64, bool) {
	s = bytes.TrimPrefix(s, []byte(gidPrefix+gidCustomer+"/"))
	return parsePositiveInt64(s)
}

// parsePositiveInt64 parses canonical decimal digits of an integer in 1 … 2^63−1.
func parsePositiveInt64(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 19 || s[0] == '0' {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0') // 19 digits cannot overflow a uint64
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// isIntegerToken reports whether the JSON number token v is a non-negative integer in
// canonical form (no sign, fraction or exponent).
func isIntegerToken(v []byte) bool {
	if len(v) == 0 || (v[0] == '0' && len(v) > 1) {
		return false
	}
	for _, c := range v {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// parseStringID reads an optional string id from the JSON value v: absent (null) gives
// ok false. gidType, if not "", is the Shopify type whose GraphQL ids are reduced to
// their numeric part; a GraphQL id of another Shopify type is then invalid.
func parseStringID(v []byte, path, gidType string) (id string, ok bool, err error) {
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return "", false, nil
	case jsonNumber:
		if !isIntegerToken(v) || len(v) > maxIDLen {
			return "", false, newError(ReasonInvalidID, path,
				quoteForDetail(v)+" is not an id (a non-negative integer or a string)")
		}
		return string(v), true, nil
	case jsonString:
		id, problem := textID(unquote(v), gidType)
		if problem != "" {
			return "", false, newError(ReasonInvalidID, path, quoteForDetail(v)+" is not an id: "+problem)
		}
		return id, true, nil
	}
	return "", false, newError(ReasonWrongType, path,
		"expected an id (string or number), got "+kindOf(v).String())
}

// plainStringID returns the text of v if v is a JSON string without escapes that
// parseStringID(v, path, "") reads as that text: not empty, at most maxIDLen bytes.
func plainStringID(v []byte) ([]byte, bool) {
	if kindOf(v) != jsonString || len(v) < 3 || len(v)-2 > maxIDLen {
		return nil, false
	}
	text := v[1 : len(v)-1]
	if bytes.IndexByte(text, '\\') >= 0 {
		return nil, false
	}
	return text, true
}

// requireStringID is parseStringID for a required id.
func requireStringID(v []byte, path, gidType string) (string, error) {
	id, ok, err := parseStringID(v, path, gidType)
	if err == nil && !ok {
		err = newError(ReasonMissingField, path, "missing")
	}
	return id, err
}

// textID validates and normalizes an id given as text; problem says what is wrong with
// it, "" if nothing.
func textID(s, gidType string) (id, problem string) {
	switch {
	case s == "":
		return "", "empty"
	case len(s) > maxIDLen:
		return "", "longer than 255 bytes"
	case gidType != "" && strings.HasPrefix(s, gidPrefix):
		rest, found := strings.CutPrefix(s, gidPrefix+gidType+"/")
		if !found || !isIntegerToken([]byte(rest)) {
			return "", "not a gid://shopify/" + gidType + "/<id>"
		}
		return rest, ""
	}
	return s, ""
}
