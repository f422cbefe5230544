package events

import "strconv"

// ContactKey returns "<workspace>/<customer_id>" (SPEC §2).
func ContactKey(workspace string, customerID int64) string {
	return workspace + "/" + strconv.FormatInt(customerID, 10)
}
