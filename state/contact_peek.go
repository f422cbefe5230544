package state

import (
	"math"
	"time"
)

// header is the fixed beginning of an encoded record.
type header struct {
	state   recordState
	secs    uint64 // the sections present
	synced  time.Time
	dense   uint32
	nextDue time.Time
}

// header decodes the fixed beginning of a record and sets the base of later times.
func (d *decoder) header() (h header) {
	switch {
	case len(d.b) == 0:
		d.fail("empty")
	case d.b[0] != codecVersion:
		d.fail("unknown version %d", d.b[0])
	}
	if d.err != nil {
		return header{}
	}
	d.b = d.b[1:]
	st := d.uint()
	if st >= uint64(numStates) {
		d.fail("bad state %d", st)
	}
	h.state = recordState(st)
	if h.secs = d.uint(); h.secs&^secAll != 0 {
		d.fail("unknown sections %#x", h.secs&^secAll)
	}
	if h.synced = d.time(nil); !h.synced.IsZero() {
		d.base = h.synced.Unix()
	}
	h.dense = uint32(d.uintMax(math.MaxUint32))
	h.nextDue = d.time(nil)
	return h
}

// PeekHeader returns the dense id and NextDue of an encoded contact record without
// decoding the rest of it: what a restore needs to index the record (the bitmaps are
// rebuilt afterwards from the stored records, which decodes them in full).
func PeekHeader(b []byte) (dense uint32, nextDue time.Time, err error) {
	d := decoder{b: b}
	h := d.header()
	if d.err != nil {
		return 0, time.Time{}, d.err
	}
	return h.dense, h.nextDue, nil
}
