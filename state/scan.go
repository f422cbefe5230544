package state

// SegmentEntry reads only the beginning of a record's encoding (as
// Store.ScanContactEncodings passes it): whether the record is live (not absent, not a
// tombstone) and whether it has a membership entry of segment id segID, in any
// incarnation. The backfill of a deleted segment needs nothing else of the records
// that have no such entry, and so skips decoding them. It does not allocate. Like
// PeekHeader, it checks only what it reads: a corruption after the memberships goes
// unnoticed (UnmarshalBinary finds it).
func SegmentEntry(enc []byte, segID string) (live, has bool, err error) {
	d := decoder{b: enc}
	h := d.header()
	if d.err != nil {
		return false, false, d.err
	}
	live = h.state == stateLive
	if h.secs&secMemberships == 0 {
		return live, false, nil
	}
	num, numeric := canonicalNumber(segID)
	n := d.count(3)
	for range n {
		u := d.uint()
		var match bool
		if u&1 == 1 {
			match = numeric && u>>1 == num
		} else {
			l := u >> 1
			if l > uint64(len(d.b)) {
				d.fail("string longer than the record")
				break
			}
			match = string(d.b[:l]) == segID
			d.b = d.b[l:]
		}
		d.int()  // incarnation
		d.uint() // N
		if d.err != nil {
			break
		}
		if match {
			return live, true, nil
		}
	}
	return live, false, d.err
}
