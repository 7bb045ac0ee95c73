// irc.test.mjs: the web client's IRC line parser and builder (web/irc.js), under node:test.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  parseLine,
  parseSource,
  unescapeTag,
  buildLine,
  fold,
  isChannel,
  isValidNick,
  splitText,
  utf8Length,
  parseIsupport,
  parsePrefix,
} from "../../web/irc.js";

test("a plain line: source, command, middle and trailing parameters", () => {
  const m = parseLine(":alice!~a@uvchat PRIVMSG #lobby :hello there");
  assert.deepEqual(m, {
    tags: {},
    source: { raw: "alice!~a@uvchat", nick: "alice", user: "~a", host: "uvchat" },
    command: "PRIVMSG",
    params: ["#lobby", "hello there"],
  });
});

test("tags with escaped values, a key without a value, vendor and client tags", () => {
  const m = parseLine(
    "@time=2024-05-01T12:00:00.000Z;msgid=abc;+draft/reply=x\\sy;example.com/k=a\\:b\\\\c\\r\\n;flag :s NOTICE * :hi",
  );
  assert.equal(m.tags.time, "2024-05-01T12:00:00.000Z");
  assert.equal(m.tags.msgid, "abc");
  assert.equal(m.tags["+draft/reply"], "x y");
  assert.equal(m.tags["example.com/k"], "a;b\\c\r\n");
  assert.equal(m.tags.flag, "");
  assert.equal(m.command, "NOTICE");
  assert.deepEqual(m.params, ["*", "hi"]);
});

test("tag unescaping: unknown escapes stand for themselves, a trailing backslash goes", () => {
  assert.equal(unescapeTag("a\\bc"), "abc");
  assert.equal(unescapeTag("end\\"), "end");
  assert.equal(unescapeTag("\\s\\s"), "  ");
  assert.equal(unescapeTag(""), "");
});

test("no source; a numeric; the command upper-cased", () => {
  assert.deepEqual(parseLine("ping :token"), { tags: {}, source: null, command: "PING", params: ["token"] });
  const m = parseLine(":uvchat 001 ann :Welcome to the uvchat Network, ann");
  assert.equal(m.command, "001");
  assert.deepEqual(m.params, ["ann", "Welcome to the uvchat Network, ann"]);
  assert.equal(m.source.nick, "uvchat");
  assert.equal(m.source.user, "");
});

test("an empty trailing parameter is a parameter; a colon inside a middle one is kept", () => {
  assert.deepEqual(parseLine(":a!b@c TOPIC #x :").params, ["#x", ""]);
  assert.deepEqual(parseLine("CAP * LS :").params, ["*", "LS", ""]);
  assert.deepEqual(parseLine(":a PRIVMSG #x a:b :c").params, ["#x", "a:b", "c"]);
});

test("extra spaces between parts are skipped, trailing CRLF removed", () => {
  const m = parseLine(":a!b@c   PRIVMSG   #x    :two  spaces\r\n");
  assert.equal(m.command, "PRIVMSG");
  assert.deepEqual(m.params, ["#x", "two  spaces"]);
  assert.deepEqual(parseLine("JOIN #a ").params, ["#a"]);
});

test("lines without a command are null", () => {
  assert.equal(parseLine(""), null);
  assert.equal(parseLine("   "), null);
  assert.equal(parseLine(":onlysource"), null);
  assert.equal(parseLine("@a=b"), null);
  assert.equal(parseLine("@a=b :src"), null);
  assert.equal(parseLine(undefined), null);
});

test("hostile text stays one parameter, byte for byte", () => {
  const evil = "<img src=x onerror=alert(1)> \u202Egnp.exe\u202C";
  assert.deepEqual(parseLine(":m!~m@uvchat PRIVMSG #lobby :" + evil).params, ["#lobby", evil]);
});

test("sources: server names, nick only, nick!user@host", () => {
  assert.deepEqual(parseSource("irc.example.com"), { raw: "irc.example.com", nick: "irc.example.com", user: "", host: "" });
  assert.deepEqual(parseSource("bob@host"), { raw: "bob@host", nick: "bob", user: "", host: "host" });
  assert.equal(parseSource("x!y@z").user, "y");
});

test("buildLine: a trailing parameter only when needed", () => {
  assert.equal(buildLine("NICK", "ann"), "NICK ann");
  assert.equal(buildLine("privmsg", "#lobby", "hello world"), "PRIVMSG #lobby :hello world");
  assert.equal(buildLine("PRIVMSG", "#lobby", ":)"), "PRIVMSG #lobby ::)");
  assert.equal(buildLine("TOPIC", "#lobby", ""), "TOPIC #lobby :");
  assert.equal(buildLine("USER", "web", "0", "*", "uvchat web client"), "USER web 0 * :uvchat web client");
  assert.equal(buildLine("LIST"), "LIST");
});

test("buildLine: CR, LF and NUL cannot smuggle a second command", () => {
  assert.equal(buildLine("PRIVMSG", "#x", "hi\r\nQUIT :bye"), "PRIVMSG #x hi");
  assert.equal(buildLine("PRIVMSG", "#x", "a\0b"), "PRIVMSG #x a");
  assert.throws(() => buildLine("PRIVMSG", "#a b", "x"));
  assert.throws(() => buildLine("PRIVMSG", ":x", "x"));
  assert.throws(() => buildLine("PRIV MSG", "x"));
});

test("parse(build(x)) gives x back", () => {
  for (const text of ["hello", "", " lead", ":colon", "a  b", "\u00e9t\u00e9 \ud83d\ude00"]) {
    assert.deepEqual(parseLine(buildLine("PRIVMSG", "#r", text)).params, ["#r", text]);
  }
});

test("fold: ASCII by default, rfc1459 on request", () => {
  assert.equal(fold("AnN[]"), "ann[]");
  assert.equal(fold("\u00c9"), "\u00c9");
  assert.equal(fold("AnN[]\\~", "rfc1459"), "ann{}|^");
  assert.equal(fold("[]~", "strict-rfc1459"), "{}~");
});

test("channels and nicks", () => {
  assert.ok(isChannel("#lobby"));
  assert.ok(!isChannel("lobby"));
  assert.ok(isChannel("&local", "#&"));
  assert.ok(isValidNick("ann"));
  assert.ok(isValidNick("[x]_`^{}|-9"));
  assert.ok(!isValidNick("9ann"));
  assert.ok(!isValidNick("-ann"));
  assert.ok(!isValidNick("an n"));
  assert.ok(!isValidNick(""));
  assert.ok(!isValidNick("a".repeat(33)));
  assert.ok(isValidNick("a".repeat(32)));
  assert.ok(!isValidNick("\u00e9"));
});

test("splitText: pieces within the byte limit, at spaces, never inside a character", () => {
  assert.deepEqual(splitText("", 10), []);
  assert.deepEqual(splitText("short", 10), ["short"]);
  assert.deepEqual(splitText("hello world again", 11), ["hello world", "again"]);
  assert.deepEqual(splitText("hello world again", 13), ["hello world", "again"]);
  assert.deepEqual(splitText("hello world again", 8), ["hello", "world", "again"]);
  assert.deepEqual(splitText("abcdefghij", 4), ["abcd", "efgh", "ij"]);
  const emoji = "\ud83d\ude00".repeat(5); // 4 bytes each
  const pieces = splitText(emoji, 9);
  assert.deepEqual(pieces, ["\ud83d\ude00\ud83d\ude00", "\ud83d\ude00\ud83d\ude00", "\ud83d\ude00"]);
  const long = ("word ".repeat(200) + "\u00e9\u00e9\u00e9").trim();
  const parts = splitText(long, 380);
  for (const p of parts) assert.ok(utf8Length(p) <= 380);
  assert.equal(parts.join(" "), long);
});

test("ISUPPORT tokens and PREFIX", () => {
  const t = parseIsupport(["ann", "CASEMAPPING=ascii", "CHANTYPES=#", "PREFIX=(o)@", "SAFELIST", "-EXCEPTS", "are supported by this server"]);
  assert.deepEqual(t, { CASEMAPPING: "ascii", CHANTYPES: "#", PREFIX: "(o)@", SAFELIST: "", EXCEPTS: null });
  assert.deepEqual(parsePrefix("(qaohv)~&@%+"), [["q", "~"], ["a", "&"], ["o", "@"], ["h", "%"], ["v", "+"]]);
  assert.deepEqual(parsePrefix("(o)@"), [["o", "@"]]);
  assert.deepEqual(parsePrefix("junk"), [["o", "@"], ["v", "+"]]);
});
