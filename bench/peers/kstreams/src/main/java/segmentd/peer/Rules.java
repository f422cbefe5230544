package segmentd.peer;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The peer's subset of segmentd's rule language (docs/SPEC.md §6): orders_count and
 * total_spent (eq, gt, gte, lt, lte, between), country and language (is, is_not, in,
 * not_in), consent_status (is, is_not), tag (has, has_not), purchased_brand (in,
 * not_in). A definition with any other field is refused.
 */
final class Rules {
  static final ObjectMapper JSON = new ObjectMapper();

  private Rules() {}

  static final class Segment {
    String workspace;
    String id;
    List<List<Cond>> groups = new ArrayList<>();

    boolean matches(Contact c) {
      for (List<Cond> g : groups) {
        boolean all = true;
        for (Cond k : g) {
          if (!k.holds(c)) {
            all = false;
            break;
          }
        }
        if (all) {
          return true;
        }
      }
      return false;
    }
  }

  static final class Cond {
    String field;
    String op;
    BigDecimal lo, hi; // numbers; lo alone for one-number operators
    Set<String> strings = new HashSet<>();

    boolean holds(Contact c) {
      switch (field) {
        case "orders_count":
          return number(BigDecimal.valueOf(c.ordersCount()));
        case "total_spent":
          return number(c.totalSpent());
        case "country":
          return string(c.country);
        case "language":
          return string(c.language());
        case "consent_status":
          return string(c.consentStatus());
        case "tag": {
          boolean has = c.tags.contains(strings.iterator().next());
          return op.equals("has") == has;
        }
        case "purchased_brand": {
          boolean any = false;
          for (String b : c.brands()) {
            if (strings.contains(b)) {
              any = true;
              break;
            }
          }
          return op.equals("in") == any;
        }
        default:
          return false;
      }
    }

    private boolean number(BigDecimal v) {
      int k = v.compareTo(lo);
      switch (op) {
        case "eq": return k == 0;
        case "gt": return k > 0;
        case "gte": return k >= 0;
        case "lt": return k < 0;
        case "lte": return k <= 0;
        case "between": return k >= 0 && v.compareTo(hi) <= 0;
        default: return false;
      }
    }

    /** An absent value holds no condition, negations included (SPEC §5). */
    private boolean string(String v) {
      if (v == null) {
        return false;
      }
      boolean in = strings.contains(v);
      return op.equals("is") || op.equals("in") ? in : !in;
    }
  }

  static Segment parse(String json) throws Exception {
    JsonNode d = JSON.readTree(json);
    Segment s = new Segment();
    s.workspace = text(d, "workspace").toLowerCase(Locale.ROOT);
    s.id = text(d, "id");
    JsonNode groups = d.get("groups");
    if (groups == null || !groups.isArray() || groups.isEmpty()) {
      throw new IllegalArgumentException("groups: none");
    }
    for (JsonNode g : groups) {
      List<Cond> conds = new ArrayList<>();
      JsonNode cs = g.get("conditions");
      if (cs == null || !cs.isArray() || cs.isEmpty()) {
        throw new IllegalArgumentException("conditions: none");
      }
      for (JsonNode c : cs) {
        conds.add(cond(c));
      }
      s.groups.add(conds);
    }
    return s;
  }

  private static Cond cond(JsonNode c) {
    Cond k = new Cond();
    k.field = text(c, "field");
    k.op = text(c, "op");
    JsonNode v = c.get("value");
    switch (k.field) {
      case "orders_count":
      case "total_spent":
        need(k, "eq", "gt", "gte", "lt", "lte", "between");
        if (k.op.equals("between")) {
          k.lo = v.get(0).decimalValue();
          k.hi = v.get(1).decimalValue();
        } else {
          k.lo = v.decimalValue();
        }
        break;
      case "country":
      case "language":
        need(k, "is", "is_not", "in", "not_in");
        for (JsonNode x : v.isArray() ? v : List.of(v)) {
          String t = x.asText().trim();
          k.strings.add(k.field.equals("country") ? t.toUpperCase(Locale.ROOT) : t.toLowerCase(Locale.ROOT));
        }
        break;
      case "consent_status":
        need(k, "is", "is_not");
        k.strings.add(v.asText().trim().toLowerCase(Locale.ROOT));
        break;
      case "tag":
        need(k, "has", "has_not");
        k.strings.add(v.asText().trim().toLowerCase(Locale.ROOT));
        break;
      case "purchased_brand":
        need(k, "in", "not_in");
        for (JsonNode x : v) {
          k.strings.add(x.asText().trim().toLowerCase(Locale.ROOT));
        }
        break;
      default:
        throw new IllegalArgumentException("field " + k.field + " is outside the peer's subset");
    }
    return k;
  }

  private static void need(Cond k, String... ops) {
    for (String o : ops) {
      if (o.equals(k.op)) {
        return;
      }
    }
    throw new IllegalArgumentException("op " + k.op + " is not allowed for field " + k.field);
  }

  private static String text(JsonNode n, String member) {
    JsonNode v = n.get(member);
    if (v == null || !v.isTextual() || v.asText().isEmpty()) {
      throw new IllegalArgumentException(member + ": missing");
    }
    return v.asText();
  }
}
