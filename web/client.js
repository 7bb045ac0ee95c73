// client.js: one IRC connection over WebSocket (the IRCv3 WebSocket spec: subprotocol
// text.ircv3.net, one IRC line per text message, no CRLF), kept alive: capability
// negotiation, registration, PING/PONG both ways, a nick in use, and reconnecting with
// backoff, rejoining the rooms it was in. It knows nothing of the page: it reports what
// happens as events (on(name, fn)), and its WebSocket and timers can be replaced, so that
// Node's tests drive it with a fake socket and a fake clock.

import { parseLine, buildLine, fold, isChannel, parseIsupport } from "./irc.js";

// Capabilities the page uses when the server offers them; without them it does the same
// work itself (local echo, local time). With draft/chathistory (and batch) it asks for a
// room's last HISTORY_LINES messages when it joins it, and for older ones when asked
// (requestHistory); each request is remembered until its answer comes (takeHistoryRequest),
// since the server answers a target's requests in order.
export const WANTED_CAPS = ["server-time", "echo-message", "message-tags", "multi-prefix", "batch", "draft/chathistory"];
export const HISTORY_LINES = 50;

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;
const CAP_TIMEOUT_MS = 5000; // a server that never answers CAP LS: register without caps
const KEEPALIVE_MS = 60000; // silent this long: PING the server
const PING_TIMEOUT_MS = 30000; // and no answer this long after: reconnect
const REGAIN_MS = 30000; // registered as nick_ after a reconnect: ask for nick again this often

export class IrcClient {
  // opts: { url, nick, user?, realname?, WebSocket?, setTimeout?, clearTimeout?, random? }
  constructor(opts) {
    this.url = opts.url;
    this.wantedNick = opts.nick;
    this.user = opts.user || "web";
    this.realname = opts.realname || "uvchat web client";
    this.WebSocket = opts.WebSocket || globalThis.WebSocket;
    this.setTimeout = opts.setTimeout || globalThis.setTimeout.bind(globalThis);
    this.clearTimeout = opts.clearTimeout || globalThis.clearTimeout.bind(globalThis);
    this.random = opts.random || Math.random;
    this.handlers = new Map();
    this.ws = null;
    this.nick = opts.nick;
    this.registered = false;
    this.capsDone = false;
    this.everRegistered = false; // a 433 before the first welcome goes back to the user
    this.caps = new Set(); // enabled
    this.offered = new Map(); // name -> value, from CAP LS
    this.isupport = { CASEMAPPING: "ascii", CHANTYPES: "#", PREFIX: "(o)@", NICKLEN: "32" };
    this.rooms = new Map(); // fold(name) -> name: the rooms to be in (rejoined on reconnect)
    this.historyAsked = new Map();
    this.greeted = false; // went to the room the server's greeting named (once per page)
    this.attempt = 0;
    this.stopped = true;
    this.timers = { reconnect: null, cap: null, keepalive: null, pingTimeout: null, regain: null };
  }

  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, []);
    this.handlers.get(name).push(fn);
  }

  emit(name, ...args) {
    for (const fn of this.handlers.get(name) || []) fn(...args);
  }

  fold(s) {
    return fold(s, this.isupport.CASEMAPPING);
  }

  isChannel(name) {
    return isChannel(name, this.isupport.CHANTYPES || "#");
  }

  isMe(nick) {
    return nick != null && this.fold(nick) === this.fold(this.nick);
  }

  // Connect (or reconnect now, after a failure, cancelling the wait).
  connect() {
    this.stopped = false;
    this.cancel("reconnect");
    if (this.ws) return;
    this.registered = false;
    this.capsDone = false;
    this.caps = new Set();
    this.historyAsked = new Map(); // fold(target) -> [{sub, limit}] not answered yet
    this.offered = new Map();
    this.nick = this.wantedNick;
    this.emit("status", { state: "connecting", attempt: this.attempt });
    let ws;
    try {
      ws = new this.WebSocket(this.url, ["text.ircv3.net"]);
    } catch (e) {
      this.emit("status", { state: "error", text: String(e && e.message ? e.message : e) });
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.emit("status", { state: "registering" });
      this.send("CAP", "LS", "302");
      this.send("NICK", this.nick);
      this.send("USER", this.user, "0", "*", this.realname);
      this.arm("cap", CAP_TIMEOUT_MS, () => this.endCaps());
      this.armKeepalive();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      if (typeof ev.data !== "string") return; // text.ircv3.net: text messages only
      this.armKeepalive();
      // One message is one line; tolerate a server that sends CRLF or several lines anyway.
      for (const raw of ev.data.split(/\r?\n/)) if (raw !== "") this.receive(raw);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.dropped(ev && ev.code, ev && ev.reason);
    };
    ws.onerror = () => {
      // A close event always follows; nothing to do here.
    };
  }

  // Disconnect for good (the user quit): no reconnect.
  quit(reason) {
    this.stopped = true;
    this.cancel("reconnect");
    if (this.ws && this.ws.readyState === 1) this.send("QUIT", reason || "Leaving");
    this.closeSocket();
    this.emit("status", { state: "stopped" });
  }

  closeSocket() {
    const ws = this.ws;
    this.ws = null;
    this.registered = false;
    this.historyAsked = new Map(); // nothing asked on this connection is answered now
    for (const t of ["cap", "keepalive", "pingTimeout", "regain"]) this.cancel(t);
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000);
      } catch (e) {
        // already closed
      }
    }
  }

  dropped(code, reason) {
    const was = this.registered;
    this.closeSocket();
    this.emit("disconnected", { code, reason, wasRegistered: was });
    if (!this.stopped) this.scheduleReconnect();
  }

  // The next attempt after a growing, jittered delay: 1 s, 2 s, 4 s ... up to 30 s.
  scheduleReconnect() {
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** Math.min(this.attempt, 10));
    const delay = Math.round(base / 2 + (this.random() * base) / 2);
    this.attempt++;
    this.emit("status", { state: "waiting", delay, attempt: this.attempt });
    this.arm("reconnect", delay, () => this.connect());
  }

  arm(name, ms, fn) {
    this.cancel(name);
    this.timers[name] = this.setTimeout(() => {
      this.timers[name] = null;
      fn();
    }, ms);
  }

  cancel(name) {
    if (this.timers[name] != null) this.clearTimeout(this.timers[name]);
    this.timers[name] = null;
  }

  armKeepalive() {
    this.cancel("pingTimeout");
    this.arm("keepalive", KEEPALIVE_MS, () => {
      this.send("PING", "keepalive");
      this.arm("pingTimeout", PING_TIMEOUT_MS, () => {
        this.emit("status", { state: "error", text: "the server stopped answering" });
        this.dropped(4000, "ping timeout");
      });
    });
  }

  // Send one line built from a command and its parameters. False when not connected.
  send(command, ...params) {
    return this.sendRaw(buildLine(command, ...params));
  }

  sendRaw(line) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    line = line.replace(/[\r\n].*$/s, "");
    this.ws.send(line);
    this.emit("sent", line);
    return true;
  }

  // CAP negotiation done: register. send=false for a server that does not know CAP.
  endCaps(send = true) {
    this.cancel("cap");
    if (this.capsDone) return;
    this.capsDone = true;
    if (send) this.send("CAP", "END");
  }

  receive(raw) {
    const msg = parseLine(raw);
    if (msg === null) return;
    this.emit("raw", raw);
    const p = msg.params;
    switch (msg.command) {
      case "PING":
        this.send("PONG", ...(p.length ? [p[p.length - 1]] : []));
        return; // answered here; the page need not see it
      case "PONG":
        return;
      case "CAP":
        this.onCap(msg);
        break;
      case "001":
        this.registered = true;
        this.everRegistered = true;
        this.attempt = 0;
        this.capsDone = true;
        this.cancel("cap");
        if (p[0]) this.nick = p[0];
        this.emit("status", { state: "registered", nick: this.nick });
        this.emit("registered", { nick: this.nick, caps: new Set(this.caps) });
        if (this.rooms.size > 0) this.send("JOIN", Array.from(this.rooms.values()).join(","));
        this.armRegain();
        break;
      case "005":
        Object.assign(this.isupport, parseIsupport(p));
        break;
      case "421":
        // A server without CAP: it will register us anyway.
        if ((p[1] || "").toUpperCase() === "CAP") this.endCaps(false);
        break;
      case "432":
      case "433":
      case "436":
        if (!this.registered) {
          this.nickRejected(msg);
          return;
        }
        if (this.regaining && this.fold(p[1] || "") === this.fold(this.wantedNick)) {
          this.regaining = false; // still held: quietly try again later
          this.armRegain();
          return;
        }
        break;
      case "NICK":
        if (msg.source && this.isMe(msg.source.nick)) {
          this.nick = p[0];
          this.wantedNick = p[0]; // the name to ask for next time
          this.regaining = false;
          this.cancel("regain");
        }
        break;
      case "JOIN":
        if (msg.source && this.isMe(msg.source.nick) && p[0]) {
          this.rooms.set(this.fold(p[0]), p[0]);
          this.requestHistory("LATEST", p[0], "*", HISTORY_LINES);
        }
        break;
      case "PART":
        if (msg.source && this.isMe(msg.source.nick) && p[0]) this.rooms.delete(this.fold(p[0]));
        break;
      case "KICK":
        if (p[1] && this.isMe(p[1]) && p[0]) this.rooms.delete(this.fold(p[0]));
        break;
      case "NOTICE":
        this.onGreeting(msg);
        break;
      case "ERROR":
        this.emit("status", { state: "error", text: p[0] || "closed by the server" });
        break;
    }
    this.emit("message", msg);
  }

  // Whether the server answers CHATHISTORY here (draft/chathistory and batch enabled).
  get hasHistory() {
    return this.caps.has("draft/chathistory") && this.caps.has("batch");
  }

  // CHATHISTORY sub target ref limit, remembered until its batch (or FAIL) comes. False when
  // the server has no history for us or the connection is down.
  requestHistory(sub, target, ref, limit) {
    if (!this.hasHistory || !this.send("CHATHISTORY", sub, target, ref, String(limit))) return false;
    const k = this.fold(target);
    const q = this.historyAsked.get(k) || [];
    q.push({ sub, limit });
    this.historyAsked.set(k, q);
    return true;
  }

  // The oldest request for target not answered yet (null when none), now answered.
  takeHistoryRequest(target) {
    const k = this.fold(target);
    const q = this.historyAsked.get(k);
    if (!q || q.length === 0) return null;
    const r = q.shift();
    if (q.length === 0) this.historyAsked.delete(k);
    return r;
  }

  onCap(msg) {
    const p = msg.params; // [target, subcommand, ("*",) list]
    const sub = (p[1] || "").toUpperCase();
    const last = p[p.length - 1] || "";
    const more = p.length >= 4 && p[2] === "*";
    if (sub === "LS") {
      for (const tok of last.split(" ")) {
        if (tok === "") continue;
        const eq = tok.indexOf("=");
        this.offered.set(eq < 0 ? tok : tok.slice(0, eq), eq < 0 ? "" : tok.slice(eq + 1));
      }
      if (more || this.capsDone) return;
      // batch only serves chathistory here: without it, not asked for
      const want = WANTED_CAPS.filter(
        (c) => this.offered.has(c) && (c !== "batch" || this.offered.has("draft/chathistory")),
      );
      if (want.length === 0) this.endCaps();
      else this.send("CAP", "REQ", want.join(" "));
    } else if (sub === "ACK") {
      for (const tok of last.split(" ")) {
        if (tok.startsWith("-")) this.caps.delete(tok.slice(1));
        else if (tok !== "") this.caps.add(tok);
      }
      if (!more) this.endCaps();
    } else if (sub === "NAK") {
      if (!more) this.endCaps();
    } else if (sub === "NEW" || sub === "DEL") {
      // cap-notify: not requested, nothing to do.
    }
  }

  // uvchat joins IRC clients to no room, but its greeting (a server NOTICE after the MOTD)
  // says where the text users are: "... talk in #lobby; JOIN #lobby to meet them". The page
  // goes there once, on its first registration, when it is in no room yet; a reconnect
  // rejoins the rooms it was in instead.
  onGreeting(msg) {
    if (this.greeted || !this.registered || this.rooms.size > 0) return;
    if (msg.source && msg.source.raw.includes("!")) return; // from a person, not the server
    const m = /JOIN ([#&][^\s,]+) to meet them$/.exec(msg.params[msg.params.length - 1] || "");
    if (m === null) return;
    this.greeted = true;
    this.send("JOIN", m[1]);
  }

  // 432/433 before registration. The first time, the user chooses another nick (the page
  // asks); on a reconnect the page is already in use, so try nick_, nick__ ... quietly.
  nickRejected(msg) {
    if (!this.everRegistered || msg.command === "432") {
      this.emit("nickRejected", {
        nick: msg.params[1] || this.nick,
        code: msg.command,
        text: msg.params[msg.params.length - 1] || "",
      });
      if (!this.everRegistered) {
        this.stopped = true;
        this.closeSocket();
        this.emit("status", { state: "stopped" });
        return;
      }
    }
    const max = parseInt(this.isupport.NICKLEN, 10) || 32;
    let next = this.nick + "_";
    if (next.length > max) next = this.nick.slice(0, max - 1) + String(Math.floor(this.random() * 10));
    this.nick = next;
    this.send("NICK", next);
  }

  // Registered under another nick than the one asked for (nick_ after a reconnect, while
  // the old connection still held it): ask for it again every 30 s until it is free.
  armRegain() {
    if (this.fold(this.nick) === this.fold(this.wantedNick)) return;
    this.arm("regain", REGAIN_MS, () => {
      if (!this.registered || this.fold(this.nick) === this.fold(this.wantedNick)) return;
      this.regaining = true;
      this.send("NICK", this.wantedNick);
    });
  }

  // Ask for a new nick (before the first connection, the next connection's).
  setNick(nick) {
    this.wantedNick = nick;
    if (!this.ws) this.nick = nick;
  }
}
