// Package gen generates realistic synthetic traffic of Shopify stores and of a
// messaging platform: the records segmentd consumes (SPEC §4). `segmentd run` without
// brokers feeds it to the embedded broker as demo data, so that a newcomer sees
// segment transitions within a minute; the load generator and the benchmarks use it
// too. It is pure Go with no Kafka dependency: it makes record keys, values and
// headers, and callers produce them.
//
// # Types
//
// A Generator is built from a Config whose zero value means the defaults: one shop
// ("demo-shop.myshopify.com") of 3000 contacts, 400 days of order history before
// time.Now(), and a live mix of 25% orders, 15% customer events, 60% messaging. New
// plays each contact's history to know its state; then
//
//   - History yields the initial state as events: per contact a customers/create
//     webhook, its orders, consent, tags, lists, automations and messages;
//   - Next yields one live event at a time, drawn from Config.Mix, continuing what the
//     history and earlier events began (an order is created, then paid, fulfilled,
//     delivered or cancelled; a message is sent, then delivered and perhaps read);
//   - Segments returns the four demo segment definitions of each shop and Catalog the
//     product → collections mapping.
//
// Each is a Record: Key, Value, Headers (Form A only) and the canonical Topic, for
// statistics. Records own their bytes. The output is a deterministic function of the
// Config (Seed and Start included) and of the times passed to Next. A Generator is not
// safe for concurrent use.
//
// # What "realistic" means here
//
// Formats. Shopify topics are Form A webhooks with the X-Shopify-Topic, -Shop-Domain,
// -Webhook-Id (a UUID), -Triggered-At, -API-Version and -Event-Id headers; about half
// are API version 2024-10, whose customers carry tags (a comma-separated string),
// sms_marketing_consent, email_marketing_consent, orders_count and total_spent, and
// half 2025-01, which omits them (consent and tags then arrive as separate events).
// customers_marketing_consent/update comes in either form. Messaging events, WhatsApp
// consent and GraphQL-style tag events are Form B envelopes {"topic", "shop", "id",
// "occurred_at", "payload"}. Payloads follow Shopify's field names and order and
// include what segmentd ignores (addresses, money sets in the presentment currency,
// tax lines, fulfillments, tokens), Spanish and Portuguese text with accents, and
// Shopify's "gid:\/\/shopify\/..." escaping.
//
// Identity. Customer ids are 13-digit numbers growing with creation time; about 3% of
// contacts have ids above 2^53, not representable as float64. Webhooks carry them as
// JSON numbers, Form B payloads as numbers, numeric strings or customer gids, and every
// contact-scoped record is keyed "<workspace>/<customer_id>" (SPEC §2). About 3% of
// orders are guest checkouts ("customer": null) keyed "<workspace>/guest/<order_id>".
// Timestamps are RFC 3339: Shopify's in the shop's UTC offset ("-06:00") without
// fractions, headers in UTC with nanoseconds, envelopes mostly with milliseconds;
// WhatsApp statuses sometimes carry Unix seconds as a string. Phones are mostly E.164
// with spaces in national styles ("+52 55 1234 5678", "+1 (415) 555-0134"), some
// compact, about 12% without a calling code ("55 1234 5678", "0052…": the
// CUSTOMER_IS_MISSING_CALLING_CODE case), 14% absent. Markets: MX, CO, US, ES, BR, AR,
// CL, PE, with matching locales (es-MX, pt-BR, en…), currencies and VAT.
//
// Sizes (mean value bytes, measured by TestSizes and the benchmarks): orders about
// 5.8 KB (1–4 line items), customers about 1.4 KB, message statuses about 310 B (of
// which the envelope is half), other messaging and consent events 200–420 B. The live
// stream averages about 1.8 KB per event with the default mix. History and live are
// consistent per contact: updated_at and consent times only grow, a 2024-10 customer
// shows the tags and consent the contact has at that moment, and about 0.3% of
// webhooks are delivered twice with the same webhook id and body, as Shopify's
// at-least-once delivery does.
//
// # Demo segments
//
// The history is tuned so that every demo segment has members out of the default 3000
// contacts: 70% of contacts have ordered (1–8 orders, the last one 22% within 30 days,
// 13% 31–60, 15% 61–90, 20% 91–180, 30% longer ago), about half consented to
// marketing messages, about 44% of the demo shop's contacts live in Mexico, and a share received several messages and
// replied long ago or never reads. With Seed 1 the seven segments start with about 76
// (high-ltv-lapsed), 179 (first-time-buyer-cross-sell), 282 (mexico-high-spend), 285
// (re-engagement-suppression), 18 (recent-repeat-buyers, a window: 2+ orders in the
// last 30 days, which the live stream's repeat orders fill within minutes), 272 (vip)
// and 249 (vip-not-suppressed, built on vip and re-engagement-suppression through
// segment references) members. At the demo's 20 events/s the live stream makes
// about one contact per second enter or leave a segment: first and repeat orders,
// cancellations, consent changes, messages received and replies, and the exclusion tag
// exclude_from_galantis, which the stream keeps on about 3% of contacts, adding and
// removing it. The live stream compresses time: with 3000 contacts each one gets an
// event every few minutes, so segment sizes drift over a long run.
//
// Volume: the default history is about 30,000 records and 45 MB (5,500 orders make
// 32 MB of it; 15,000 message statuses), rendered in about 150 ms.
//
// Speed: Next renders about 150,000 events/s on one core with no allocation per record
// (records are cut from 256 KiB chunks); History about 400,000 events/s; New about 2 µs per
// contact. The JSON is written by appending to reused buffers, never through
// encoding/json.
package gen
