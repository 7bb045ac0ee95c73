// client.test.mjs: the web client's connection (web/client.js) against a fake WebSocket and
// a fake clock: capability negotiation, registration, PING, a nick in use, reconnecting
// with backoff and rejoining.
import { test } from "node:test";
import assert from "node:assert/strict";
import { IrcClient } from "../../web/client.js";
import { FakeClock, fakeSocketClass } from "./fakes.mjs";

function setup(nick = "ann") {
  const clock = new FakeClock();
  const { FakeWebSocket, sockets } = fakeSocketClass();
  const client = new IrcClient({
    url: "ws://example.test/ws",
    nick,
    WebSocket: FakeWebSocket,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random: () => 1, // no jitter: the longest delay of each step
  });
  const events = [];
  for (const name of ["status", "registered", "nickRejected", "disconnected"])
    client.on(name, (e) => events.push([name, e]));
  return { clock, sockets, client, events };
}

function welcome(ws, nick = "ann") {
  ws.recv(`:uvchat 001 ${nick} :Welcome to the uvchat Network, ${nick}`);
}

test("opens /ws with the text.ircv3.net subprotocol and registers", () => {
  const { sockets, client } = setup();
  client.connect();
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].url, "ws://example.test/ws");
  assert.deepEqual(sockets[0].protocols, ["text.ircv3.net"]);
  sockets[0].open();
  assert.deepEqual(sockets[0].take(), ["CAP LS 302", "NICK ann", "USER web 0 * :uvchat web client"]);
});

test("requests the wanted capabilities the server offers, then ends negotiation", () => {
  const { sockets, client } = setup();
  client.connect();
  const ws = sockets[0];
  ws.open();
  ws.take();
  ws.recv(":srv CAP * LS * :sasl=PLAIN server-time", ":srv CAP * LS :echo-message batch message-tags");
  assert.deepEqual(ws.take(), ["CAP REQ :server-time echo-message message-tags"]);
  ws.recv(":srv CAP * ACK :server-time echo-message message-tags");
  assert.deepEqual(ws.take(), ["CAP END"]);
  assert.deepEqual([...client.caps].sort(), ["echo-message", "message-tags", "server-time"]);
  assert.equal(client.offered.get("sasl"), "PLAIN");
});

test("uvchat's own offer: the four wanted ones are there; a NAK leaves none", () => {
  const { sockets, client } = setup();
  client.connect();
  const ws = sockets[0];
  ws.open();
  ws.take();
  ws.recv(
    ":uvchat CAP * LS :account-notify account-tag away-notify batch cap-notify echo-message " +
      "extended-join labeled-response message-tags multi-prefix sasl=PLAIN server-time userhost-in-names",
  );
  assert.deepEqual(ws.take(), ["CAP REQ :server-time echo-message message-tags multi-prefix"]);
  ws.recv(":uvchat CAP * NAK :server-time echo-message message-tags multi-prefix");
  assert.deepEqual(ws.take(), ["CAP END"]);
  assert.equal(client.caps.size, 0);
});

test("with history on offer: batch and draft/chathistory are asked for too", () => {
  const { sockets, client } = setup();
  client.connect();
  const ws = sockets[0];
  ws.open();
  ws.take();
  ws.recv(":uvchat CAP * LS :batch draft/chathistory message-tags server-time");
  assert.deepEqual(ws.take(), ["CAP REQ :server-time message-tags batch draft/chathistory"]);
});

test("nothing wanted on offer: CAP END at once; a server without CAP: no CAP END", () => {
  const a = setup();
  a.client.connect();
  a.sockets[0].open();
  a.sockets[0].take();
  a.sockets[0].recv(":s CAP * LS :sasl");
  assert.deepEqual(a.sockets[0].take(), ["CAP END"]);

  const b = setup();
  b.client.connect();
  b.sockets[0].open();
  b.sockets[0].take();
  b.sockets[0].recv(":s 421 * CAP :Unknown command");
  welcome(b.sockets[0]);
  assert.deepEqual(b.sockets[0].take(), []);
  assert.ok(b.client.registered);
});

test("a server that never answers CAP: CAP END after 5 seconds", () => {
  const { sockets, client, clock } = setup();
  client.connect();
  sockets[0].open();
  sockets[0].take();
  clock.advance(4999);
  assert.deepEqual(sockets[0].take(), []);
  clock.advance(1);
  assert.deepEqual(sockets[0].take(), ["CAP END"]);
});

test("PING is answered with its token", () => {
  const { sockets, client } = setup();
  client.connect();
  sockets[0].open();
  welcome(sockets[0]);
  sockets[0].take();
  sockets[0].recv("PING :uvchat", "PING :two words");
  assert.deepEqual(sockets[0].take(), ["PONG uvchat", "PONG :two words"]);
});

test("a nick in use at the first connection goes back to the user, and nothing reconnects", () => {
  const { sockets, client, events, clock } = setup();
  client.connect();
  sockets[0].open();
  sockets[0].recv(":uvchat 433 * ann :Nickname is already in use");
  const rej = events.find(([n]) => n === "nickRejected");
  assert.ok(rej);
  assert.equal(rej[1].nick, "ann");
  assert.equal(rej[1].code, "433");
  assert.equal(sockets[0].closedByClient, 1000);
  clock.advance(120000);
  assert.equal(sockets.length, 1);
  // The user picks another name.
  client.setNick("ann2");
  client.connect();
  assert.equal(sockets.length, 2);
  sockets[1].open();
  assert.ok(sockets[1].take().includes("NICK ann2"));
});

test("after a drop: reconnects with growing delays, takes nick_ if the nick is held, rejoins", () => {
  const { sockets, client, clock, events } = setup();
  client.connect();
  let ws = sockets[0];
  ws.open();
  welcome(ws);
  ws.recv(":ann!~web@uvchat JOIN #lobby", ":ann!~web@uvchat JOIN #dev", ":ann!~web@uvchat JOIN #gone");
  ws.recv(":ann!~web@uvchat PART #gone :bye");
  ws.drop(1006);
  assert.ok(events.some(([n, e]) => n === "disconnected" && e.wasRegistered));

  // The server is down: each attempt fails and the wait doubles, up to 30 s.
  const delays = [];
  for (let i = 0; i < 7; i++) {
    delays.push(clock.soonest());
    clock.advance(clock.soonest());
    assert.equal(sockets.length, 2 + i);
    sockets[sockets.length - 1].drop(1006);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);

  // It comes back; the old connection still holds "ann".
  clock.advance(clock.soonest());
  ws = sockets[sockets.length - 1];
  ws.open();
  ws.take();
  ws.recv(":uvchat 433 * ann :Nickname is already in use");
  assert.deepEqual(ws.take(), ["NICK ann_"]);
  welcome(ws, "ann_");
  assert.equal(client.nick, "ann_");
  assert.deepEqual(ws.take(), ["JOIN #lobby,#dev"]);

  // It asks for its nick back every 30 s, quietly, until the old connection is gone.
  const seen = [];
  client.on("message", (m) => seen.push(m.command));
  clock.advance(30000);
  assert.deepEqual(ws.take(), ["NICK ann"]);
  ws.recv(":uvchat 433 ann_ ann :Nickname is already in use");
  assert.deepEqual(seen, []); // not shown to the user
  clock.advance(30000);
  assert.deepEqual(ws.take(), ["NICK ann"]);
  ws.recv(":ann_!~web@uvchat NICK :ann");
  assert.equal(client.nick, "ann");
  clock.advance(59000); // (at 60 s of silence the keepalive PING would start)
  assert.deepEqual(ws.take(), []);

  // A later drop starts again from the shortest delay.
  ws.drop(1006);
  assert.equal(clock.soonest(), 1000);
});

test("a nick the user changes on purpose is not taken back", () => {
  const { sockets, client, clock } = setup();
  client.connect();
  const ws = sockets[0];
  ws.open();
  welcome(ws);
  ws.recv(":ann!~web@uvchat NICK :annie");
  ws.take();
  clock.advance(120000);
  assert.deepEqual(ws.take().filter((l) => l.startsWith("NICK")), []);
  assert.equal(client.wantedNick, "annie");
});

test("quit: no reconnect", () => {
  const { sockets, client, clock } = setup();
  client.connect();
  sockets[0].open();
  welcome(sockets[0]);
  sockets[0].take();
  client.quit("bye");
  assert.ok(sockets[0].sent.includes("QUIT bye"));
  clock.advance(600000);
  assert.equal(sockets.length, 1);
});

test("a silent connection is pinged, and dropped when the PING goes unanswered", () => {
  const { sockets, client, clock } = setup();
  client.connect();
  sockets[0].open();
  welcome(sockets[0]);
  sockets[0].take();
  clock.advance(60000);
  assert.deepEqual(sockets[0].take(), ["PING keepalive"]);
  sockets[0].recv(":uvchat PONG uvchat :keepalive"); // answered: all is well
  clock.advance(59000);
  assert.equal(sockets.length, 1);
  clock.advance(1000);
  assert.deepEqual(sockets[0].take(), ["PING keepalive"]);
  clock.advance(30000); // no answer
  assert.equal(sockets[0].closedByClient, 1000);
  clock.advance(clock.soonest());
  assert.equal(sockets.length, 2);
});

test("own NICK, JOIN, PART and KICK keep the nick and the rooms to rejoin", () => {
  const { sockets, client } = setup();
  client.connect();
  const ws = sockets[0];
  ws.open();
  welcome(ws);
  ws.recv(":ann!~web@uvchat JOIN #A", ":ann!~web@uvchat JOIN #b", ":op!~o@uvchat KICK #b ann :out");
  ws.recv(":ann!~web@uvchat NICK :Anne");
  assert.equal(client.nick, "Anne");
  assert.equal(client.wantedNick, "Anne");
  assert.deepEqual([...client.rooms.values()], ["#A"]);
  ws.recv(":bob!~b@uvchat JOIN #c"); // someone else's
  assert.deepEqual([...client.rooms.values()], ["#A"]);
});

test("the first registration goes to the room the server's greeting names, once", () => {
  const { sockets, client, clock } = setup();
  client.connect();
  const ws = sockets[0];
  ws.open();
  ws.take();
  const greeting = ":uvchat NOTICE ann :*** Plain-text users (nc, telnet) talk in #lobby; JOIN #lobby to meet them";
  ws.recv(greeting); // before the welcome: not yet
  assert.deepEqual(ws.take(), []);
  welcome(ws);
  ws.take();
  ws.recv(":bob!~b@uvchat NOTICE ann :JOIN #trap to meet them"); // a person, not the server
  assert.deepEqual(ws.take(), []);
  ws.recv(greeting);
  assert.deepEqual(ws.take(), ["JOIN #lobby"]);
  ws.recv(":ann!~web@uvchat JOIN #lobby", ":ann!~web@uvchat PART #lobby");
  ws.recv(greeting); // only once
  assert.deepEqual(ws.take(), []);
  // after a reconnect it rejoins its own rooms; the greeting does not send it back
  ws.recv(":ann!~web@uvchat JOIN #dev");
  ws.drop();
  clock.advance(60000);
  const ws2 = sockets[1];
  ws2.open();
  ws2.take();
  welcome(ws2);
  assert.deepEqual(ws2.take(), ["JOIN #dev"]);
  ws2.recv(greeting);
  assert.deepEqual(ws2.take(), []);
});

test("a message with several lines is read as several lines; binary messages are ignored", () => {
  const { sockets, client } = setup();
  const got = [];
  client.on("message", (m) => got.push(m.command));
  client.connect();
  sockets[0].open();
  sockets[0].recv(":a!b@c PRIVMSG #x :one\r\n:a!b@c PRIVMSG #x :two\r\n");
  sockets[0].onmessage({ data: new ArrayBuffer(4) });
  assert.deepEqual(got, ["PRIVMSG", "PRIVMSG"]);
});

test("sendRaw never sends a second line", () => {
  const { sockets, client } = setup();
  client.connect();
  sockets[0].open();
  sockets[0].take();
  client.sendRaw("PRIVMSG #x :a\r\nQUIT");
  assert.deepEqual(sockets[0].take(), ["PRIVMSG #x :a"]);
  assert.equal(client.sendRaw("X"), true);
  sockets[0].drop();
  assert.equal(client.sendRaw("X"), false);
});
