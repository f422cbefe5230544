package events

// THIS FILE IS A CONTRACT STUB: the decoder implementation replaces it. The signatures
// below are what the processor calls; keep them.

import (
	"errors"
	"time"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is the part of a Kafka record the decoders read.
type Record struct {
	Key, Value []byte
	Headers    []Header
	Timestamp  time.Time
}

// Reason is a dead-letter reason code (the segmentd-error header), documented in the
// README. Values are stable: they are part of the contract with data teams.
type Reason string

// Error is a record that cannot be applied: it goes to the dead-letter topic.
type Error struct {
	Reason Reason
	Detail string // human-readable: what was wrong and where
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Detail }

// ErrGuestOrder is returned for an order without a customer (a guest checkout): it is
// counted and skipped, not dead-lettered (SPEC §2).
var ErrGuestOrder = errors.New("order has no customer")

// Options configure decoding. The zero value means the defaults.
type Options struct {
	MaxRecordBytes int // default 1 MiB
}

// Decode decodes and validates one record of an events topic (SPEC §4). Errors are
// *Error (dead-letter) or ErrGuestOrder.
func Decode(r *Record, opts *Options) (*Event, error) { panic("stub") }

// CatalogEntry is one record of the catalog topic; Collections nil means tombstone.
type CatalogEntry struct {
	Workspace   string
	ProductID   string
	Collections []string // lower case, trimmed, unique
}

// DecodeCatalog decodes a catalog record (SPEC §4.3), checking its key
// "<workspace>/product/<product_id>". Errors are *Error.
func DecodeCatalog(r *Record) (*CatalogEntry, error) { panic("stub") }
