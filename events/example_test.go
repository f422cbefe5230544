package events_test

import (
	"errors"
	"fmt"

	"github.com/segmentd/segmentd/events"
)

func ExampleDecode() {
	// A forwarded webhook (Form A): the body as Shopify sent it, the topic and shop in
	// headers, keyed by the contact key.
	rec := &events.Record{
		Key:   []byte("acme.myshopify.com/9007199254740993"),
		Value: []byte(`{"customerId":"gid://shopify/Customer/9007199254740993","tags":["VIP"," summer "]}`),
		Headers: []events.Header{
			{Key: "X-Shopify-Topic", Value: []byte("customer_tags/added")},
			{Key: "X-Shopify-Shop-Domain", Value: []byte("acme.myshopify.com")},
			{Key: "X-Shopify-Webhook-Id", Value: []byte("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")},
			{Key: "X-Shopify-Triggered-At", Value: []byte("2024-11-20T10:00:00Z")},
		},
	}
	ev, err := events.Decode(rec, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(ev.Kind, ev.Topic, ev.ContactKey(), ev.Tags, ev.OccurredAt)

	// The same kind of change as an envelope (Form B), with a bad customer id.
	rec = &events.Record{
		Key:   []byte("acme.myshopify.com/1"),
		Value: []byte(`{"topic":"customer.tags_added","shop":"acme.myshopify.com","payload":{"customerId":"gid://shopify/Order/1","tags":["VIP"]}}`),
	}
	_, err = events.Decode(rec, nil)
	var bad *events.Error
	if errors.As(err, &bad) {
		fmt.Println(bad.Reason)
		fmt.Println(bad.Detail)
	}
	// Output:
	// TagsAdded customer.tags_added acme.myshopify.com/9007199254740993 [VIP summer] 2024-11-20 10:00:00 +0000 UTC
	// invalid_id
	// payload.customerId: "gid://shopify/Order/1" is not a customer gid
}

func ExampleDecodeCatalog() {
	e, err := events.DecodeCatalog(&events.Record{
		Key:   []byte("acme.myshopify.com/product/7412345678901"),
		Value: []byte(`{"workspace":"acme.myshopify.com","product_id":7412345678901,"collections":["Summer"," shoes","summer"]}`),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Workspace, e.ProductID, e.Collections)

	// A tombstone removes the product.
	e, _ = events.DecodeCatalog(&events.Record{Key: []byte("acme.myshopify.com/product/7412345678901")})
	fmt.Println(e.ProductID, e.Collections == nil)
	// Output:
	// acme.myshopify.com 7412345678901 [shoes summer]
	// 7412345678901 true
}
