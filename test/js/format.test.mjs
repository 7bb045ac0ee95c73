// format.test.mjs: what the web client does with IRC formatting, CTCP and links
// (web/format.js), under node:test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseFormatting, stripFormatting, parseCtcp, plain, findLinks, mentions } from "../../web/format.js";

const B = "\x02", I = "\x1d", U = "\x1f", S = "\x1e", M = "\x11", C = "\x03", H = "\x04", R = "\x16", O = "\x0f";

test("stripping: every formatting code goes, the text stays", () => {
  assert.equal(stripFormatting(`${B}bold${B} ${I}it${I} ${U}u${U} ${S}s${S} ${M}m${M} ${R}rev${R}${O}`), "bold it u s m rev");
  assert.equal(stripFormatting(`${C}4red${C} ${C}04,12on blue${C} ${C}99x`), "red on blue x");
  assert.equal(stripFormatting(`${C},5comma stays`), ",5comma stays");
  assert.equal(stripFormatting(`${C}123`), "3"); // two digits at most
  assert.equal(stripFormatting(`${H}FF0000red${H} ${H}00ff00,0000FFboth${O}`), "red both");
  assert.equal(stripFormatting(`${H}GG`), "GG");
  assert.equal(stripFormatting("no codes at all"), "no codes at all");
});

test("stripping: other control characters go, a tab is a space", () => {
  assert.equal(stripFormatting("a\x00b\x07c\x1bd\x7fe\x85f"), "abcdef");
  assert.equal(stripFormatting("a\tb"), "a b");
  assert.equal(stripFormatting("line\r\nbreak"), "linebreak");
});

test("markup and bidi controls are text, untouched", () => {
  const evil = "<img src=x onerror=alert(1)> \u202Eevil\u202C &amp; <script>";
  assert.equal(stripFormatting(evil), evil);
  assert.deepEqual(parseFormatting(evil), [{ text: evil, bold: false, italic: false, underline: false, strike: false, mono: false }]);
});

test("runs: flags toggle, reset clears them all, equal neighbours merge", () => {
  const runs = parseFormatting(`a${B}b${I}c${O}d${C}4e`);
  const flags = runs.map((r) => [r.text, r.bold, r.italic]);
  assert.deepEqual(flags, [["a", false, false], ["b", true, false], ["c", true, true], ["de", false, false]]);
  assert.deepEqual(parseFormatting(`${B}${B}`), []);
  assert.deepEqual(parseFormatting(`${U}u${U}${S}s`).map((r) => [r.text, r.underline, r.strike]), [["u", true, false], ["s", false, true]]);
  assert.equal(parseFormatting(`${M}code`)[0].mono, true);
});

test("CTCP: ACTION with and without its closing byte; not CTCP", () => {
  assert.deepEqual(parseCtcp("\x01ACTION waves\x01"), { command: "ACTION", text: "waves" });
  assert.deepEqual(parseCtcp("\x01ACTION waves"), { command: "ACTION", text: "waves" });
  assert.deepEqual(parseCtcp("\x01VERSION\x01"), { command: "VERSION", text: "" });
  assert.deepEqual(parseCtcp("\x01action lower\x01"), { command: "ACTION", text: "lower" });
  assert.equal(parseCtcp("hello"), null);
  assert.equal(parseCtcp("\x01"), null);
  assert.equal(parseCtcp("\x01<b> x\x01"), null);
});

test("plain: formatting and controls gone, for names and reasons", () => {
  assert.equal(plain(`${B}ann${B}\x07`), "ann");
  assert.equal(plain(42), "42");
});

test("links: http and https only, sentence punctuation and stray brackets left out", () => {
  assert.deepEqual(findLinks("see https://example.com/a?b=c. ok"), [
    { text: "see ", href: null },
    { text: "https://example.com/a?b=c", href: "https://example.com/a?b=c" },
    { text: ". ok", href: null },
  ]);
  assert.deepEqual(findLinks("(http://x.org/wiki/A_(b))"), [
    { text: "(", href: null },
    { text: "http://x.org/wiki/A_(b)", href: "http://x.org/wiki/A_(b)" },
    { text: ")", href: null },
  ]);
  assert.deepEqual(findLinks("javascript:alert(1) data:text/html,<b>"), [{ text: "javascript:alert(1) data:text/html,<b>", href: null }]);
  assert.deepEqual(findLinks('x "http://a.b/<img>"'), [
    { text: 'x "', href: null },
    { text: "http://a.b/", href: "http://a.b/" },
    { text: '<img>"', href: null },
  ]);
  assert.deepEqual(findLinks(""), []);
});

test("mentions: the nick as a word, ignoring case and formatting", () => {
  assert.ok(mentions("hi ann!", "ann"));
  assert.ok(mentions("ANN: look", "ann"));
  assert.ok(mentions(`${B}ann${B}`, "ann"));
  assert.ok(!mentions("joanna", "ann"));
  assert.ok(!mentions("ann_x", "ann"));
  assert.ok(mentions("hey [x]", "[x]"));
  assert.ok(!mentions("anything", ""));
});
