package gen

// Demo segment definitions (SPEC §6) and the product catalog (SPEC §4.3).

// Demo segment ids, the same in every workspace.
const (
	SegmentHighLTVLapsed        = "high-ltv-lapsed"
	SegmentFirstTimeCrossSell   = "first-time-buyer-cross-sell"
	SegmentMexicoHighSpend      = "mexico-high-spend"
	SegmentReEngagementSuppress = "re-engagement-suppression"
	SegmentRecentRepeat         = "recent-repeat-buyers"
	SegmentVIP                  = "vip"
	// SegmentVIPNotSuppressed is built on two other segments (SPEC §6 segment
	// references).
	SegmentVIPNotSuppressed = "vip-not-suppressed"
)

// demoSegments are the rules of the demo segments, as JSON after "groups":. The
// generator's history is tuned so that each has members (see the package doc).
var demoSegments = []struct{ id, name, groups string }{
	{SegmentHighLTVLapsed, "High LTV lapsed - >500 spent, no order for 60+ days, opted in",
		`[{"conditions":[` +
			`{"field":"total_spent","op":"gt","value":500},` +
			`{"field":"days_since_last_order","op":"gt","value":60},` +
			`{"field":"consent_status","op":"is","value":"yes"}]}]`},
	{SegmentFirstTimeCrossSell, "First-time buyers of the last 30 days - cross-sell " + crossSellBrand,
		`[{"conditions":[` +
			`{"field":"orders_count","op":"eq","value":1},` +
			`{"field":"days_since_last_order","op":"lte","value":30},` +
			`{"field":"purchased_brand","op":"not_in","value":["` + crossSellBrand + `"]}]}]`},
	{SegmentMexicoHighSpend, "Mexico - 300+ spent",
		`[{"conditions":[` +
			`{"field":"country","op":"is","value":"MX"},` +
			`{"field":"total_spent","op":"gte","value":300}]}]`},
	{SegmentReEngagementSuppress, "Re-engagement suppression - messaged but silent",
		`[{"conditions":[` +
			`{"field":"last_engaged_at","op":"more_than_days_ago","value":30},` +
			`{"field":"messages_received","op":"gte","value":3}]},` +
			`{"conditions":[` +
			`{"field":"messages_received","op":"gte","value":6},` +
			`{"field":"messages_read","op":"eq","value":0}]}]`},
	{SegmentRecentRepeat, "2+ orders in the last 30 days",
		`[{"conditions":[` +
			`{"field":"orders_count","op":"gte","value":2,"in_last_days":30}]}]`},
	{SegmentVIP, "VIP - 500+ spent",
		`[{"conditions":[{"field":"total_spent","op":"gte","value":500}]}]`},
	{SegmentVIPNotSuppressed, "VIP but not in re-engagement suppression",
		`[{"conditions":[` +
			`{"field":"segment","op":"in_segment","value":"` + SegmentVIP + `"},` +
			`{"field":"segment","op":"not_in_segment","value":"` + SegmentReEngagementSuppress + `"}]}]`},
}

// Segments returns the demo segment definitions of every workspace, ready for the
// segments topic: Key "<workspace>/<segment_id>", Value the definition JSON.
//
//   - high-ltv-lapsed: total_spent > 500 and days_since_last_order > 60 and
//     consent_status is yes.
//   - first-time-buyer-cross-sell: orders_count = 1 and days_since_last_order ≤ 30 and
//     no purchase of the brand "Brisa Swim".
//   - mexico-high-spend: country is MX and total_spent ≥ 300.
//   - re-engagement-suppression: last engaged more than 30 days ago and at least 3
//     messages received; or at least 6 received and none read.
//   - recent-repeat-buyers: at least 2 orders in the last 30 days (a window: a
//     member leaves by itself when its second-latest order turns 30 days old).
//   - vip: total_spent ≥ 500.
//   - vip-not-suppressed: a member of vip and not of re-engagement-suppression (a
//     segment built on two others).
func (g *Generator) Segments() []Record {
	var out []Record
	var w writer
	for _, ws := range g.ws {
		for _, s := range demoSegments {
			b := append(w.buf[:0], `{"workspace":"`...)
			b = append(b, ws.domain...)
			b = append(b, `","id":"`...)
			b = append(b, s.id...)
			b = append(b, `","name":`...)
			b = appendStr(b, s.name)
			b = append(b, `,"groups":`...)
			b = append(b, s.groups...)
			w.buf = append(b, '}')
			w.key = append(append(append(w.key[:0], ws.domain...), '/'), s.id...)
			out = append(out, Record{Key: w.arena.copy(w.key), Value: w.arena.copy(w.buf)})
		}
	}
	return out
}

// Catalog returns the product → collections mapping of every workspace, ready for the
// catalog topic: Key "<workspace>/product/<product_id>", Value
// {"workspace", "product_id", "collections"}. Product ids are those of the orders'
// line items.
func (g *Generator) Catalog() []Record {
	var out []Record
	var w writer
	for _, ws := range g.ws {
		for i := range ws.products {
			p := &ws.products[i]
			b := append(w.buf[:0], `{"workspace":"`...)
			b = append(b, ws.domain...)
			b = append(b, `","product_id":"`...)
			b = appendInt(b, p.id)
			b = append(b, `","collections":[`...)
			for j, c := range p.collections {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendStr(b, c)
			}
			w.buf = append(b, "]}"...)
			w.key = append(append(w.key[:0], ws.domain...), "/product/"...)
			w.key = appendInt(w.key, p.id)
			out = append(out, Record{Key: w.arena.copy(w.key), Value: w.arena.copy(w.buf)})
		}
	}
	return out
}
