package events

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDecode measures Decode on the common paths: a realistic order webhook
// (Form A, about 6 KB), a message status envelope (Form B, about 200 B) and a customer
// update. Compare runs with benchstat:
//
//	go test ./events -run '^$' -bench Decode -count 10 > old.txt
//	(change)
//	go test ./events -run '^$' -bench Decode -count 10 > new.txt
//	benchstat old.txt new.txt
func BenchmarkDecode(b *testing.B) {
	order, err := os.ReadFile(filepath.Join("testdata", "webhooks", "orders_paid.json"))
	if err != nil {
		b.Fatal(err)
	}
	customer, err := os.ReadFile(filepath.Join("testdata", "webhooks", "customers_create_2024-10.json"))
	if err != nil {
		b.Fatal(err)
	}
	headers := func(topic string) []Header {
		return []Header{
			{Key: "X-Shopify-Topic", Value: []byte(topic)},
			{Key: "X-Shopify-Shop-Domain", Value: []byte("acme.myshopify.com")},
			{Key: "X-Shopify-Webhook-Id", Value: []byte("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")},
			{Key: "X-Shopify-Triggered-At", Value: []byte("2024-11-20T10:00:00.123Z")},
			{Key: "X-Shopify-API-Version", Value: []byte("2024-10")},
			{Key: "X-Shopify-Hmac-Sha256", Value: []byte("XWmrwMey6OsLMeiZKwP4FppHH3cmAiiJJAweH5Jo4bM=")},
		}
	}
	key := []byte("acme.myshopify.com/706405506930370084")
	status := []byte(`{"topic":"messages/status","shop":"acme.myshopify.com","id":"wamid.HBgNNTIxNTUxMjM0NTY3OBUCABEYEjQ1","payload":{"customer_id":706405506930370084,"message_id":"wamid.HBgNNTIxNTUxMjM0NTY3OBUCABEYEjQ1","status":"read","timestamp":1731423845}}`)
	for _, bc := range []struct {
		name string
		rec  *Record
	}{
		{"order-" + strconv.Itoa(len(order)/1000) + "KB", &Record{Key: key, Value: order, Headers: headers("orders/paid")}},
		{"message-status-" + strconv.Itoa(len(status)) + "B", &Record{Key: key, Value: status, Timestamp: time.Now()}},
		{"customer-" + strconv.Itoa(len(customer)/1000) + "KB", &Record{Key: key, Value: customer, Headers: headers("customers/create")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := Decode(bc.rec, nil); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bc.rec.Value)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(bc.rec, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkEncodingJSONOrder is the baseline Decode's hand-written reader is measured
// against: encoding/json decoding the same order into a small struct with raw ids.
func BenchmarkEncodingJSONOrder(b *testing.B) {
	order, err := os.ReadFile(filepath.Join("testdata", "webhooks", "orders_paid.json"))
	if err != nil {
		b.Fatal(err)
	}
	type lineItem struct {
		ProductID json.RawMessage `json:"product_id"`
		Vendor    *string         `json:"vendor"`
		Price     json.RawMessage `json:"price"`
		Quantity  json.RawMessage `json:"quantity"`
	}
	type smallOrder struct {
		ID                json.RawMessage               `json:"id"`
		Customer          *struct{ ID json.RawMessage } `json:"customer"`
		CreatedAt         json.RawMessage               `json:"created_at"`
		UpdatedAt         json.RawMessage               `json:"updated_at"`
		CancelledAt       json.RawMessage               `json:"cancelled_at"`
		Test              *bool                         `json:"test"`
		CurrentTotalPrice json.RawMessage               `json:"current_total_price"`
		TotalPrice        json.RawMessage               `json:"total_price"`
		CustomerLocale    *string                       `json:"customer_locale"`
		LineItems         []lineItem                    `json:"line_items"`
	}
	b.SetBytes(int64(len(order)))
	b.ReportAllocs()
	for b.Loop() {
		var o smallOrder
		if err := json.Unmarshal(order, &o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
