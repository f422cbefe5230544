package events

import "strconv"

// ContactKey returns "<workspace>/<customer_id>" (SPEC §2).
func ContactKey(workspace string, customerID int64) string {
	var buf [96]byte // one allocation, the key's, for shop domains of up to 75 bytes
	b := append(append(buf[:0], workspace...), '/')
	return string(strconv.AppendInt(b, customerID, 10))
}
