package operators

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/govalues/decimal"
)

// parseAttrs reads the compact contact notation of the testdata files: whitespace-
// separated key=value tokens (a bare "-" is the empty contact). Sets are comma-
// separated and normalized as the state package would (tags, brands and collections
// lower-cased and trimmed; every set sorted and unique). Times are RFC 3339, a
// YYYY-MM-DD day (its start, UTC), or relative to now: "now", "now-60d23h59m",
// "now+1h".
//
//	phone country language consent orders spent aov first_order last_order brands
//	collections prices received read last_msg engaged completions auto=id:n,id:n lists
//	tags stage (override) excluded (a bare flag) email_consent created city province
//	domain
//	recent_orders=T@total,… recent_received=T,… recent_read=T,…
//	recent_completions=id@T,… (the dated items of windows)
func parseAttrs(s string, now time.Time) (*Attrs, error) {
	a := &Attrs{}
	for _, tok := range strings.Fields(s) {
		if tok == "-" {
			continue
		}
		k, v, _ := strings.Cut(tok, "=")
		var err error
		switch k {
		case "phone":
			a.Phone = v
		case "country":
			a.Country = v
		case "language":
			a.Language = v
		case "consent", "email_consent":
			dst := &a.Consent
			if k == "email_consent" {
				dst = &a.EmailConsent
			}
			switch v {
			case "yes":
				*dst = ConsentYes
			case "no":
				*dst = ConsentNo
			case "unknown":
				*dst = ConsentUnknown
			default:
				err = fmt.Errorf("bad consent %q", v)
			}
		case "created":
			a.CustomerCreatedAt, err = parseTestTime(v, now)
		case "city":
			a.City = strings.ToLower(strings.TrimSpace(strings.ReplaceAll(v, "_", " ")))
		case "province":
			a.Province = strings.ToUpper(v)
		case "domain":
			a.EmailDomain = strings.ToLower(v)
		case "orders":
			a.OrdersCount, err = strconv.ParseInt(v, 10, 64)
		case "spent":
			a.TotalSpent, err = decimal.Parse(v)
		case "aov":
			a.AOV, err = decimal.Parse(v)
			a.HasAOV = true
		case "first_order":
			a.FirstOrderAt, err = parseTestTime(v, now)
		case "last_order":
			a.LastOrderAt, err = parseTestTime(v, now)
		case "brands":
			a.PurchasedBrands = foldSet(v)
		case "collections":
			a.PurchasedCollections = foldSet(v)
		case "prices":
			for _, p := range strings.Split(v, ",") {
				d, perr := decimal.Parse(p)
				if perr != nil {
					return nil, perr
				}
				a.PurchasedPrices = append(a.PurchasedPrices, d)
			}
			slices.SortFunc(a.PurchasedPrices, decimal.Decimal.Cmp)
			a.PurchasedPrices = slices.CompactFunc(a.PurchasedPrices, decimal.Decimal.Equal)
		case "received":
			a.MessagesReceived, err = strconv.ParseInt(v, 10, 64)
		case "read":
			a.MessagesRead, err = strconv.ParseInt(v, 10, 64)
		case "last_msg":
			a.LastMessageReceivedAt, err = parseTestTime(v, now)
		case "engaged":
			a.LastEngagedAt, err = parseTestTime(v, now)
		case "completions":
			a.AutomationCompletions, err = strconv.ParseInt(v, 10, 64)
		case "auto":
			a.CompletionsByAutomation = map[string]int64{}
			for _, kv := range strings.Split(v, ",") {
				id, n, _ := strings.Cut(kv, ":")
				c, perr := strconv.ParseInt(n, 10, 64)
				if perr != nil {
					return nil, perr
				}
				a.CompletionsByAutomation[id] = c
			}
		case "lists":
			a.Lists = sortedSet(strings.Split(v, ","))
		case "tags":
			a.Tags = foldSet(v)
		case "segments":
			a.Segments = sortedSet(strings.Split(v, ","))
		case "stage":
			st, ok := ParseStage(v)
			if !ok {
				err = fmt.Errorf("bad stage %q", v)
			}
			a.LifecycleOverride = st
		case "excluded":
			a.Excluded = true
		case "recent_orders": // at:total,… (counted orders for windows)
			for _, e := range strings.Split(v, ",") {
				at, total, _ := strings.Cut(e, "@")
				o := TimedAmount{Total: decimal.Zero}
				if o.At, err = parseTestTime(at, now); err != nil {
					break
				}
				if total != "" {
					if o.Total, err = decimal.Parse(total); err != nil {
						break
					}
				}
				a.RecentOrders = append(a.RecentOrders, o)
			}
			slices.SortStableFunc(a.RecentOrders, func(x, y TimedAmount) int { return x.At.Compare(y.At) })
		case "recent_received", "recent_read": // times of received (read) messages
			var ts []int64
			for _, e := range strings.Split(v, ",") {
				t, perr := parseTestTime(e, now)
				if perr != nil {
					return nil, perr
				}
				ts = append(ts, UnixNano(t))
			}
			slices.Sort(ts)
			if k == "recent_received" {
				a.RecentReceived = ts
			} else {
				a.RecentRead = ts
			}
		case "recent_completions": // automation@time,…
			for _, e := range strings.Split(v, ",") {
				id, at, _ := strings.Cut(e, "@")
				t, perr := parseTestTime(at, now)
				if perr != nil {
					return nil, perr
				}
				a.RecentCompletions = append(a.RecentCompletions, Completion{At: t, Automation: id})
			}
			slices.SortStableFunc(a.RecentCompletions, func(x, y Completion) int { return x.At.Compare(y.At) })
		default:
			err = fmt.Errorf("unknown attribute %q", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tok, err)
		}
	}
	return a, nil
}

func foldSet(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		out = append(out, strings.ToLower(strings.TrimSpace(s)))
	}
	return sortedSet(out)
}

func sortedSet(ss []string) []string {
	slices.Sort(ss)
	return slices.Compact(ss)
}

// parseTestTime reads an RFC 3339 time, a YYYY-MM-DD day, or now±duration where the
// duration may start with a number of days ("60d23h59m").
func parseTestTime(s string, now time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "now"); ok {
		if rest == "" {
			return now, nil
		}
		sign := time.Duration(1)
		switch rest[0] {
		case '-':
			sign = -1
		case '+':
		default:
			return time.Time{}, fmt.Errorf("bad relative time %q", s)
		}
		d, err := parseDays(rest[1:])
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(sign * d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// parseDays parses a duration that may start with a number of 24h days.
func parseDays(s string) (time.Duration, error) {
	var d time.Duration
	if days, rest, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil {
			return 0, err
		}
		d, s = time.Duration(n)*Day, rest
	}
	if s == "" {
		return d, nil
	}
	r, err := time.ParseDuration(s)
	return d + r, err
}

// parseNow reads the now= argument of a command (default 2025-06-15T12:00:00Z).
func parseNow(c *ddCase) (time.Time, error) {
	v, ok := c.args["now"]
	if !ok {
		return time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC), nil
	}
	return parseTestTime(v, time.Time{})
}
