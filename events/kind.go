package events

var kindNames = [...]string{
	KindInvalid:             "Invalid",
	CustomerUpsert:          "CustomerUpsert",
	CustomerDelete:          "CustomerDelete",
	CustomerRedact:          "CustomerRedact",
	SMSConsentUpdate:        "SMSConsentUpdate",
	WhatsAppConsentUpdate:   "WhatsAppConsentUpdate",
	EmailConsentUpdate:      "EmailConsentUpdate",
	TagsAdded:               "TagsAdded",
	TagsRemoved:             "TagsRemoved",
	PurchasingSummary:       "PurchasingSummary",
	OrderUpsert:             "OrderUpsert",
	OrderDelete:             "OrderDelete",
	MessageStatus:           "MessageStatus",
	MessageInbound:          "MessageInbound",
	AutomationCompleted:     "AutomationCompleted",
	ListMemberAdded:         "ListMemberAdded",
	ListMemberRemoved:       "ListMemberRemoved",
	BackInStockSubscribed:   "BackInStockSubscribed",
	BackInStockUnsubscribed: "BackInStockUnsubscribed",
	ConversationUpdated:     "ConversationUpdated",
	LifecycleStageSet:       "LifecycleStageSet",
}

// String returns the Go name of the kind, e.g. "OrderUpsert".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + itoa(int(k)) + ")"
}

var statusNames = [...]string{"", "sent", "delivered", "read", "played", "failed"}

// String returns the wire spelling of the status ("delivered"), "" for none.
func (s MessageStatusValue) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "MessageStatusValue(" + itoa(int(s)) + ")"
}
