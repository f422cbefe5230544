package operators

// field is a condition field of SPEC §6.
type field uint8

const (
	fieldInvalid field = iota
	fieldPhone
	fieldList
	fieldLastMessageReceivedAt
	fieldLastEngagedAt
	fieldOrdersCount
	fieldTotalSpent
	fieldDaysSinceLastOrder
	fieldDaysSinceFirstOrder
	fieldAverageOrderValue
	fieldMessagesReceived
	fieldMessagesRead
	fieldAutomationCompletions
	fieldCountry
	fieldLanguage
	fieldLifecycleStage
	fieldConsentStatus
	fieldPurchasedCollection
	fieldPurchasedBrand
	fieldPurchasedPriceRange
	fieldTag
	fieldFirstOrderAt
	fieldLastOrderAt
	fieldCustomerCreatedAt
	fieldEmailConsentStatus
	fieldCity
	fieldProvince
	fieldEmailDomain
	fieldSegment
	numFields
)

// String returns the rule-language name of f.
func (f field) String() string {
	switch f {
	case fieldPhone:
		return "phone"
	case fieldList:
		return "list"
	case fieldLastMessageReceivedAt:
		return "last_message_received_at"
	case fieldLastEngagedAt:
		return "last_engaged_at"
	case fieldOrdersCount:
		return "orders_count"
	case fieldTotalSpent:
		return "total_spent"
	case fieldDaysSinceLastOrder:
		return "days_since_last_order"
	case fieldDaysSinceFirstOrder:
		return "days_since_first_order"
	case fieldAverageOrderValue:
		return "average_order_value"
	case fieldMessagesReceived:
		return "messages_received"
	case fieldMessagesRead:
		return "messages_read"
	case fieldAutomationCompletions:
		return "automation_completions"
	case fieldCountry:
		return "country"
	case fieldLanguage:
		return "language"
	case fieldLifecycleStage:
		return "lifecycle_stage"
	case fieldConsentStatus:
		return "consent_status"
	case fieldPurchasedCollection:
		return "purchased_collection"
	case fieldPurchasedBrand:
		return "purchased_brand"
	case fieldPurchasedPriceRange:
		return "purchased_price_range"
	case fieldTag:
		return "tag"
	case fieldFirstOrderAt:
		return "first_order_at"
	case fieldLastOrderAt:
		return "last_order_at"
	case fieldCustomerCreatedAt:
		return "customer_created_at"
	case fieldEmailConsentStatus:
		return "email_consent_status"
	case fieldCity:
		return "city"
	case fieldProvince:
		return "province"
	case fieldEmailDomain:
		return "email_domain"
	case fieldSegment:
		return "segment"
	}
	return ""
}

// parseField returns the field named name, or fieldInvalid.
func parseField(name string) field {
	for f := fieldInvalid + 1; f < numFields; f++ {
		if f.String() == name {
			return f
		}
	}
	return fieldInvalid
}

// op is a condition operator of SPEC §6.
type op uint8

const (
	opInvalid op = iota
	opEq
	opGt
	opLt
	opGte
	opLte
	opBetween
	opNotBetween
	opBefore
	opAfter
	opInLastDays
	opMoreThanDaysAgo
	opIs
	opIsNot
	opIn
	opNotIn
	opInList
	opNotInList
	opHas
	opHasNot
	opInSegment
	opNotInSegment
	numOps
)

// String returns the rule-language name of o.
func (o op) String() string {
	switch o {
	case opEq:
		return "eq"
	case opGt:
		return "gt"
	case opLt:
		return "lt"
	case opGte:
		return "gte"
	case opLte:
		return "lte"
	case opBetween:
		return "between"
	case opNotBetween:
		return "not_between"
	case opBefore:
		return "before"
	case opAfter:
		return "after"
	case opInLastDays:
		return "in_last_days"
	case opMoreThanDaysAgo:
		return "more_than_days_ago"
	case opIs:
		return "is"
	case opIsNot:
		return "is_not"
	case opIn:
		return "in"
	case opNotIn:
		return "not_in"
	case opInList:
		return "in_list"
	case opNotInList:
		return "not_in_list"
	case opHas:
		return "has"
	case opHasNot:
		return "has_not"
	case opInSegment:
		return "in_segment"
	case opNotInSegment:
		return "not_in_segment"
	}
	return ""
}

// parseOp returns the operator named name, or opInvalid.
func parseOp(name string) op {
	for o := opInvalid + 1; o < numOps; o++ {
		if o.String() == name {
			return o
		}
	}
	return opInvalid
}

// allows reports whether o may be used with f (the table of SPEC §6).
func (f field) allows(o op) bool {
	switch f {
	case fieldPhone:
		return o == opEq
	case fieldList:
		return o == opInList || o == opNotInList
	case fieldLastMessageReceivedAt, fieldLastEngagedAt, fieldFirstOrderAt, fieldLastOrderAt, fieldCustomerCreatedAt:
		return o == opBefore || o == opAfter || o == opBetween || o == opInLastDays || o == opMoreThanDaysAgo
	case fieldOrdersCount, fieldTotalSpent, fieldDaysSinceLastOrder, fieldDaysSinceFirstOrder,
		fieldAverageOrderValue, fieldMessagesReceived, fieldMessagesRead, fieldAutomationCompletions:
		return o == opGt || o == opLt || o == opGte || o == opLte || o == opEq || o == opBetween
	case fieldCountry, fieldLanguage, fieldLifecycleStage, fieldCity, fieldProvince, fieldEmailDomain:
		return o == opIs || o == opIsNot || o == opIn || o == opNotIn
	case fieldConsentStatus, fieldEmailConsentStatus:
		return o == opIs || o == opIsNot
	case fieldPurchasedCollection, fieldPurchasedBrand:
		return o == opIn || o == opNotIn
	case fieldPurchasedPriceRange:
		return o == opBetween || o == opNotBetween
	case fieldTag:
		return o == opHas || o == opHasNot
	case fieldSegment:
		return o == opInSegment || o == opNotInSegment
	}
	return false
}

// negated reports whether o is the negation of a positive predicate: the condition is
// true when the value is present and the predicate false.
func (o op) negated() bool {
	switch o {
	case opIsNot, opNotIn, opNotInList, opHasNot, opNotBetween, opNotInSegment:
		return true
	}
	return false
}
