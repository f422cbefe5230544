package events

import "strings"

// topicSpec is what a topic name (canonical or alias) decodes to.
type topicSpec struct {
	canonical string
	kind      Kind
}

// topics maps every accepted topic name (SPEC §4.1, §4.2), aliases included, to its
// canonical name and kind. Never modified.
var topics = map[string]topicSpec{
	"customers/create": {"customers/create", CustomerUpsert},
	"customers/update": {"customers/update", CustomerUpsert},
	"customers/delete": {"customers/delete", CustomerDelete},
	"customers/redact": {"customers/redact", CustomerRedact},

	"customers_marketing_consent/update":  {"customers_marketing_consent/update", SMSConsentUpdate},
	"customers/marketing_consent_updated": {"customers_marketing_consent/update", SMSConsentUpdate},
	"customers/marketing_consent_update":  {"customers_marketing_consent/update", SMSConsentUpdate},

	"customers_whats_app_marketing_consent/update": {"customers_whats_app_marketing_consent/update", WhatsAppConsentUpdate},

	"customers_email_marketing_consent/update": {"customers_email_marketing_consent/update", EmailConsentUpdate},
	"customers/email_marketing_consent_update": {"customers_email_marketing_consent/update", EmailConsentUpdate},

	"customer.tags_added":   {"customer.tags_added", TagsAdded},
	"customer_tags/added":   {"customer.tags_added", TagsAdded},
	"customer.tags_removed": {"customer.tags_removed", TagsRemoved},
	"customer_tags/removed": {"customer.tags_removed", TagsRemoved},

	"customers/purchasing_summary": {"customers/purchasing_summary", PurchasingSummary},

	"orders/create":    {"orders/create", OrderUpsert},
	"orders/updated":   {"orders/updated", OrderUpsert},
	"orders/cancelled": {"orders/cancelled", OrderUpsert},
	"orders/paid":      {"orders/paid", OrderUpsert},
	"orders/delete":    {"orders/delete", OrderDelete},

	"messages/status":              {"messages/status", MessageStatus},
	"messages/inbound":             {"messages/inbound", MessageInbound},
	"automations/completed":        {"automations/completed", AutomationCompleted},
	"lists/member_added":           {"lists/member_added", ListMemberAdded},
	"lists/member_removed":         {"lists/member_removed", ListMemberRemoved},
	"back_in_stock/subscribed":     {"back_in_stock/subscribed", BackInStockSubscribed},
	"back_in_stock/unsubscribed":   {"back_in_stock/unsubscribed", BackInStockUnsubscribed},
	"conversations/updated":        {"conversations/updated", ConversationUpdated},
	"contacts/lifecycle_stage_set": {"contacts/lifecycle_stage_set", LifecycleStageSet},
}

// lookupTopic resolves a topic name. Names are matched after trimming and lower-casing.
func lookupTopic(name []byte) (topicSpec, bool) {
	if t, ok := topics[string(name)]; ok {
		return t, true
	}
	t, ok := topics[strings.ToLower(strings.TrimSpace(string(name)))]
	return t, ok
}

// TopicNames returns every accepted topic name, aliases included, mapped to its
// canonical name (a canonical name maps to itself). The caller owns the map.
func TopicNames() map[string]string {
	out := make(map[string]string, len(topics))
	for name, t := range topics {
		out[name] = t.canonical
	}
	return out
}
