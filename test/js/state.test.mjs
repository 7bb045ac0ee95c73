// state.test.mjs: what the web client shows (web/state.js), driven through a real IrcClient
// on a fake WebSocket: rooms, conversations, members, topics, unread markers, commands.
import { test } from "node:test";
import assert from "node:assert/strict";
import { IrcClient } from "../../web/client.js";
import { ChatState, SERVER_KEY } from "../../web/state.js";
import { FakeClock, fakeSocketClass } from "./fakes.mjs";

function setup(caps = "") {
  const clock = new FakeClock();
  const { FakeWebSocket, sockets } = fakeSocketClass();
  const client = new IrcClient({
    url: "ws://x/ws",
    nick: "ann",
    WebSocket: FakeWebSocket,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
  });
  const state = new ChatState(client, { now: () => new Date(Date.UTC(2024, 0, 1, 12, 0, 0)) });
  client.connect();
  const ws = sockets[0];
  ws.open();
  if (caps) {
    ws.recv(`:uvchat CAP * LS :${caps}`);
    ws.recv(`:uvchat CAP * ACK :${caps}`);
  } else {
    ws.recv(":uvchat CAP * LS :sasl");
  }
  ws.recv(":uvchat 001 ann :Welcome", ":uvchat 005 ann CASEMAPPING=ascii CHANTYPES=# PREFIX=(o)@ :are supported by this server");
  ws.recv(":ann!~web@uvchat JOIN #lobby", ":uvchat 353 ann = #lobby :@bob ann", ":uvchat 366 ann #lobby :End of /NAMES list");
  ws.take();
  return { clock, ws, client, state };
}

const texts = (b) => b.lines.map((l) => [l.type, l.nick, l.text]);

test("the first room joined is shown, with its members from NAMES", () => {
  const { state } = setup();
  assert.equal(state.active.name, "#lobby");
  assert.ok(state.active.joined);
  assert.deepEqual([...state.active.members.values()], [
    { nick: "bob", prefix: "@" },
    { nick: "ann", prefix: "" },
  ]);
});

test("room messages, actions and notices land in the room; own lines are echoed locally", () => {
  const { ws, state } = setup();
  ws.recv(":bob!~b@uvchat PRIVMSG #lobby :hi ann", ":bob!~b@uvchat PRIVMSG #LOBBY :\x01ACTION waves\x01", ":bob!~b@uvchat NOTICE #lobby :fyi");
  state.input("hello bob");
  state.input("/me smiles");
  assert.deepEqual(ws.take(), ["PRIVMSG #lobby :hello bob", "PRIVMSG #lobby :\x01ACTION smiles\x01"]);
  assert.deepEqual(texts(state.active).slice(-5), [
    ["privmsg", "bob", "hi ann"],
    ["action", "bob", "waves"],
    ["notice", "bob", "fyi"],
    ["privmsg", "ann", "hello bob"],
    ["action", "ann", "smiles"],
  ]);
  assert.ok(state.active.lines.at(-1).self);
});

test("with echo-message the server's echo is the only copy, in the target's buffer", () => {
  const { ws, state } = setup("echo-message server-time");
  state.input("once");
  assert.deepEqual(ws.take(), ["PRIVMSG #lobby once"]);
  assert.equal(state.active.lines.filter((l) => l.text === "once").length, 0);
  ws.recv("@time=2023-05-06T07:08:09.000Z :ann!~web@uvchat PRIVMSG #lobby once");
  ws.recv(":ann!~web@uvchat PRIVMSG bob :psst");
  const line = state.active.lines.at(-1);
  assert.deepEqual([line.nick, line.text, line.self], ["ann", "once", true]);
  assert.equal(line.time.toISOString(), "2023-05-06T07:08:09.000Z");
  assert.deepEqual(texts(state.get("bob")), [["privmsg", "ann", "psst"]]);
});

test("private messages open a conversation, counted unread and highlighted until viewed", () => {
  const { ws, state } = setup();
  ws.recv(":Carol!~c@uvchat PRIVMSG ann :are you there?");
  const q = state.get("carol");
  assert.equal(q.kind, "query");
  assert.equal(q.name, "Carol");
  assert.equal(q.unread, 1);
  assert.ok(q.highlight);
  assert.equal(state.active.name, "#lobby");
  state.setActive(q.key);
  assert.equal(q.unread, 0);
  assert.ok(!q.highlight);
  state.input("yes");
  assert.deepEqual(ws.take(), ["PRIVMSG Carol yes"]);
});

test("unread: counted in rooms not in view, a mention highlights, own lines never count", () => {
  const { ws, state } = setup();
  ws.recv(":ann!~web@uvchat JOIN #dev");
  assert.equal(state.active.name, "#lobby"); // joined by the server or a reconnect: not shown
  ws.recv(":bob!~b@uvchat PRIVMSG #dev :one", ":bob!~b@uvchat PRIVMSG #dev :two", ":bob!~b@uvchat JOIN #dev");
  const dev = state.get("#dev");
  assert.equal(dev.unread, 2);
  assert.ok(!dev.highlight);
  ws.recv(":bob!~b@uvchat PRIVMSG #dev :ANN: look");
  assert.equal(dev.unread, 3);
  assert.ok(dev.highlight);
  assert.ok(dev.lines.at(-1).mention);
  ws.recv(":bob!~b@uvchat PRIVMSG #lobby :in view");
  assert.equal(state.active.unread, 0);
  state.setVisible(false);
  ws.recv(":bob!~b@uvchat PRIVMSG #lobby :hidden tab");
  assert.equal(state.active.unread, 1);
  state.setVisible(true);
  assert.equal(state.active.unread, 0);
});

test("/join shows the room once joined; leaving removes it; /part keeps it, parted", () => {
  const { ws, state } = setup();
  state.input("/join dev");
  assert.deepEqual(ws.take(), ["JOIN #dev"]);
  ws.recv(":ann!~web@uvchat JOIN #dev");
  assert.equal(state.active.name, "#dev");
  state.input("/part");
  assert.deepEqual(ws.take(), ["PART #dev"]);
  ws.recv(":ann!~web@uvchat PART #dev");
  assert.ok(state.get("#dev"));
  assert.ok(!state.get("#dev").joined);
  state.join("#dev");
  ws.recv(":ann!~web@uvchat JOIN #dev");
  state.close(state.get("#dev").key);
  assert.deepEqual(ws.take(), ["JOIN #dev", "PART #dev"]);
  ws.recv(":ann!~web@uvchat PART #dev");
  assert.equal(state.get("#dev"), undefined);
  assert.equal(state.active.name, "#lobby");
});

test("members follow JOIN, PART, QUIT, NICK, KICK and MODE", () => {
  const { ws, state } = setup();
  const lobby = state.get("#lobby");
  const nicks = () => [...lobby.members.values()].map((m) => m.prefix + m.nick).sort();
  ws.recv(":carl!~c@uvchat JOIN #lobby", ":dana!~d@uvchat JOIN #lobby");
  assert.deepEqual(nicks(), ["@bob", "ann", "carl", "dana"]);
  ws.recv(":carl!~c@uvchat NICK :carlos", ":bob!~b@uvchat MODE #lobby +o-o+n dana bob");
  assert.deepEqual(nicks(), ["@dana", "ann", "bob", "carlos"]);
  ws.recv(":carlos!~c@uvchat QUIT :Quit: bye", ":dana!~d@uvchat KICK #lobby bob :enough", ":x!~x@uvchat PART #lobby");
  assert.deepEqual(nicks(), ["@dana", "ann"]);
  assert.deepEqual(texts(lobby).slice(-3).map((t) => t[2]), ["carlos quit (Quit: bye)", "dana removed bob (enough)", "x left"]);
});

test("a conversation follows its person's new nick", () => {
  const { ws, state } = setup();
  ws.recv(":bob!~b@uvchat PRIVMSG ann :hi");
  ws.recv(":bob!~b@uvchat NICK robert");
  assert.equal(state.get("bob"), undefined);
  assert.equal(state.get("robert").name, "robert");
});

test("topics: on join, when changed, and /topic", () => {
  const { ws, state } = setup();
  ws.recv(":uvchat 332 ann #lobby :Welcome \x02all\x02", ":uvchat 333 ann #lobby bob 1700000000");
  assert.equal(state.active.topic, "Welcome \x02all\x02");
  ws.recv(":bob!~b@uvchat TOPIC #lobby :new topic");
  assert.equal(state.active.topic, "new topic");
  state.input("/topic shiny");
  state.input("/topic");
  assert.deepEqual(ws.take(), ["TOPIC #lobby shiny", "TOPIC #lobby"]);
});

test("LIST fills the room list, biggest first", () => {
  const { ws, state } = setup();
  let told = 0;
  state.on((what) => what === "roomlist" && told++);
  state.list();
  assert.deepEqual(ws.take(), ["LIST"]);
  ws.recv(":uvchat 321 ann Channel :Users  Name", ":uvchat 322 ann #a 1 :", ":uvchat 322 ann #lobby 5 :[+nt] chat", ":uvchat 323 ann :End of /LIST");
  assert.deepEqual(state.roomList, [
    { name: "#lobby", users: 5, topic: "[+nt] chat" },
    { name: "#a", users: 1, topic: "" },
  ]);
  assert.equal(told, 1);
});

test("errors go to the buffer they name, or the one in view", () => {
  const { ws, state } = setup();
  ws.recv(":uvchat 482 ann #lobby :You're not channel operator");
  assert.deepEqual(texts(state.active).at(-1), ["error", "", "#lobby: You're not channel operator"]);
  ws.recv(":uvchat 401 ann nobody :No such nick/channel");
  assert.deepEqual(texts(state.active).at(-1), ["error", "", "nobody: No such nick/channel"]);
  ws.recv(":uvchat 433 ann bob :Nickname is already in use");
  assert.deepEqual(texts(state.active).at(-1), ["error", "", "bob: Nickname is already in use"]);
});

test("commands: /msg, /notice, /nick, /who, /names, //, unknown ones, usage", () => {
  const { ws, state } = setup();
  state.input("/msg bob hello there");
  assert.equal(state.active.name, "bob");
  state.input("/notice #lobby heads up");
  state.input("/nick Annie");
  state.input("//slash");
  state.setActive(state.get("#lobby").key);
  state.input("/who");
  state.input("/names");
  state.input("/frobnicate");
  state.input("/msg");
  assert.deepEqual(ws.take(), [
    "PRIVMSG bob :hello there",
    "NOTICE #lobby :heads up",
    "NICK Annie",
    "PRIVMSG bob /slash",
    "WHO #lobby",
    "NAMES #lobby",
  ]);
  const errs = texts(state.active).filter((t) => t[0] === "error").map((t) => t[2]);
  assert.ok(errs[0].startsWith("Unknown command /frobnicate"));
  assert.equal(errs[1], "Usage: /msg NICK TEXT");
});

test("a long message goes out as several lines that each fit", () => {
  const { ws, state } = setup();
  const long = "word ".repeat(300).trim();
  state.input(long);
  const sent = ws.take();
  assert.ok(sent.length >= 4);
  for (const l of sent) assert.ok(new TextEncoder().encode(l).length <= 400, l.length);
  assert.equal(sent.map((l) => l.replace(/^PRIVMSG #lobby :?/, "")).join(" "), long);
});

test("the server window does not send text; a disconnect marks rooms parted; a reconnect says so", () => {
  const { ws, state, clock, client } = setup();
  state.setActive(SERVER_KEY);
  state.input("hello?");
  assert.deepEqual(ws.take(), []);
  assert.equal(texts(state.active).at(-1)[0], "error");
  ws.drop(1006);
  const lobby = state.get("#lobby");
  assert.ok(!lobby.joined);
  assert.equal(lobby.members.size, 0);
  assert.equal(texts(lobby).at(-1)[2], "Disconnected from the server");
  clock.advance(clock.soonest());
  const ws2 = client.ws;
  ws2.open();
  ws2.recv(":uvchat CAP * LS :sasl", ":uvchat 001 ann :Welcome");
  assert.ok(ws2.take().includes("JOIN #lobby"));
  ws2.recv(":ann!~web@uvchat JOIN #lobby");
  assert.ok(lobby.joined);
  assert.ok(texts(lobby).some((t) => t[2] === "Reconnected"));
});

test("CTCP other than ACTION is shown, never answered", () => {
  const { ws, state } = setup();
  ws.recv(":bob!~b@uvchat PRIVMSG ann :\x01VERSION\x01");
  assert.deepEqual(ws.take(), []);
  assert.deepEqual(texts(state.get("bob")).at(-1), ["info", "", "bob sent CTCP VERSION"]);
});

test("with draft/chathistory a joined room asks for its last messages and shows them between markers, unread-free", () => {
  const { ws, state } = setup("server-time message-tags batch draft/chathistory");
  ws.recv(":ann!~web@uvchat JOIN #dev");
  assert.ok(ws.take().includes("CHATHISTORY LATEST #dev * 50"));
  state.setActive("#lobby");
  ws.recv(
    ":uvchat BATCH +h1 chathistory #dev",
    "@batch=h1;time=2023-11-14T22:13:20.000Z;msgid=1 :alice!text@uvchat PRIVMSG #dev :hi ann",
    "@batch=h1;time=2023-11-14T22:14:00.000Z;msgid=2 :alice!text@uvchat TOPIC #dev :an old topic",
    ":uvchat BATCH -h1",
  );
  const dev = state.get("#dev");
  const t = texts(dev);
  const at = t.findIndex((x) => x[2] === "Earlier messages:");
  assert.ok(at >= 0);
  assert.deepEqual(t[at + 1], ["privmsg", "alice", "hi ann"]);
  assert.deepEqual(t[at + 2], ["topic", "alice", "alice set the topic: an old topic"]);
  assert.deepEqual(t[at + 3], ["info", "", "End of earlier messages"]);
  assert.equal(dev.lines[at + 1].time.toISOString(), "2023-11-14T22:13:20.000Z");
  assert.equal(dev.unread, 0); // the past is not news, even a mention
  assert.ok(!dev.highlight);
  assert.ok(!dev.topic); // nor is an old topic the room's
  // a live message after the batch counts as before
  ws.recv(":alice!text@uvchat PRIVMSG #dev :now ann");
  assert.equal(dev.unread, 1);
});

test("without draft/chathistory nothing is asked on joining", () => {
  const { ws } = setup("server-time message-tags");
  ws.recv(":ann!~web@uvchat JOIN #dev");
  assert.ok(!ws.take().some((l) => l.startsWith("CHATHISTORY")));
});

// ---- older history, as the page is scrolled up ------------------------------------------

const HIST = "server-time message-tags batch draft/chathistory";

// #dev joined with its last `n` messages, msgid m<i> for message i (1 the oldest of them).
function joinedWithHistory(n, first = 1) {
  const s = setup(HIST);
  s.ws.recv(":ann!~web@uvchat JOIN #dev");
  s.ws.take();
  s.state.setActive("#dev");
  s.ws.recv(":uvchat BATCH +l1 chathistory #dev", ...historyLines("l1", first, first + n - 1), ":uvchat BATCH -l1");
  return s;
}

function historyLines(batch, from, to, target = "#dev", nick = "alice") {
  const out = [];
  for (let i = from; i <= to; i++) {
    const t = new Date(Date.UTC(2023, 10, 14, 0, 0, i)).toISOString();
    out.push(`@batch=${batch};time=${t};msgid=m${i} :${nick}!text@uvchat PRIVMSG ${target} :line ${i}`);
  }
  return out;
}

const messages = (b) => b.lines.filter((l) => l.type === "privmsg").map((l) => l.text);
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`);

test("older messages are asked for before the oldest one shown, once at a time, and go above it", () => {
  const { ws, state } = joinedWithHistory(50, 51);
  const dev = state.get("#dev");
  assert.equal(dev.older, "idle");
  assert.ok(state.loadOlder());
  assert.equal(dev.older, "loading");
  assert.deepEqual(ws.take(), ["CHATHISTORY BEFORE #dev msgid=m51 50"]);
  assert.equal(state.loadOlder(), false); // never two at once
  assert.deepEqual(ws.take(), []);
  const events = [];
  state.on((what, b, extra) => events.push([what, extra]));
  ws.recv(":uvchat BATCH +b1 chathistory #dev", ...historyLines("b1", 1, 50), ":uvchat BATCH -b1");
  assert.deepEqual(messages(dev), range(1, 100));
  // above every line shown, oldest first
  assert.deepEqual(texts(dev).slice(0, 50).map((x) => x[2]), range(1, 50));
  assert.equal(dev.older, "idle"); // 50 asked, 50 came: there may be more
  const older = events.find((e) => e[0] === "older");
  assert.equal(older[1].lines.length, 50);
  assert.equal(older[1].before.text, "You joined #dev");
  assert.ok(!events.some((e) => e[0] === "line")); // nothing appended at the bottom
  assert.equal(dev.unread, 0);
});

test("fewer than asked is the start of history: nothing more is asked", () => {
  const { ws, state } = joinedWithHistory(50, 21);
  const dev = state.get("#dev");
  state.loadOlder();
  ws.take();
  ws.recv(":uvchat BATCH +b1 chathistory #dev", ...historyLines("b1", 1, 20), ":uvchat BATCH -b1");
  assert.deepEqual(messages(dev), range(1, 70));
  assert.equal(dev.older, "done");
  assert.equal(state.loadOlder(), false);
  assert.deepEqual(ws.take(), []);
});

test("a room whose last messages were fewer than asked has no older ones to ask for", () => {
  const { ws, state } = joinedWithHistory(7);
  assert.equal(state.get("#dev").older, "done");
  assert.equal(state.loadOlder(), false);
  assert.deepEqual(ws.take(), []);
});

test("nothing older is asked for before the last messages of a joined room came", () => {
  const { ws, state } = setup(HIST);
  ws.recv(":ann!~web@uvchat JOIN #dev");
  ws.take();
  state.setActive("#dev");
  assert.equal(state.loadOlder(), false);
  assert.deepEqual(ws.take(), []);
});

test("older lines already shown are not shown twice (by msgid), and an answer of nothing new ends the asking", () => {
  const { ws, state } = joinedWithHistory(50, 51);
  const dev = state.get("#dev");
  state.loadOlder();
  ws.take();
  // an answer that overlaps what is shown: 11..60
  ws.recv(":uvchat BATCH +b1 chathistory #dev", ...historyLines("b1", 11, 60), ":uvchat BATCH -b1");
  assert.deepEqual(messages(dev), range(11, 100));
  assert.equal(new Set(dev.lines.filter((l) => l.msgid).map((l) => l.msgid)).size, 90);
  state.loadOlder();
  assert.deepEqual(ws.take(), ["CHATHISTORY BEFORE #dev msgid=m11 50"]);
  ws.recv(":uvchat BATCH +b2 chathistory #dev", ...historyLines("b2", 11, 60), ":uvchat BATCH -b2");
  assert.deepEqual(messages(dev), range(11, 100));
  assert.equal(dev.older, "done"); // 50 came, none new: asking again would loop
});

test("older messages are never unread nor mentions, even in a room not in view", () => {
  const { ws, state } = joinedWithHistory(50, 51);
  const dev = state.get("#dev");
  state.loadOlder();
  ws.take();
  state.setActive("#lobby");
  ws.recv(
    ":uvchat BATCH +b1 chathistory #dev",
    "@batch=b1;time=2023-11-14T00:00:00.000Z;msgid=x1 :alice!text@uvchat PRIVMSG #dev :ann, look",
    "@batch=b1;time=2023-11-14T00:00:01.000Z;msgid=x2 :alice!text@uvchat TOPIC #dev :old topic",
    ":uvchat BATCH -b1",
  );
  assert.equal(dev.unread, 0);
  assert.ok(!dev.highlight);
  assert.ok(!dev.topic);
  assert.equal(messages(dev)[0], "ann, look");
  assert.equal(dev.older, "done");
});

test("a private conversation asks for older messages too, by timestamp when no line has a msgid", () => {
  const { ws, state } = setup("server-time batch draft/chathistory"); // no message-tags: no msgid
  ws.recv("@time=2024-01-01T11:00:00.000Z :bob!~b@uvchat PRIVMSG ann :hi");
  const q = state.get("bob");
  state.setActive(q.key);
  assert.ok(state.loadOlder());
  assert.deepEqual(ws.take(), ["CHATHISTORY BEFORE bob timestamp=2024-01-01T11:00:00.000Z 50"]);
  ws.recv(
    ":uvchat BATCH +p1 chathistory bob",
    "@batch=p1;time=2024-01-01T10:00:00.000Z :bob!~b@uvchat PRIVMSG ann :earlier",
    "@batch=p1;time=2024-01-01T10:00:01.000Z :ann!~web@uvchat PRIVMSG bob :my answer",
    ":uvchat BATCH -p1",
  );
  assert.deepEqual(messages(q), ["earlier", "my answer", "hi"]);
  assert.equal(q.older, "done");
  assert.equal(q.unread, 0);
});

test("a refused request ends the asking for that buffer and frees the next one", () => {
  const { ws, state } = setup(HIST);
  ws.recv("@time=2024-01-01T11:00:00.000Z;msgid=q1 :bob!~b@uvchat PRIVMSG ann :hi");
  const q = state.get("bob");
  state.setActive(q.key);
  state.loadOlder();
  ws.take();
  ws.recv(":uvchat FAIL CHATHISTORY INVALID_TARGET BEFORE bob :Messages could not be retrieved");
  assert.equal(q.older, "none");
  assert.ok(!state.client.historyAsked.has("bob"));
  assert.equal(state.loadOlder(), false);
});

test("a request in flight when the connection drops is forgotten: not loading, nothing pending", () => {
  const { ws, state, client } = joinedWithHistory(50, 51);
  const dev = state.get("#dev");
  state.loadOlder();
  ws.drop();
  assert.equal(dev.older, "idle");
  assert.equal(state.loadOlder(), false); // not connected
  assert.equal(client.historyAsked.size, 0);
});
