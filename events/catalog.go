package events

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CatalogEntry is one record of the catalog topic; Collections nil means tombstone.
type CatalogEntry struct {
	Workspace   string
	ProductID   string
	Collections []string // lower case, trimmed, unique, sorted; non-nil unless a tombstone
}

// Limits of a catalog record.
const (
	maxCollections      = 10_000
	maxCollectionLength = 255
)

// DecodeCatalog decodes a catalog record (SPEC §4.3), checking its key
// "<workspace>/product/<product_id>". Errors are *Error.
//
// A record with a nil value is a tombstone: the entry names the product of the key and
// has nil Collections. Any other value must be the JSON object
// {"workspace", "product_id", "collections": [...]}, matching the key. Product ids follow
// the rules of other ids (a number is taken as its digits, gid://shopify/Product/<n> as
// <n>), in the key as in the value. Collection names are trimmed, lower-cased, sorted
// and deduplicated.
func DecodeCatalog(r *Record) (*CatalogEntry, error) {
	if r == nil {
		return nil, newError(ReasonKeyMismatch, "key", "no record")
	}
	keyWS, keyProduct, err := parseCatalogKey(r.Key)
	if err != nil {
		return nil, err
	}
	if r.Value == nil {
		return &CatalogEntry{Workspace: keyWS, ProductID: keyProduct}, nil
	}
	value := trimWS(r.Value)
	switch {
	case len(value) == 0:
		return nil, newError(ReasonInvalidCatalog, "value", "empty (a tombstone has no value at all)")
	case !utf8.Valid(r.Value):
		return nil, newError(ReasonInvalidUTF8, "value", "not valid UTF-8 (first bad byte at offset "+
			strconv.Itoa(firstInvalidUTF8(r.Value))+")")
	}
	if err := checkJSON(r.Value); err != nil {
		return nil, newError(ReasonInvalidJSON, "value",
			"invalid JSON at byte "+strconv.Itoa(err.off)+": "+err.msg)
	}
	switch kindOf(value) {
	case jsonObject:
	case jsonNull:
		return nil, newError(ReasonInvalidCatalog, "value", "null (a tombstone has no value at all)")
	default:
		return nil, wrongType("value", "an object", value)
	}

	var workspace, product, collections []byte
	for m := newMembers(value); m.next(); {
		switch string(m.key()) {
		case "workspace":
			workspace = m.val()
		case "product_id":
			product = m.val()
		case "collections":
			collections = m.val()
		}
	}
	ws, err := envelopeString(workspace, "workspace")
	if err != nil {
		return nil, err
	}
	e := &CatalogEntry{}
	var ok bool
	if e.Workspace, ok = parseWorkspace(trimWS(ws)); !ok {
		return nil, newError(ReasonInvalidID, "workspace", strconv.Quote(string(ws))+" is not a shop domain")
	}
	if e.ProductID, err = requireStringID(product, "product_id", gidProduct); err != nil {
		return nil, err
	}
	if e.Workspace != keyWS || e.ProductID != keyProduct {
		return nil, newError(ReasonKeyMismatch, "key", strconv.Quote(string(r.Key))+
			" does not match the value's "+strconv.Quote(e.Workspace+"/product/"+e.ProductID))
	}
	if e.Collections, err = parseCollections(collections); err != nil {
		return nil, err
	}
	return e, nil
}

// parseCatalogKey splits "<workspace>/product/<product_id>".
func parseCatalogKey(key []byte) (workspace, product string, err error) {
	bad := func(why string) error {
		return newError(ReasonKeyMismatch, "key", strconv.Quote(string(key))+" is not "+
			"<workspace>/product/<product_id>: "+why)
	}
	if len(key) == 0 {
		return "", "", newError(ReasonKeyMismatch, "key", "missing, want <workspace>/product/<product_id>")
	}
	if !utf8.Valid(key) {
		return "", "", newError(ReasonInvalidUTF8, "key", "not valid UTF-8")
	}
	ws, rest, found := strings.Cut(string(key), "/product/")
	if !found {
		return "", "", bad(`no "/product/"`)
	}
	var ok bool
	if workspace, ok = parseWorkspace([]byte(ws)); !ok || workspace != ws {
		return "", "", bad("the workspace is not a lower-case shop domain")
	}
	product, problem := textID(rest, gidProduct)
	if problem != "" {
		return "", "", bad("product id " + problem)
	}
	return workspace, product, nil
}

// parseCollections reads the collections array: required, of strings.
func parseCollections(v []byte) ([]string, error) {
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return nil, missing("collections")
	case jsonArray:
	default:
		return nil, wrongType("collections", "an array of strings", v)
	}
	out := make([]string, 0, 4)
	for e := newElements(v); e.next(); {
		path := "collections" + indexPath(e.n)
		if kindOf(e.val()) != jsonString {
			return nil, wrongType(path, "a string", e.val())
		}
		c := strings.ToLower(strings.TrimSpace(unquote(e.val())))
		switch {
		case c == "":
			return nil, newError(ReasonInvalidCatalog, path, "empty collection name")
		case len(c) > maxCollectionLength:
			return nil, newError(ReasonInvalidCatalog, path, "collection name longer than 255 bytes")
		case len(out) == maxCollections:
			return nil, newError(ReasonInvalidCatalog, "collections", "more than 10000 collections")
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
