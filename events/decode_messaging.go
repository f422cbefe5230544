package events

// Decoders of the messaging and platform topics (SPEC §4.2). Their payloads name the
// contact "customer_id".

func (ix *index) decodeMessage(p []byte, ev *Event) error {
	var customerID, messageID, status, timestamp []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "customer_id":
			customerID = m.val()
		case "message_id":
			messageID = m.val()
		case "status":
			status = m.val()
		case "timestamp":
			timestamp = m.val()
		}
	}
	var err error
	if ev.CustomerID, err = parseCustomerID(customerID, "customer_id"); err != nil {
		return err
	}
	msg := ev.Message // preset by newEvent
	if msg == nil {
		msg = &Message{}
	}
	if ev.Kind == MessageStatus {
		if msg.MessageID, err = requireStringID(messageID, "message_id", ""); err != nil {
			return err
		}
		s, ok, err := parseEnum(status, "status", messageStatuses, false)
		if err != nil {
			return err
		}
		if !ok {
			return missing("status")
		}
		for i, name := range statusNames {
			if name == s {
				msg.Status = MessageStatusValue(i)
			}
		}
	} else if msg.MessageID, _, err = parseStringID(messageID, "message_id", ""); err != nil {
		// An inbound message may be a quick reply without an id of its own.
		return err
	}
	var have bool
	if msg.Timestamp, have, err = parseTimestamp(timestamp, "timestamp"); err != nil {
		return err
	}
	if !have {
		msg.Timestamp = ev.OccurredAt
	}
	ev.Message = msg
	return nil
}

func (ix *index) decodeAutomation(p []byte, ev *Event) error {
	var customerID, automationID, completedAt []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "customer_id":
			customerID = m.val()
		case "automation_id":
			automationID = m.val()
		case "completed_at":
			completedAt = m.val()
		}
	}
	var err error
	if ev.CustomerID, err = parseCustomerID(customerID, "customer_id"); err != nil {
		return err
	}
	a := &Automation{}
	if a.AutomationID, err = requireStringID(automationID, "automation_id", ""); err != nil {
		return err
	}
	var have bool
	if a.CompletedAt, have, err = parseTimestamp(completedAt, "completed_at"); err != nil {
		return err
	}
	if !have {
		a.CompletedAt = ev.OccurredAt
	}
	ev.Automation = a
	return nil
}

func (ix *index) decodeList(p []byte, ev *Event) error {
	var customerID, listID []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "customer_id":
			customerID = m.val()
		case "list_id":
			listID = m.val()
		}
	}
	var err error
	if ev.CustomerID, err = parseCustomerID(customerID, "customer_id"); err != nil {
		return err
	}
	ev.ListID, err = requireStringID(listID, "list_id", "")
	return err
}

func (ix *index) decodeBackInStock(p []byte, ev *Event) error {
	var customerID, variantID, productID []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "customer_id":
			customerID = m.val()
		case "variant_id":
			variantID = m.val()
		case "product_id":
			productID = m.val()
		}
	}
	var err error
	if ev.CustomerID, err = parseCustomerID(customerID, "customer_id"); err != nil {
		return err
	}
	b := &BackInStock{}
	if b.VariantID, err = requireStringID(variantID, "variant_id", gidVariant); err != nil {
		return err
	}
	if b.ProductID, _, err = parseStringID(productID, "product_id", gidProduct); err != nil {
		return err
	}
	ev.BackInStock = b
	return nil
}

func (ix *index) decodeConversation(p []byte, ev *Event) error {
	var customerID, conversationID, status, agent []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "customer_id":
			customerID = m.val()
		case "conversation_id":
			conversationID = m.val()
		case "status":
			status = m.val()
		case "assigned_agent":
			agent = m.val()
		}
	}
	var err error
	if ev.CustomerID, err = parseCustomerID(customerID, "customer_id"); err != nil {
		return err
	}
	c := &Conversation{}
	if c.ConversationID, err = requireStringID(conversationID, "conversation_id", ""); err != nil {
		return err
	}
	var ok bool
	if c.Status, ok, err = parseEnum(status, "status", conversationStates, false); err != nil {
		return err
	}
	if !ok {
		return missing("status")
	}
	// The agent is a name or an id: a number is taken as its digits.
	if kindOf(agent) == jsonNumber {
		c.AssignedAgent, _, err = parseStringID(agent, "assigned_agent", "")
	} else {
		c.AssignedAgent, _, err = parseString(agent, "assigned_agent")
	}
	if err != nil {
		return err
	}
	ev.Conversation = c
	return nil
}

func (ix *index) decodeStage(p []byte, ev *Event) error {
	var customerID, stage []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "customer_id":
			customerID = m.val()
		case "stage":
			stage = m.val()
		}
	}
	var err error
	if ev.CustomerID, err = parseCustomerID(customerID, "customer_id"); err != nil {
		return err
	}
	s, ok, err := parseEnum(stage, "stage", lifecycleStages, true)
	if err != nil {
		return err
	}
	if !ok {
		return missing("stage")
	}
	ev.Stage = &StageSet{Stage: s}
	return nil
}
