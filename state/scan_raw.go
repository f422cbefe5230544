package state

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// ScanContactsRaw calls fn with the key and the encoded record of every contact of
// partition p, in key order, until fn returns false or an error. value is valid only
// during the call: copy it to keep it. It decodes nothing, so that a caller can
// decode on other goroutines.
func (s *Store) ScanContactsRaw(p int32, fn func(key string, value []byte) (bool, error)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: contactKey(p, ""),
		UpperBound: prefixEnd(contactKey(p, "")),
	})
	if err != nil {
		return fmt.Errorf("scan partition %d: %w", p, err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		key := string(it.Key()[3:])
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("scan partition %d at %s: %w", p, key, err)
		}
		ok, err := fn(key, v)
		if err != nil || !ok {
			return err
		}
	}
	return it.Error()
}
