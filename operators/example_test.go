package operators_test

import (
	"fmt"
	"time"

	"github.com/govalues/decimal"

	"github.com/segmentd/segmentd/operators"
)

func ExampleParseDefinition() {
	_, err := operators.ParseDefinition([]byte(`{"workspace": "acme.myshopify.com", "id": "mx",
		"groups": [{"conditions": [{"field": "country", "op": "gt", "value": "MX"}]}]}`))
	fmt.Println(err)
	// Output: groups[0].conditions[0].op: "gt" is not allowed for field "country"
}

func ExampleRuleSet_Affected() {
	var segs []*operators.Segment
	for _, js := range []string{
		`{"workspace": "acme.myshopify.com", "id": "big-spender",
		  "groups": [{"conditions": [{"field": "total_spent", "op": "gt", "value": 500}]}]}`,
		`{"workspace": "acme.myshopify.com", "id": "vip",
		  "groups": [{"conditions": [{"field": "tag", "op": "has", "value": "VIP"}]}]}`,
	} {
		d, err := operators.ParseDefinition([]byte(js))
		if err != nil {
			panic(err)
		}
		s, err := operators.Compile(d)
		if err != nil {
			panic(err)
		}
		segs = append(segs, s)
	}
	rs := operators.NewRuleSet(segs)
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

	old := &operators.Attrs{TotalSpent: decimal.MustParse("450.00"), OrdersCount: 3}
	new := *old
	new.TotalSpent = decimal.MustParse("500.01") // an order arrived

	for _, i := range rs.Affected(old, &new, now, nil) {
		s := rs.Segment(i)
		fmt.Println(s.ID(), s.Match(old, now), "->", s.Match(&new, now))
	}
	// Output: big-spender false -> true
}

func ExampleRuleSet_NextFlip() {
	d, err := operators.ParseDefinition([]byte(`{"workspace": "acme.myshopify.com", "id": "lapsing",
		"groups": [{"conditions": [{"field": "days_since_last_order", "op": "gt", "value": 60}]}]}`))
	if err != nil {
		panic(err)
	}
	s, _ := operators.Compile(d)
	rs := operators.NewRuleSet([]*operators.Segment{s})
	lastOrder := time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)
	a := &operators.Attrs{OrdersCount: 1, LastOrderAt: lastOrder}
	fmt.Println(rs.NextFlip(a, lastOrder.Add(time.Hour)))
	// Output: 2025-08-01 09:30:00 +0000 UTC
}
