// Reference values for Panes' key-group assignment, computed with Flink's own code (copied verbatim
// from flink-core MathUtils.murmurHash / bitMix and flink-runtime KeyGroupRangeAssignment).
public class KeyGroups {
  public static int bitMix(int in) { in ^= in >>> 16; in *= 0x85ebca6b; in ^= in >>> 13; in *= 0xc2b2ae35; in ^= in >>> 16; return in; }
  public static int murmurHash(int code) {
    code *= 0xcc9e2d51; code = Integer.rotateLeft(code, 15); code *= 0x1b873593;
    code = Integer.rotateLeft(code, 13); code = code * 5 + 0xe6546b64;
    code ^= 4; code = bitMix(code);
    if (code >= 0) { return code; } else if (code != Integer.MIN_VALUE) { return -code; } else { return 0; }
  }
  static String esc(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) { if (c == '"' || c == '\\') b.append('\\').append(c); else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c)); else b.append(c); }
    return b.append('"').toString();
  }
  public static void main(String[] a) {
    java.util.List<String> keys = new java.util.ArrayList<>(java.util.Arrays.asList("", "a", "user-42", "h\u00e9llo", "\ud83d\ude00x", "The quick brown fox jumps over the lazy dog", "\ud800", "checkout", "42", "-1"));
    for (int i = 0; i < 40; i++) keys.add(String.format("host-%05d", i * 2503));
    int[] groups = {1, 16, 32, 128, 4096, 32768};
    StringBuilder out = new StringBuilder("{\n  \"source\": \"test/conformance/flink/KeyGroups.java: Flink's MathUtils.murmurHash and KeyGroupRangeAssignment, run with java\",\n  \"keys\": [\n");
    for (int i = 0; i < keys.size(); i++) {
      String k = keys.get(i); int h = k.hashCode(); int m = murmurHash(h);
      out.append("    { \"key\": ").append(esc(k)).append(", \"hashCode\": ").append(h).append(", \"murmur\": ").append(m).append(", \"groups\": {");
      for (int j = 0; j < groups.length; j++) out.append(j > 0 ? ", " : " ").append("\"").append(groups[j]).append("\": ").append(m % groups[j]);
      out.append(" } }").append(i < keys.size() - 1 ? "," : "").append("\n");
    }
    out.append("  ],\n  \"ints\": [");
    int[] ints = {0, 1, -1, 42, Integer.MIN_VALUE, Integer.MAX_VALUE, 123456789};
    for (int i = 0; i < ints.length; i++) out.append(i > 0 ? ", " : "").append("[").append(ints[i]).append(", ").append(murmurHash(ints[i])).append("]");
    out.append("],\n  \"ranges\": [\n");
    int[][] cases = {{128, 1}, {128, 3}, {128, 7}, {16, 16}, {100, 7}, {32768, 1000}};
    for (int c = 0; c < cases.length; c++) {
      int maxP = cases[c][0], p = cases[c][1];
      out.append("    { \"keyGroups\": ").append(maxP).append(", \"units\": ").append(p).append(", \"ranges\": [");
      for (int i = 0; i < p; i++) {
        int start = ((i * maxP + p - 1) / p); int end = ((i + 1) * maxP - 1) / p;
        out.append(i > 0 ? ", " : "").append("[").append(start).append(", ").append(end).append("]");
      }
      out.append("] }").append(c < cases.length - 1 ? "," : "").append("\n");
    }
    out.append("  ]\n}\n");
    System.out.print(out);
  }
}
