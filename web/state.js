// state.js: what the page shows, as data. Buffers (the server, each room, each private
// conversation) with their lines, unread counts, topics and members, the list of rooms on
// the server, and the commands people type. It listens to an IrcClient and tells the page
// what changed through on("change", fn(what, buffer, extra)); it never touches the DOM, so
// Node's tests drive it too.
//
// Older history: loadOlder(key) asks CHATHISTORY BEFORE the oldest message shown (msgid=, or
// timestamp= without one) for OLDER_LINES more; the answer goes above every line, without
// the lines already shown (by msgid), and announced as "older" (b, {lines, before}). Each
// buffer's b.older says where that stands: "idle" (more may exist), "loading" (one request
// in flight: never two), "done" (the server sent fewer than asked: the start of history),
// "none" (the server keeps nothing here for us), "full" (MAX_LINES on the page); changes
// are announced as "older-state" (b).

import { splitText, parsePrefix } from "./irc.js";
import { parseCtcp, mentions, plain } from "./format.js";

export const SERVER_KEY = "\u0000server";
const MAX_LINES = 1000;
export const OLDER_LINES = 50;
// Room for the text of a PRIVMSG: 512 bytes less CRLF, the command, the target and the
// prefix the server puts in front (":nick!~user@host "), with some margin.
const TEXT_BYTES = 380;

let nextLineId = 1;

export class ChatState {
  constructor(client, opts = {}) {
    this.client = client;
    this.now = opts.now || (() => new Date());
    this.handlers = [];
    this.buffers = new Map();
    this.activeKey = SERVER_KEY;
    this.visible = true; // the page is on screen (document.visibilityState)
    this.roomList = null; // [{name, users, topic}] from the last LIST
    this.pendingList = null;
    this.wantActive = null; // fold(room) the user asked to join: shown when joined
    this.connected = false;
    this.batches = new Map(); // open BATCH id -> { type, target } (chathistory answers)
    this.ensure(SERVER_KEY, "Server", "server");
    client.on("message", (m) => this.onMessage(m));
    client.on("registered", (r) => this.onRegistered(r));
    client.on("disconnected", (d) => this.onDisconnected(d));
    client.on("status", (s) => this.onStatus(s));
  }

  on(fn) {
    this.handlers.push(fn);
  }

  emit(what, buffer, extra) {
    for (const fn of this.handlers) fn(what, buffer, extra);
  }

  key(name) {
    return this.client.fold(name);
  }

  get active() {
    return this.buffers.get(this.activeKey);
  }

  get(name) {
    return this.buffers.get(this.key(name));
  }

  ensure(key, name, kind) {
    let b = this.buffers.get(key);
    if (!b) {
      b = {
        key,
        name,
        kind, // "server" | "room" | "query"
        lines: [],
        unread: 0,
        highlight: false,
        topic: "",
        topicBy: "",
        members: new Map(), // fold(nick) -> {nick, prefix}
        namesPending: null,
        joined: false,
        older: "idle",
      };
      this.buffers.set(key, b);
      this.emit("buffers");
    }
    return b;
  }

  room(name) {
    return this.ensure(this.key(name), name, "room");
  }

  query(nick) {
    const b = this.ensure(this.key(nick), nick, "query");
    return b;
  }

  setActive(key) {
    const b = this.buffers.get(key);
    if (!b) return;
    this.activeKey = key;
    b.unread = 0;
    b.highlight = false;
    this.emit("active", b);
    this.emit("buffers");
  }

  setVisible(v) {
    this.visible = v;
    if (v && this.active) {
      this.active.unread = 0;
      this.active.highlight = false;
      this.emit("buffers");
    }
  }

  close(key) {
    const b = this.buffers.get(key);
    if (!b || b.kind === "server") return;
    if (b.kind === "room" && b.joined) {
      b.closing = true;
      this.client.send("PART", b.name);
      return;
    }
    this.remove(key);
  }

  remove(key) {
    this.buffers.delete(key);
    if (this.activeKey === key) {
      const rooms = Array.from(this.buffers.values()).filter((x) => x.kind === "room");
      this.activeKey = rooms.length ? rooms[0].key : SERVER_KEY;
      this.emit("active", this.active);
    }
    this.emit("buffers");
  }

  // A line into a buffer. opts.notify: counts as unread when the buffer is not in view;
  // opts.highlight: and marks it (a mention, a private message).
  add(b, type, nick, text, opts = {}) {
    const line = {
      id: nextLineId++,
      time: opts.time || this.now(),
      type,
      nick: nick || "",
      text: text || "",
      self: !!opts.self,
      mention: !!opts.highlight && b.kind === "room",
      msgid: opts.msgid || "",
      serverTime: !!opts.serverTime, // the time came from the server (a timestamp= reference)
    };
    if (opts.past && line.msgid && b.lines.some((l) => l.msgid === line.msgid)) return null; // shown already
    if (this.collect && this.collect.buffer === b) {
      // an older message: put above the others when its batch ends
      this.collect.collected.push(line);
      return line;
    }
    b.lines.push(line);
    if (b.lines.length > MAX_LINES) b.lines.splice(0, b.lines.length - MAX_LINES);
    const inView = b.key === this.activeKey && this.visible;
    if (opts.notify && !inView && !line.self) {
      b.unread++;
      if (opts.highlight) b.highlight = true;
      this.emit("buffers");
    }
    this.emit("line", b, line);
    return line;
  }

  info(text, b = this.active) {
    return this.add(b || this.buffers.get(SERVER_KEY), "info", "", text);
  }

  error(text, b = this.active) {
    return this.add(b || this.buffers.get(SERVER_KEY), "error", "", text);
  }

  // ---- from the client ------------------------------------------------------------------

  onStatus(s) {
    this.emit("status", null, s);
  }

  onRegistered(r) {
    const first = !this.connected && !this.everConnected;
    this.connected = true;
    this.everConnected = true;
    const server = this.buffers.get(SERVER_KEY);
    const caps = Array.from(r.caps);
    this.add(server, "info", "", first
      ? `Connected as ${r.nick}` + (caps.length ? ` (capabilities: ${caps.join(", ")})` : "")
      : `Reconnected as ${r.nick}`);
    if (!first) for (const b of this.buffers.values()) if (b.kind !== "server") this.info("Reconnected", b);
    this.emit("nick", null, r.nick);
  }

  onDisconnected(d) {
    if (!this.connected) return;
    this.connected = false;
    this.batches.clear();
    for (const b of this.buffers.values()) {
      if (b.older === "loading") this.setOlder(b, "idle");
      if (b.kind === "room") {
        b.joined = false;
        b.members.clear();
        this.emit("members", b);
      }
      this.error("Disconnected from the server" + (d && d.reason ? ` (${d.reason})` : ""), b);
    }
    this.emit("buffers");
  }

  time(m) {
    const t = m.tags && m.tags.time;
    if (t) {
      const d = new Date(t);
      if (!Number.isNaN(d.getTime())) return d;
    }
    return this.now();
  }

  // Whether m is part of a CHATHISTORY answer: a past line, shown but never counted unread
  // and never changing the room's state (its topic).
  past(m) {
    const id = m.tags && m.tags.batch;
    const batch = id ? this.batches.get(id) : null;
    return !!batch && batch.type === "chathistory";
  }

  // BATCH +id chathistory TARGET ... BATCH -id: the answer to the oldest CHATHISTORY request
  // for TARGET. The last messages (LATEST, on joining) are shown between markers; older ones
  // (BEFORE) are collected and inserted above the oldest line shown.
  onBatch(m) {
    const ref = m.params[0] || "";
    const id = ref.slice(1);
    if (ref.startsWith("+")) {
      const batch = { type: m.params[1] || "", target: m.params[2] || "", count: 0, collected: [] };
      this.batches.set(id, batch);
      if (batch.type !== "chathistory") return;
      batch.req = this.client.takeHistoryRequest(batch.target);
      const isRoom = this.client.isChannel(batch.target);
      batch.buffer = isRoom ? this.room(batch.target) : this.get(batch.target);
      batch.older = !!batch.req && batch.req.sub === "BEFORE" && !!batch.buffer;
      if (isRoom && !batch.older) this.add(batch.buffer, "info", "", "Earlier messages:", { time: this.time(m) });
    } else if (ref.startsWith("-")) {
      const batch = this.batches.get(id);
      this.batches.delete(id);
      if (!batch || batch.type !== "chathistory") return;
      const b = batch.buffer;
      if (batch.older) batch.added = this.insertOlder(b, batch.collected);
      else if (this.client.isChannel(batch.target)) this.add(b, "info", "", "End of earlier messages", { time: this.now() });
      if (!b || !batch.req) return;
      if (batch.count < batch.req.limit) this.setOlder(b, "done");
      else if (batch.older && batch.added === 0) this.setOlder(b, "done"); // nothing new: no end of asking
      else if (b.older === "loading") this.setOlder(b, b.lines.length >= MAX_LINES ? "full" : "idle");
      else this.emit("older-state", b); // the last messages came: older ones may be asked for
    }
  }

  setOlder(b, st) {
    if (b.older === st) return;
    b.older = st;
    this.emit("older-state", b);
  }

  // How to refer to the oldest message shown: its msgid, else the server's time of the
  // oldest line that has one, else now.
  oldestRef(b) {
    let l = b.lines.find((x) => x.msgid);
    if (l) return "msgid=" + l.msgid;
    l = b.lines.find((x) => x.serverTime);
    return "timestamp=" + (l ? l.time : this.now()).toISOString();
  }

  // Whether loadOlder(b) would ask: history on, nothing asked for b and not answered yet
  // (its last messages on joining included), and more may exist.
  canLoadOlder(b) {
    const c = this.client;
    if (!b || b.kind === "server" || !this.connected || !c.hasHistory || b.older !== "idle") return false;
    if (b.kind === "room" && !b.joined) return false;
    const asked = c.historyAsked.get(b.key);
    return !asked || asked.length === 0;
  }

  // Ask for the messages before the oldest one shown in b (the one in view by default).
  loadOlder(key = this.activeKey) {
    const b = this.buffers.get(key);
    if (!this.canLoadOlder(b)) return false;
    if (!this.client.requestHistory("BEFORE", b.name, this.oldestRef(b), OLDER_LINES)) return false;
    this.setOlder(b, "loading");
    return true;
  }

  // Older lines (oldest first) above all the others, without those shown already; no more
  // than MAX_LINES in all (the newest of them kept).
  insertOlder(b, lines) {
    const seen = new Set(b.lines.map((l) => l.msgid).filter(Boolean));
    let fresh = lines.filter((l) => {
      if (!l.msgid) return true;
      if (seen.has(l.msgid)) return false;
      seen.add(l.msgid);
      return true;
    });
    const room = Math.max(0, MAX_LINES - b.lines.length);
    if (fresh.length > room) fresh = room ? fresh.slice(-room) : [];
    if (fresh.length === 0) return 0;
    const before = b.lines[0] || null;
    b.lines.unshift(...fresh);
    this.emit("older", b, { lines: fresh, before });
    return fresh.length;
  }

  // FAIL CHATHISTORY CODE SUB [TARGET] :why: the request it answers gets no batch.
  onFail(m) {
    const p = m.params;
    if ((p[0] || "").toUpperCase() !== "CHATHISTORY") return;
    const targeted = p.length >= 5 ? p[3] : null; // INVALID_TARGET, MESSAGE_ERROR
    for (const b of this.buffers.values()) {
      if (targeted !== null ? b.key !== this.key(targeted) : b.older !== "loading") continue;
      this.client.takeHistoryRequest(b.name);
      this.setOlder(b, "none");
    }
  }

  onMessage(m) {
    const id = m.tags && m.tags.batch;
    const batch = id ? this.batches.get(id) : null;
    if (batch && batch.type === "chathistory") batch.count++;
    this.collect = batch && batch.older ? batch : null;
    try {
      this.handle(m);
    } finally {
      this.collect = null;
    }
  }

  handle(m) {
    const c = this.client;
    const p = m.params;
    const from = m.source ? m.source.nick : "";
    const time = this.time(m);
    const server = this.buffers.get(SERVER_KEY);
    const past = this.past(m);
    const msgid = (m.tags && m.tags.msgid) || "";
    const serverTime = !!(m.tags && m.tags.time);
    switch (m.command) {
      case "BATCH":
        this.onBatch(m);
        return;
      case "FAIL":
        this.onFail(m);
        return;
      case "PRIVMSG":
      case "NOTICE": {
        const target = p[0] || "";
        const text = p[1] || "";
        const self = c.isMe(from);
        const isServer = !m.source || !m.source.raw.includes("!");
        let b;
        if (c.isChannel(target)) b = this.room(target);
        else if (isServer || target === "*") b = server;
        else b = this.query(self ? target : from);
        const ctcp = parseCtcp(text);
        let type = m.command === "NOTICE" ? "notice" : "privmsg";
        let body = text;
        if (ctcp) {
          if (ctcp.command !== "ACTION") {
            // CTCP requests and replies: shown as what they are, never answered.
            if (!self) this.add(b, "info", "", `${from} sent CTCP ${ctcp.command}` + (ctcp.text ? ` ${plain(ctcp.text)}` : ""), { time });
            return;
          }
          type = "action";
          body = ctcp.text;
        }
        const highlight = !past && !self && (b.kind === "query" || mentions(body, c.nick));
        this.add(b, type, from || (m.source ? m.source.raw : ""), body, { time, self, notify: !past, highlight, past, msgid, serverTime });
        return;
      }
      case "JOIN": {
        const b = this.room(p[0]);
        if (c.isMe(from)) {
          b.joined = true;
          b.closing = false;
          b.members.clear();
          this.add(b, "join", from, `You joined ${b.name}`, { time, self: true });
          if (this.wantActive === b.key || this.activeKey === SERVER_KEY) {
            this.wantActive = null;
            this.setActive(b.key);
          }
          this.emit("buffers");
        } else {
          b.members.set(this.key(from), { nick: from, prefix: "" });
          this.add(b, "join", from, `${from} joined`, { time });
        }
        this.emit("members", b);
        return;
      }
      case "PART": {
        const b = this.get(p[0]);
        if (!b) return;
        if (c.isMe(from)) {
          b.joined = false;
          b.members.clear();
          if (b.closing) {
            this.remove(b.key);
            return;
          }
          this.add(b, "part", from, `You left ${b.name}`, { time, self: true });
          this.emit("buffers");
        } else {
          b.members.delete(this.key(from));
          this.add(b, "part", from, `${from} left` + (p[1] ? ` (${plain(p[1])})` : ""), { time });
        }
        this.emit("members", b);
        return;
      }
      case "KICK": {
        const b = this.get(p[0]);
        if (!b) return;
        const who = p[1] || "";
        const reason = p[2] ? ` (${plain(p[2])})` : "";
        if (c.isMe(who)) {
          b.joined = false;
          b.members.clear();
          this.add(b, "kick", from, `${from} removed you from ${b.name}${reason}`, { time, notify: true, highlight: true });
          this.emit("buffers");
        } else {
          b.members.delete(this.key(who));
          this.add(b, "kick", from, `${from} removed ${who}${reason}`, { time });
        }
        this.emit("members", b);
        return;
      }
      case "QUIT": {
        const k = this.key(from);
        for (const b of this.buffers.values()) {
          if (b.members.delete(k) || (b.kind === "query" && b.key === k)) {
            this.add(b, "quit", from, `${from} quit` + (p[0] ? ` (${plain(p[0])})` : ""), { time });
            this.emit("members", b);
          }
        }
        return;
      }
      case "NICK": {
        const to = p[0] || "";
        const k = this.key(from);
        const self = c.isMe(to); // the client has already taken its new nick
        for (const b of Array.from(this.buffers.values())) {
          const m0 = b.members.get(k);
          if (m0) {
            b.members.delete(k);
            b.members.set(this.key(to), { nick: to, prefix: m0.prefix });
            this.add(b, "nick", from, self ? `You are now known as ${to}` : `${from} is now known as ${to}`, { time });
            this.emit("members", b);
          }
          if (b.kind === "query" && b.key === k && !this.buffers.has(this.key(to))) {
            this.buffers.delete(k);
            b.key = this.key(to);
            b.name = to;
            this.buffers.set(b.key, b);
            if (this.activeKey === k) this.activeKey = b.key;
            this.add(b, "nick", from, `${from} is now known as ${to}`, { time });
            this.emit("buffers");
            this.emit("active", this.active);
          }
        }
        if (self) {
          this.add(server, "nick", from, `You are now known as ${to}`, { time });
          this.emit("nick", null, to);
        }
        return;
      }
      case "TOPIC": {
        const b = this.room(p[0]);
        const topic = p[1] || "";
        this.add(b, "topic", from, topic ? `${from} set the topic: ${topic}` : `${from} cleared the topic`, { time, past, msgid, serverTime });
        if (past) return; // an old topic: the room's is the one 332 gave
        b.topic = topic;
        b.topicBy = from;
        this.emit("topic", b);
        return;
      }
      case "MODE":
        this.onMode(m, from, time);
        return;
      case "ERROR":
        this.add(server, "error", "", p[0] || "The server closed the connection", { time });
        return;
    }
    if (/^[0-9]{3}$/.test(m.command)) this.onNumeric(m, time);
  }

  onMode(m, from, time) {
    const p = m.params;
    const b = this.get(p[0] || "");
    if (!b || b.kind !== "room") return;
    const prefixes = parsePrefix(this.client.isupport.PREFIX);
    const chanmodes = (this.client.isupport.CHANMODES || ",,,").split(",");
    let sign = "+", arg = 2;
    for (const ch of p[1] || "") {
      if (ch === "+" || ch === "-") {
        sign = ch;
        continue;
      }
      const pm = prefixes.find(([mode]) => mode === ch);
      if (pm) {
        const nick = p[arg++];
        const mem = nick && b.members.get(this.key(nick));
        if (mem) {
          const order = prefixes.map(([, s]) => s);
          let set = new Set(mem.prefix);
          if (sign === "+") set.add(pm[1]);
          else set.delete(pm[1]);
          mem.prefix = order.filter((s) => set.has(s)).join("");
        }
      } else if ((chanmodes[0] || "").includes(ch) || (chanmodes[1] || "").includes(ch)) {
        arg++;
      } else if ((chanmodes[2] || "").includes(ch) && sign === "+") {
        arg++;
      }
    }
    this.add(b, "mode", from, `${from} set mode ${p.slice(1).join(" ")}`, { time });
    this.emit("members", b);
  }

  onNumeric(m, time) {
    const p = m.params;
    const n = parseInt(m.command, 10);
    const server = this.buffers.get(SERVER_KEY);
    const rest = p.slice(1);
    const text = rest[rest.length - 1] || "";
    switch (n) {
      case 1: case 2: case 3: case 4: case 5:
      case 251: case 252: case 253: case 254: case 255: case 265: case 266:
        if (n !== 4 && n !== 5) this.add(server, "info", "", text, { time });
        return;
      case 375: case 372: case 376:
        this.add(server, "motd", "", text, { time });
        return;
      case 422:
        return; // no MOTD: nothing worth saying
      case 331: {
        const b = this.get(p[1] || "");
        if (b) {
          b.topic = "";
          this.emit("topic", b);
          this.info("No topic is set", b);
        }
        return;
      }
      case 332: {
        const b = this.room(p[1] || "");
        b.topic = p[2] || "";
        this.emit("topic", b);
        this.add(b, "topic", "", `Topic: ${b.topic}`, { time });
        return;
      }
      case 333: {
        const b = this.get(p[1] || "");
        if (b) {
          b.topicBy = p[2] || "";
          const when = new Date(parseInt(p[3], 10) * 1000);
          this.add(b, "topic", "", `Set by ${b.topicBy}` + (Number.isNaN(when.getTime()) ? "" : ` on ${when.toLocaleString()}`), { time });
        }
        return;
      }
      case 353: {
        // [me, "=", room, "names"]
        const b = this.get(p[2] || "");
        const names = (p[3] || "").split(" ").filter((x) => x !== "");
        if (!b || !b.joined) {
          this.info(`In ${p[2]}: ${names.join(" ")}`);
          return;
        }
        if (!b.namesPending) b.namesPending = new Map();
        const symbols = parsePrefix(this.client.isupport.PREFIX).map(([, s]) => s).join("");
        for (let name of names) {
          let i = 0;
          while (i < name.length && symbols.includes(name[i])) i++;
          const prefix = name.slice(0, i);
          let nick = name.slice(i);
          const bang = nick.indexOf("!");
          if (bang >= 0) nick = nick.slice(0, bang);
          b.namesPending.set(this.key(nick), { nick, prefix });
        }
        return;
      }
      case 366: {
        const b = this.get(p[1] || "");
        if (b && b.namesPending) {
          b.members = b.namesPending;
          b.namesPending = null;
          this.emit("members", b);
        }
        return;
      }
      case 321:
        this.pendingList = [];
        return;
      case 322:
        if (!this.pendingList) this.pendingList = [];
        this.pendingList.push({ name: p[1] || "", users: parseInt(p[2], 10) || 0, topic: p[3] || "" });
        return;
      case 323:
        this.roomList = (this.pendingList || []).sort((a, b) => b.users - a.users || (a.name < b.name ? -1 : 1));
        this.pendingList = null;
        this.emit("roomlist");
        return;
      case 352: {
        // [me, room, user, host, server, nick, flags, "hops realname"]
        const real = (p[7] || "").replace(/^\d+ /, "");
        this.info(`${p[5]} (${p[2]}@${p[3]}) ${p[6]}` + (real ? ` ${real}` : "") + (p[1] && p[1] !== "*" ? ` in ${p[1]}` : ""));
        return;
      }
      case 315:
        this.info("End of the list");
        return;
      case 301: {
        const b = this.get(p[1] || "") || this.active;
        this.info(`${p[1]} is away: ${p[2] || ""}`, b);
        return;
      }
      case 305: case 306:
        this.info(text);
        return;
      case 311: case 312: case 313: case 317: case 318: case 319: case 320: case 330: case 338:
        this.info(rest.join(" ").replace(/ :/, " "));
        return;
      case 432: case 433: case 436:
        this.error(`${p[1] || ""}: ${text}`);
        return;
      case 900: case 901: case 903:
        this.add(server, "info", "", text, { time });
        return;
    }
    if (n >= 400 && n < 600) {
      // An error: in the buffer it names, or the one in view.
      const named = rest.length >= 2 ? this.get(rest[0]) : null;
      const what = rest.length >= 2 ? `${rest.slice(0, -1).join(" ")}: ${text}` : text;
      this.error(what, named || this.active);
      return;
    }
    this.add(server, "info", "", rest.join(" "), { time });
  }

  // ---- from the person at the keyboard ---------------------------------------------------

  // Send text to a room or person, in as many lines as it needs; shown at once unless the
  // server echoes it (echo-message).
  say(target, text, type = "privmsg") {
    const c = this.client;
    const b = c.isChannel(target) ? this.room(target) : this.query(target);
    const pieces = splitText(text, TEXT_BYTES);
    for (const piece of pieces) {
      let line = piece;
      if (type === "action") line = "\x01ACTION " + piece + "\x01";
      const ok = c.send(type === "notice" ? "NOTICE" : "PRIVMSG", target, line);
      if (!ok) {
        this.error("Not connected: the message was not sent", b);
        return false;
      }
      if (!c.caps.has("echo-message")) this.add(b, type, c.nick, piece, { self: true });
    }
    return true;
  }

  join(name) {
    if (!this.client.isChannel(name)) name = "#" + name;
    this.wantActive = this.key(name);
    const b = this.get(name);
    if (b && b.joined) {
      this.setActive(b.key);
      return;
    }
    if (!this.client.send("JOIN", name)) this.error("Not connected");
  }

  list() {
    this.client.send("LIST");
  }

  // One line from the message box, in the buffer in view. Returns nothing; errors are shown
  // in the buffer.
  input(text) {
    const b = this.active;
    if (text.trim() === "") return;
    if (!text.startsWith("/") || text.startsWith("//")) {
      if (text.startsWith("//")) text = text.slice(1);
      if (b.kind === "server") {
        this.error("This is the server's window: join a room or open a conversation to talk (/help)", b);
        return;
      }
      this.say(b.name, text);
      return;
    }
    const sp = text.indexOf(" ");
    const cmd = (sp < 0 ? text.slice(1) : text.slice(1, sp)).toLowerCase();
    const args = sp < 0 ? "" : text.slice(sp + 1).trim();
    const word = (s) => {
      const i = s.indexOf(" ");
      return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
    };
    const c = this.client;
    const needRoomOrQuery = () => {
      if (b.kind === "server") {
        this.error(`/${cmd} works in a room or a conversation`, b);
        return false;
      }
      return true;
    };
    switch (cmd) {
      case "me":
        if (needRoomOrQuery() && args) this.say(b.name, args, "action");
        return;
      case "msg":
      case "query": {
        const [nick, rest] = word(args);
        if (!nick) return this.usage("/msg NICK TEXT");
        if (c.isChannel(nick)) {
          if (rest) this.say(nick, rest);
          return;
        }
        const q = this.query(nick);
        this.setActive(q.key);
        if (rest) this.say(nick, rest);
        return;
      }
      case "notice": {
        const [target, rest] = word(args);
        if (!target || !rest) return this.usage("/notice TARGET TEXT");
        this.say(target, rest, "notice");
        return;
      }
      case "join":
      case "j":
        if (!args) return this.usage("/join #ROOM");
        for (const r of args.split(/[ ,]+/)) if (r) this.join(r);
        return;
      case "part":
      case "leave": {
        let room = b.kind === "room" ? b.name : "";
        let reason = args;
        if (args && c.isChannel(args)) [room, reason] = word(args);
        if (!room) return this.error("/part works in a room (or: /part #ROOM)", b);
        if (reason) c.send("PART", room, reason);
        else c.send("PART", room);
        return;
      }
      case "close":
        this.close(b.key);
        return;
      case "topic":
        if (b.kind !== "room") return this.error("/topic works in a room", b);
        if (args) c.send("TOPIC", b.name, args);
        else c.send("TOPIC", b.name);
        return;
      case "nick":
        if (!args || args.includes(" ")) return this.usage("/nick NAME");
        c.send("NICK", args);
        return;
      case "names":
        if (b.kind !== "room" && !args) return this.error("/names works in a room (or: /names #ROOM)", b);
        c.send("NAMES", args || b.name);
        return;
      case "who":
        if (b.kind !== "room" && !args) return this.usage("/who #ROOM or /who NICK");
        c.send("WHO", args || b.name);
        return;
      case "whois":
        if (!args) return this.usage("/whois NICK");
        c.send("WHOIS", word(args)[0]);
        return;
      case "list":
        this.list();
        this.info("Asking for the list of rooms (in the side panel)");
        return;
      case "away":
        if (args) c.send("AWAY", args);
        else c.send("AWAY");
        return;
      case "back":
        c.send("AWAY");
        return;
      case "quote":
      case "raw":
        if (!args) return this.usage("/quote IRC LINE");
        if (!c.sendRaw(args)) this.error("Not connected");
        return;
      case "clear":
        b.lines = [];
        if (b.older === "idle") this.setOlder(b, "done"); // cleared: not to be filled again
        this.emit("active", b);
        return;
      case "help":
        for (const h of HELP) this.info(h, b);
        return;
      default:
        this.error(`Unknown command /${cmd} (/help lists them; //TEXT sends a line starting with /)`, b);
    }
  }

  usage(u) {
    this.error("Usage: " + u);
  }
}

const HELP = [
  "Commands:",
  "/join #ROOM: join a room (it is made if new)  /part [REASON]: leave this room",
  "/msg NICK [TEXT]: a private conversation  /me ACTION: say what you do",
  "/topic [TEXT]: show or set the topic  /names, /who: who is here  /list: all rooms",
  "/nick NAME: change your name  /away [TEXT], /back  /whois NICK",
  "/notice TARGET TEXT  /quote LINE: send an IRC line as it is  /clear  /close",
  "//TEXT sends a line that starts with /",
];
