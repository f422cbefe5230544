package state

import (
	"math"
	"time"
)

// PeekHeader returns the dense id and NextDue of an encoded contact record without
// decoding the rest of it: what a restore needs to index the record (the bitmaps are
// rebuilt afterwards from the stored records, which decodes them in full).
func PeekHeader(b []byte) (dense uint32, nextDue time.Time, err error) {
	d := decoder{b: b}
	switch {
	case len(d.b) == 0:
		d.fail("empty")
	case d.b[0] != codecVersion:
		d.fail("unknown version %d", d.b[0])
	}
	if d.err != nil {
		return 0, time.Time{}, d.err
	}
	d.b = d.b[1:]
	if st := d.uint(); st >= uint64(numStates) {
		d.fail("bad state %d", st)
	}
	if secs := d.uint(); secs&^secAll != 0 {
		d.fail("unknown sections %#x", secs&^secAll)
	}
	if synced := d.time(nil); !synced.IsZero() {
		d.base = synced.Unix()
	}
	dense = uint32(d.uintMax(math.MaxUint32))
	nextDue = d.time(nil)
	if d.err != nil {
		return 0, time.Time{}, d.err
	}
	return dense, nextDue, nil
}
