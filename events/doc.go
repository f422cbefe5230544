// Package events decodes and validates the records of segmentd's input topics (SPEC §2,
// §4): contact change events from the events topics, and product → collections
// mappings from the catalog topic.
//
// [Decode] turns one events-topic [Record] into an [Event]: a contact-scoped change whose
// Kind says which of its payload fields is set, keyed by workspace (the shop domain,
// lower case) and customer id. [DecodeCatalog] turns a catalog record into a
// [CatalogEntry]. Both are pure functions of the record: no I/O, no package-level mutable
// state, safe for concurrent use.
//
// # The two forms
//
// A record value is JSON in one of two forms, both accepted on the same topic.
//
//   - Form A, a forwarded webhook: the value is the raw webhook body; the topic and the
//     shop come from the headers X-Shopify-Topic and X-Shopify-Shop-Domain (required),
//     the delivery id from X-Shopify-Webhook-Id, the event's time from
//     X-Shopify-Triggered-At; X-Shopify-Event-Id and X-Shopify-API-Version are kept for
//     diagnostics. Header names are matched case-insensitively, with or without "X-".
//   - Form B, an envelope: {"topic", "shop", "id"?, "occurred_at"?, "payload": {...}}.
//
// The form is recognized thus: a value that is a JSON object with both a "topic" and a
// "payload" member is an envelope, whatever the headers (a relay that wraps webhooks in
// envelopes may well copy their headers); otherwise a record with a topic header is a
// forwarded webhook; otherwise a value with one of "topic" or "payload" is an incomplete
// envelope (missing_field names the absent member), and anything else lacks its topic
// header (missing_field). No webhook body of a supported topic has a top-level "topic"
// and "payload", so the rule cannot mistake one for an envelope. In Form B the envelope's
// members win; the Shopify headers, if present, only fill in a missing delivery id or
// time, and give the diagnostics fields.
//
// Topic names are matched after trimming and lower-casing; aliases resolve to the
// canonical name (Event.Topic), e.g. customer_tags/added → customer.tags_added.
//
// # Events
//
// Every event carries:
//
//   - Workspace: the shop domain, lower-cased; it must be a domain name (labels of
//     letters, digits and inner hyphens) or the record is invalid_id.
//   - CustomerID: 1 … 2^63−1, from a JSON number (read from its digits, never through a
//     float64), a numeric string or gid://shopify/Customer/<n>.
//   - DeliveryID: the envelope's "id", else X-Shopify-Webhook-Id; "" if none.
//   - OccurredAt: the envelope's "occurred_at", else X-Shopify-Triggered-At, else the
//     record timestamp; always UTC. A payload timestamp a rule needs that is missing
//     (a message status's "timestamp", an automation's "completed_at", a consent's
//     "consent_updated_at", an order's "created_at") is set to OccurredAt.
//
// Timestamps are RFC 3339 with any number of fractional digits, or Unix seconds as a
// number or numeric string; a null or "" timestamp is absent. Other ids (order, product,
// variant, list, automation, message, conversation) are strings; a JSON number is taken
// as its exact digits, and Shopify GraphQL ids of orders, products and variants are
// reduced to their number. Money is an exact decimal (github.com/govalues/decimal).
// Enumerations are matched case-insensitively and stored in their canonical spelling:
// consent states upper case, message statuses and lifecycle stages lower case,
// conversation statuses upper case. Email consent also accepts Shopify's INVALID state.
//
// Profile fields of customers/create and customers/update are tri-state ([OptString],
// and [OptTime] for created_at): absent keeps the stored value, null or "" clears it.
// updated_at is not a profile field but the time staleness is judged by: null or ""
// is a payload without one (applied, the stored time kept).
//
// # Keys
//
// Every events record must be keyed by its contact key "<workspace>/<customer_id>",
// exactly (canonical digits, lower-case workspace); otherwise it is key_mismatch. An
// orders/delete payload names only the order: its contact is read from the key, and a
// key that is not a contact key is unroutable. An order without a customer (a guest
// checkout) gives [ErrGuestOrder], whatever its key: count it and skip it.
//
// # Invariants
//
// A non-nil Event returned by Decode has a known Kind, its canonical Topic, a non-empty
// lower-case Workspace, CustomerID ≥ 1, a record key equal to ContactKey(), and exactly
// the payload field of its Kind set (none for CustomerDelete; Tags non-nil for
// TagsAdded and TagsRemoved; OrderID non-empty for OrderDelete; ListID non-empty for the
// list kinds). Strings are copies: the Event does not alias the record's buffers.
//
// # Bad input
//
// Nothing panics. Every other failure is an [*Error] whose Reason is one of the codes
// below (all of them are listed by [Reasons]) and whose Detail names the offending
// field, e.g. `payload.line_items[2].price: "abc" is not a decimal`. The checks run in a
// fixed order (size, empty, UTF-8, JSON syntax, topic, shop, envelope and header fields,
// payload, key), so a record with several problems always gets the same reason.
//
//	reason             meaning
//	invalid_json       the value (or a catalog value) is not one JSON document, or nests
//	                   deeper than 512 levels
//	invalid_utf8       the value, a read header (Shopify-*) or a catalog key is not valid
//	                   UTF-8
//	empty_value        an events record with an empty or JSON null value
//	record_too_large   the value is larger than Options.MaxRecordBytes (default 1 MiB)
//	unknown_topic      the topic is not one of SPEC §4.1/§4.2 (aliases included)
//	missing_field      a required header or member is absent or null: topic, shop,
//	                   payload, customer id, order id, message_id, status, tags, the
//	                   consent object of a consent update, a line item's price...
//	invalid_id         a customer id that is not 1 … 2^63−1 (zero, negative, fractional,
//	                   too large, letters, a gid of another type), another id that is
//	                   empty, too long, fractional or a gid of the wrong type, or a shop
//	                   that is not a domain
//	invalid_enum       a message or conversation status, consent state or lifecycle
//	                   stage outside its allowed values
//	wrong_type         a value of the wrong JSON type (tags as a number, line_items as an
//	                   object, test as a string, payload not an object...) or a decimal or
//	                   count that does not parse
//	invalid_timestamp  a timestamp in the envelope, a header or the payload that is
//	                   neither RFC 3339 nor Unix seconds in 1970…9999
//	key_mismatch       the record key is not the contact key of the payload (other
//	                   customer, other shop, missing key), or a catalog key does not match
//	                   its value or is not <workspace>/product/<product_id>
//	unroutable         an orders/delete whose key is not a contact key
//	invalid_catalog    a catalog value that is empty or null without being a tombstone, or
//	                   an empty or over-long (255 bytes) collection name, or more than
//	                   10000 collections
//
// # Decoding cost
//
// The value is checked once against the JSON grammar, UTF-8 inside its strings in the
// same pass, then read in place: only the members a topic uses are converted, nothing
// builds a map of the payload, and the large parts of an order (addresses, tax and
// discount lines, presentment prices) are skipped without allocating. For a value of
// 1 KiB or more the check records where each object and array ends, so the decoders skip
// a nested one with a look-up instead of scanning it again. See BenchmarkDecode.
package events
