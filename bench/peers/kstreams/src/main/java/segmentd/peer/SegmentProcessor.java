package segmentd.peer;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Applies one event to its contact, evaluates the contact's workspace segments and
 * forwards a membership record per change. Records it cannot read are counted and
 * skipped (the peer has no dead-letter topic).
 */
final class SegmentProcessor implements Processor<String, byte[], String, String> {
  private static final DateTimeFormatter MILLIS = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
      .withZone(ZoneOffset.UTC);
  private static final Map<String, String> ALIASES = Map.of(
      "customers/marketing_consent_updated", "customers_marketing_consent/update",
      "customers/marketing_consent_update", "customers_marketing_consent/update",
      "customers/email_marketing_consent_update", "customers_email_marketing_consent/update",
      "customer_tags/added", "customer.tags_added",
      "customer_tags/removed", "customer.tags_removed");

  private final String exclusion;
  private ProcessorContext<String, String> ctx;
  private KeyValueStore<String, byte[]> contacts;
  private KeyValueStore<String, String> segments;
  /** Parsed definitions by their JSON, so that an unchanged definition is parsed once. */
  private final Map<String, Rules.Segment> parsed = new HashMap<>();
  private long skipped;

  SegmentProcessor(String exclusion) {
    this.exclusion = exclusion;
  }

  @Override
  public void init(ProcessorContext<String, String> ctx) {
    this.ctx = ctx;
    contacts = ctx.getStateStore(Main.CONTACTS);
    segments = ctx.getStateStore(Main.SEGMENTS);
  }

  /** An event, read from either record form. */
  private static final class Event {
    String topic, shop, delivery;
    long at;
    JsonNode payload;
  }

  @Override
  public void process(Record<String, byte[]> r) {
    try {
      Event e = read(r);
      if (e != null) {
        apply(r.key(), e);
        return;
      }
    } catch (Exception ex) {
      // fall through: skipped
    }
    if (++skipped % 1000 == 1) {
      System.err.println("kstreams-peer: skipped " + skipped + " unreadable or unroutable records so far");
    }
  }

  private static String header(Record<String, byte[]> r, String name) {
    for (Header h : r.headers()) {
      String k = h.key().toLowerCase(Locale.ROOT);
      if (k.startsWith("x-")) {
        k = k.substring(2);
      }
      if (k.equals(name) && h.value() != null) {
        return new String(h.value(), StandardCharsets.UTF_8);
      }
    }
    return null;
  }

  private static Event read(Record<String, byte[]> r) throws Exception {
    if (r.value() == null || r.value().length == 0) {
      return null;
    }
    JsonNode v = Rules.JSON.readTree(r.value());
    if (v == null || !v.isObject()) {
      return null;
    }
    Event e = new Event();
    Long at;
    if (v.has("topic") && v.has("payload")) { // Form B: its own members win
      e.topic = v.path("topic").asText(null);
      e.shop = v.path("shop").asText(null);
      e.delivery = str(v.get("id"));
      at = time(v.get("occurred_at"));
      e.payload = v.get("payload");
      if (e.delivery == null) {
        e.delivery = header(r, "shopify-webhook-id");
      }
      if (at == null) {
        at = time(header(r, "shopify-triggered-at"));
      }
    } else { // Form A: a webhook with its headers
      e.topic = header(r, "shopify-topic");
      e.shop = header(r, "shopify-shop-domain");
      e.delivery = header(r, "shopify-webhook-id");
      at = time(header(r, "shopify-triggered-at"));
      e.payload = v;
    }
    if (e.topic == null || e.shop == null || e.payload == null || !e.payload.isObject()) {
      return null;
    }
    e.topic = e.topic.trim().toLowerCase(Locale.ROOT);
    e.topic = ALIASES.getOrDefault(e.topic, e.topic);
    e.shop = e.shop.trim().toLowerCase(Locale.ROOT);
    e.at = at != null ? at : r.timestamp();
    return e;
  }

  /** RFC 3339 or Unix seconds (number or digits) to epoch ms; null when absent. */
  static Long time(Object o) {
    String s;
    if (o == null) {
      return null;
    } else if (o instanceof JsonNode) {
      JsonNode n = (JsonNode) o;
      if (n.isNull()) {
        return null;
      }
      if (n.isNumber()) {
        return n.longValue() * 1000;
      }
      s = n.asText();
    } else {
      s = (String) o;
    }
    if (s.isEmpty()) {
      return null;
    }
    if (s.chars().allMatch(Character::isDigit)) {
      return Long.parseLong(s) * 1000;
    }
    return OffsetDateTime.parse(s).toInstant().toEpochMilli();
  }

  private static String str(JsonNode n) {
    if (n == null || n.isNull()) {
      return null;
    }
    String s = n.asText();
    return s.isEmpty() ? null : s;
  }

  /** A customer id: a number, digits or gid://shopify/Customer/N. */
  static String customerId(JsonNode n) {
    String s = str(n);
    if (s == null) {
      return null;
    }
    if (s.startsWith("gid://shopify/Customer/")) {
      s = s.substring("gid://shopify/Customer/".length());
    }
    long id = Long.parseLong(s);
    return id > 0 ? Long.toString(id) : null;
  }

  private static String orderId(JsonNode n) {
    String s = str(n);
    if (s != null && s.startsWith("gid://shopify/Order/")) {
      s = s.substring("gid://shopify/Order/".length());
    }
    return s;
  }

  private static JsonNode first(JsonNode p, String... names) {
    for (String n : names) {
      JsonNode v = p.get(n);
      if (v != null && !v.isNull()) {
        return v;
      }
    }
    return null;
  }

  private void apply(String key, Event e) throws Exception {
    JsonNode p = e.payload;
    String id;
    switch (e.topic) {
      case "orders/create":
      case "orders/updated":
      case "orders/cancelled":
      case "orders/paid": {
        JsonNode cust = p.get("customer");
        if (cust == null || cust.isNull()) {
          return; // a guest checkout
        }
        id = customerId(cust.get("id"));
        break;
      }
      case "orders/delete":
        id = key == null ? null : key.substring(key.indexOf('/') + 1);
        break;
      case "customers/redact":
        id = customerId(p.path("customer").get("id"));
        break;
      case "customers/create":
      case "customers/update":
      case "customers/delete":
        id = customerId(p.get("id"));
        break;
      case "customers_marketing_consent/update":
        id = customerId(first(p, "id", "customer_id"));
        break;
      case "customer.tags_added":
      case "customer.tags_removed":
        id = customerId(first(p, "customerId", "customer_id", "id"));
        break;
      case "customers/purchasing_summary":
        id = customerId(p.get("customerId"));
        break;
      case "customers_whats_app_marketing_consent/update":
      case "customers_email_marketing_consent/update":
        id = customerId(first(p, "customer_id", "id"));
        break;
      case "messages/status":
      case "messages/inbound":
      case "automations/completed":
      case "lists/member_added":
      case "lists/member_removed":
      case "back_in_stock/subscribed":
      case "back_in_stock/unsubscribed":
      case "conversations/updated":
      case "contacts/lifecycle_stage_set":
        id = customerId(p.get("customer_id"));
        break;
      default:
        throw new IllegalArgumentException("unknown topic " + e.topic);
    }
    String ck = e.shop + "/" + id;
    if (id == null || !ck.equals(key)) {
      throw new IllegalArgumentException("key mismatch");
    }
    byte[] stored = contacts.get(ck);
    Contact c = stored == null ? null : Rules.JSON.readValue(stored, Contact.class);
    boolean exists = c != null && c.deletedAt == null;
    if (c != null && e.delivery != null && exists && c.hasDelivery(e.delivery)) {
      return; // a retry of an accepted event
    }
    boolean deleting = e.topic.equals("customers/delete") || e.topic.equals("customers/redact");
    byte[] before = stored;
    if (!exists) {
      if (deleting || e.topic.equals("orders/delete")) {
        return; // nothing to delete
      }
      if (c != null && e.at < c.deletedAt) {
        return; // occurred before the deletion: a late retry
      }
      Long deletedAt = c == null ? null : c.deletedAt;
      c = new Contact();
      c.reborn = deletedAt;
      before = null;
    }
    if (c.reborn != null && e.at < c.reborn) {
      return;
    }
    List<String[]> out = new ArrayList<>(); // {segment id, type}
    if (deleting) {
      for (String s : c.segments) {
        out.add(new String[] {s, "UserRemovedFromSegment"});
      }
      Contact t = new Contact();
      t.deletedAt = e.at;
      emit(ck, id, e, out);
      contacts.put(ck, Rules.JSON.writeValueAsBytes(t));
      return;
    }
    update(c, e);
    evaluate(c, e.shop, out);
    byte[] after = Rules.JSON.writeValueAsBytes(c);
    if (before == null || !Arrays.equals(before, after)) {
      c.accept(e.delivery);
      after = Rules.JSON.writeValueAsBytes(c);
    }
    emit(ck, id, e, out);
    contacts.put(ck, after);
  }

  private void update(Contact c, Event e) throws Exception {
    JsonNode p = e.payload;
    switch (e.topic) {
      case "customers/create":
      case "customers/update": {
        Long up = time(p.get("updated_at"));
        if (up != null && c.updatedAt != null && up < c.updatedAt) {
          return; // stale
        }
        if (up != null) {
          c.updatedAt = up;
        }
        if (p.has("default_address")) {
          JsonNode a = p.get("default_address");
          c.country = a.isNull() ? null : upperOrNull(str(a.get("country_code")));
        }
        if (p.has("locale")) {
          c.locale = str(p.get("locale"));
        }
        if (p.has("tags")) {
          c.tags.clear();
          addTags(c, p.get("tags"));
        }
        if (p.has("sms_marketing_consent")) {
          sms(c, p.get("sms_marketing_consent"), e.at);
        }
        break;
      }
      case "customers_marketing_consent/update":
        sms(c, p.get("sms_marketing_consent"), e.at);
        break;
      case "customers_whats_app_marketing_consent/update": {
        JsonNode w = p.get("whats_app_marketing_consent");
        if (w == null || w.isNull()) {
          break;
        }
        Long at = time(w.get("updated_at"));
        at = at == null ? e.at : at;
        if (c.whatsappSeen && c.whatsappAt != null && at < c.whatsappAt) {
          break;
        }
        c.whatsapp = upperOrNull(str(w.get("state")));
        c.whatsappAt = at;
        c.whatsappSeen = true;
        break;
      }
      case "customer.tags_added":
        addTags(c, p.get("tags"));
        break;
      case "customer.tags_removed": {
        Contact tmp = new Contact();
        addTags(tmp, p.get("tags"));
        c.tags.removeAll(tmp.tags);
        break;
      }
      case "orders/create":
      case "orders/updated":
      case "orders/cancelled":
      case "orders/paid": {
        String oid = orderId(p.get("id"));
        Long up = time(p.get("updated_at"));
        Contact.Order old = c.orders.get(oid);
        if (old != null && up != null && old.updatedAt != null && up < old.updatedAt) {
          break;
        }
        Long del = c.deletedOrders.get(oid);
        if (del != null && up != null && up < del) {
          break;
        }
        Contact.Order o = new Contact.Order();
        o.updatedAt = up;
        o.createdAt = time(p.get("created_at"));
        if (o.createdAt == null) {
          o.createdAt = e.at;
        }
        o.cancelled = time(p.get("cancelled_at")) != null;
        o.test = p.path("test").asBoolean(false);
        JsonNode tot = first(p, "current_total_price", "total_price");
        o.total = tot == null ? null : tot.asText();
        o.locale = str(p.get("customer_locale"));
        for (JsonNode li : p.path("line_items")) {
          String v = str(li.get("vendor"));
          if (v != null && !v.trim().isEmpty()) {
            o.vendors.add(v);
          }
        }
        c.orders.put(oid, o);
        break;
      }
      case "orders/delete": {
        String oid = orderId(p.get("id"));
        c.orders.remove(oid);
        c.deletedOrders.put(oid, e.at);
        break;
      }
      default:
        break; // creates the contact; nothing of the peer's subset
    }
  }

  private static String upperOrNull(String s) {
    return s == null ? null : s.trim().toUpperCase(Locale.ROOT);
  }

  private static void sms(Contact c, JsonNode s, long eventAt) throws Exception {
    if (s == null || s.isNull()) {
      c.sms = null;
      c.smsAt = null;
      return;
    }
    Long at = time(s.get("consent_updated_at"));
    at = at == null ? eventAt : at;
    if (c.smsAt != null && at < c.smsAt) {
      return;
    }
    c.sms = upperOrNull(str(s.get("state")));
    c.smsAt = at;
  }

  private static void addTags(Contact c, JsonNode tags) {
    if (tags == null || tags.isNull()) {
      return;
    }
    List<String> ts = new ArrayList<>();
    if (tags.isArray()) {
      tags.forEach(t -> ts.add(t.asText()));
    } else {
      ts.addAll(Arrays.asList(tags.asText().split(",")));
    }
    for (String t : ts) {
      t = t.trim().toLowerCase(Locale.ROOT);
      if (!t.isEmpty()) {
        c.tags.add(t);
      }
    }
  }

  /** Evaluates every segment of the workspace and records the changes in c.segments. */
  private void evaluate(Contact c, String ws, List<String[]> out) throws Exception {
    boolean excluded = c.tags.contains(exclusion);
    java.util.Set<String> now = new java.util.TreeSet<>();
    try (KeyValueIterator<String, String> it = segments.prefixScan(ws + "/", new StringSerializer())) {
      while (it.hasNext()) {
        KeyValue<String, String> kv = it.next();
        Rules.Segment s = parsed.get(kv.value);
        if (s == null) {
          s = Rules.parse(kv.value);
          if (parsed.size() > 10_000) {
            parsed.clear();
          }
          parsed.put(kv.value, s);
        }
        if (!excluded && s.matches(c)) {
          now.add(s.id);
        }
      }
    }
    for (String s : c.segments) {
      if (!now.contains(s)) {
        out.add(new String[] {s, "UserRemovedFromSegment"});
      }
    }
    for (String s : now) {
      if (!c.segments.contains(s)) {
        out.add(new String[] {s, "UserAddedToSegment"});
      }
    }
    c.segments.clear();
    c.segments.addAll(now);
  }

  private void emit(String ck, String id, Event e, List<String[]> out) {
    long now = System.currentTimeMillis();
    for (String[] t : out) {
      ObjectNode v = Rules.JSON.createObjectNode();
      v.put("type", t[1]);
      v.put("id", UUID.nameUUIDFromBytes((ck + "|" + t[0] + "|" + t[1] + "|" + e.delivery + "|" + e.at)
          .getBytes(StandardCharsets.UTF_8)).toString());
      v.put("workspace", e.shop);
      v.put("segment_id", t[0]);
      v.put("segment_version", 1);
      v.put("customer_id", Long.parseLong(id));
      v.put("occurred_at", MILLIS.format(Instant.ofEpochMilli(now)));
      v.put("reason", "event");
      ObjectNode cause = v.putObject("cause");
      cause.put("topic", e.topic);
      cause.put("delivery_id", e.delivery);
      RecordHeaders h = new RecordHeaders();
      h.add("type", t[1].getBytes(StandardCharsets.UTF_8));
      ctx.forward(new Record<>(ck, v.toString(), now, h));
    }
  }
}
