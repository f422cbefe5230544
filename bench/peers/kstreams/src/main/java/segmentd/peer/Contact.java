package segmentd.peer;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;

/** What the peer keeps of a contact: the attributes its rules read, and its memberships. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class Contact {
  /** Deleted at this event time (ms): the record is a tombstone that remembers it. */
  public Long deletedAt;
  public Long updatedAt; // the profile's updated_at
  public String country;
  public String locale;
  public String sms; // consent state, upper case, or null
  public Long smsAt;
  public String whatsapp;
  public Long whatsappAt;
  public boolean whatsappSeen;
  public TreeSet<String> tags = new TreeSet<>();
  public TreeMap<String, Order> orders = new TreeMap<>();
  public TreeMap<String, Long> deletedOrders = new TreeMap<>();
  /** Accepted delivery ids, oldest first, the latest MAX_IDS kept. */
  public List<String> deliveries = new ArrayList<>();
  public TreeSet<String> segments = new TreeSet<>();
  /** Created again after a deletion at this time (ms): earlier events are ignored. */
  public Long reborn;

  static final int MAX_IDS = 256;

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static final class Order {
    public Long updatedAt;
    public Long createdAt;
    public boolean cancelled;
    public boolean test;
    public String total;
    public String locale;
    public List<String> vendors = new ArrayList<>();
  }

  boolean counted(Order o) {
    return !o.cancelled && !o.test;
  }

  long ordersCount() {
    long n = 0;
    for (Order o : orders.values()) {
      if (counted(o)) {
        n++;
      }
    }
    return n;
  }

  BigDecimal totalSpent() {
    BigDecimal t = BigDecimal.ZERO;
    for (Order o : orders.values()) {
      if (counted(o) && o.total != null) {
        t = t.add(new BigDecimal(o.total));
      }
    }
    return t;
  }

  Set<String> brands() {
    Set<String> out = new HashSet<>();
    for (Order o : orders.values()) {
      if (counted(o)) {
        for (String v : o.vendors) {
          out.add(v.trim().toLowerCase(Locale.ROOT));
        }
      }
    }
    return out;
  }

  /** The primary subtag of the profile locale, else of the latest order's customer_locale. */
  String language() {
    String l = locale;
    if (l == null || l.isEmpty()) {
      Long best = null;
      for (Order o : orders.values()) {
        if (o.locale != null && !o.locale.isEmpty() && o.createdAt != null && (best == null || o.createdAt > best)) {
          best = o.createdAt;
          l = o.locale;
        }
      }
    }
    if (l == null || l.isEmpty()) {
      return null;
    }
    String p = l.split("[-_]", 2)[0].trim().toLowerCase(Locale.ROOT);
    return p.isEmpty() ? null : p;
  }

  String consentStatus() {
    String s = whatsappSeen ? whatsapp : sms;
    if (s == null) {
      return "unknown";
    }
    switch (s) {
      case "SUBSCRIBED":
        return "yes";
      case "UNSUBSCRIBED":
      case "NOT_SUBSCRIBED":
      case "REDACTED":
        return "no";
      default:
        return "unknown";
    }
  }

  @JsonIgnore
  boolean hasDelivery(String id) {
    return deliveries.contains(id);
  }

  void accept(String id) {
    if (id == null) {
      return;
    }
    deliveries.add(id);
    if (deliveries.size() > MAX_IDS) {
      deliveries.remove(0);
    }
  }
}
