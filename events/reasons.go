package events

import (
	"errors"
	"strings"
)

// Reason is a dead-letter reason code: the value of the segmentd-error header of a
// dead-lettered record and the label of the dead-letter metric. The spellings are part of
// the contract with the teams who read the dead-letter topic: never change one.
type Reason string

// The reason codes. doc.go has the table of what each one means.
const (
	ReasonInvalidJSON      Reason = "invalid_json"
	ReasonInvalidUTF8      Reason = "invalid_utf8"
	ReasonEmptyValue       Reason = "empty_value"
	ReasonRecordTooLarge   Reason = "record_too_large"
	ReasonUnknownTopic     Reason = "unknown_topic"
	ReasonMissingField     Reason = "missing_field"
	ReasonInvalidID        Reason = "invalid_id"
	ReasonInvalidEnum      Reason = "invalid_enum"
	ReasonWrongType        Reason = "wrong_type"
	ReasonInvalidTimestamp Reason = "invalid_timestamp"
	ReasonKeyMismatch      Reason = "key_mismatch"
	ReasonUnroutable       Reason = "unroutable"
	ReasonInvalidCatalog   Reason = "invalid_catalog"
)

// Reasons returns every reason code the decoders produce, e.g. to pre-register the label
// values of a dead-letter counter. The caller owns the returned slice.
func Reasons() []Reason {
	return []Reason{
		ReasonInvalidJSON,
		ReasonInvalidUTF8,
		ReasonEmptyValue,
		ReasonRecordTooLarge,
		ReasonUnknownTopic,
		ReasonMissingField,
		ReasonInvalidID,
		ReasonInvalidEnum,
		ReasonWrongType,
		ReasonInvalidTimestamp,
		ReasonKeyMismatch,
		ReasonUnroutable,
		ReasonInvalidCatalog,
	}
}

// Error is a record that cannot be applied: it goes to the dead-letter topic with Reason
// as the segmentd-error header and Detail as segmentd-detail.
type Error struct {
	Reason Reason
	// Detail is human-readable and names what was wrong and where, as
	// "<path>: <problem>", e.g. `payload.line_items[2].price: "abc" is not a decimal`.
	// Paths inside the payload start with "payload" in both forms; envelope members are
	// named as is ("shop", "occurred_at"), headers as "header X-Shopify-Topic".
	Detail string
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Detail }

// ErrGuestOrder is returned for an order without a customer (a guest checkout): it is
// counted and skipped, not dead-lettered (SPEC §2).
var ErrGuestOrder = errors.New("order has no customer")

// newError returns an *Error whose detail is "<path>: <msg>".
func newError(r Reason, path, msg string) *Error {
	return &Error{Reason: r, Detail: path + ": " + msg}
}

// within prefixes the path of err, if it is an *Error, with the path of the enclosing
// value: within(err, "payload") turns "line_items[2].price: ..." into
// "payload.line_items[2].price: ...". Other errors are returned as they are.
func within(err error, prefix string) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	if strings.HasPrefix(e.Detail, "[") {
		e.Detail = prefix + e.Detail
	} else {
		e.Detail = prefix + "." + e.Detail
	}
	return err
}
